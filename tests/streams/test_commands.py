"""manage.py import_viewers."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from streams.models import Viewer
from tests.streams.factories import ViewerFactory

pytestmark = pytest.mark.django_db


def _import(tmp_path, text: str | bytes) -> tuple[str, str]:
    path = tmp_path / "viewers.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_viewers", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _limits() -> dict[str, int | None]:
    return dict(Viewer.objects.values_list("user_id", "max_streams"))


def test_creates_and_updates(tmp_path):
    ViewerFactory(user_id="bob", max_streams=1)
    out, err = _import(tmp_path, "user_id,max_streams\nalice,4\nbob,\ncarol,2\n")
    assert out == "viewers imported: 2 created, 1 updated, 0 line(s) rejected\n"
    assert err == ""
    assert _limits() == {"alice": 4, "bob": None, "carol": 2}


def test_reports_rejected_lines_and_imports_the_rest(tmp_path):
    text = (
        "user_id,max_streams\r\n"
        "alice,3\r\n"
        ",2\r\n"
        "bob,zero\r\n"
        "carol,0\r\n"
        "dave,101\r\n"
        "erin,2,extra\r\n"
        "\r\n"
        "alice,5\r\n"
        "frank, 7 \r\n"
    ) + ("g" * 256 + ",1\r\nh\x00,1\r\n")
    out, err = _import(tmp_path, text)
    assert out == "viewers imported: 2 created, 0 updated, 8 line(s) rejected\n"
    assert err.splitlines() == [
        "line 3: rejected: user_id is empty",
        "line 4: rejected: max_streams 'zero' is not a whole number",
        "line 5: rejected: max_streams 0 is not in 1..100",
        "line 6: rejected: max_streams 101 is not in 1..100",
        "line 7: rejected: 3 field(s), expected 2",
        "line 9: rejected: user_id 'alice' already given on line 2",
        "line 11: rejected: user_id is longer than 255 characters",
        "line 12: rejected: user_id contains a NUL character",
    ]
    assert _limits() == {"alice": 3, "frank": 7}


def test_without_limit_column_creates_missing_and_keeps_existing_limits(tmp_path):
    ViewerFactory(user_id="bob", max_streams=1)
    out, _ = _import(tmp_path, "\ufeffUser_ID\nalice\nbob\n")
    assert out == "viewers imported: 1 created, 0 updated, 0 line(s) rejected\n"
    assert _limits() == {"alice": None, "bob": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty (expected the header user_id,max_streams)"),
        ("id,limit\n1,2\n", "the header has no user_id column"),
        ("user_id,max_streams,notes\na,1,x\n", "unexpected header"),
        (b"user_id\n\xff\xfe\n", "not UTF-8 text"),
    ],
)
def test_unusable_file_fails(tmp_path, content, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _import(tmp_path, content)
    assert Viewer.objects.count() == 0


def test_missing_file_fails(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_viewers", str(tmp_path / "nope.csv"))
