"""manage.py admin_screenshots: real PNGs of the admin pages from a server it starts itself."""

import io
import struct

import pytest
from django.core.management import CommandError, call_command

from core.browser import browser_unavailable_reason
from core.demo import demo_operator_ensure


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.django_db
def test_refuses_without_a_superuser(tmp_path):
    reason = browser_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with pytest.raises(CommandError, match="no active superuser 'nobody'"):
        call_command("admin_screenshots", "--username", "nobody", "--output", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_writes_one_png_per_page_from_its_own_server(tmp_path, monkeypatch, test_database_url):
    reason = browser_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    demo_operator_ensure(stdout=io.StringIO())
    monkeypatch.setenv("DATABASE_URL", test_database_url)  # the server it starts reads it
    out = io.StringIO()

    call_command(
        "admin_screenshots", "--pages", "index", "streams:app",
        "--output", str(tmp_path), stdout=out, stderr=io.StringIO(),
    )  # fmt: skip

    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["index.png", "streams--app.png"]
    for name in files:
        assert png_size((tmp_path / name).read_bytes()) == (1366, 900)
    assert out.getvalue().splitlines()[-1] == f"2 screenshots in {tmp_path}"
