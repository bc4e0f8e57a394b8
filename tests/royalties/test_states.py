"""A run is readable in every state it can be in, through the API and the admin.

Queued (waiting for the worker), running, failed early (before the streaming log was read: no
row counts), failed late (counts known) and succeeded. One unreadable run used to make the
whole list answer 500.
"""

from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from royalties.models import Run
from royalties.services import run_create
from tests.royalties.admin_pages import links_of, run_page, text_of
from tests.royalties.factories import STREAMS, STREAMS_HEADER, TRACKS, USERS, consolidate, write

pytestmark = pytest.mark.django_db


def _queued() -> Run:
    return run_create(streams_path=str(STREAMS), users_path=str(USERS), tracks_path=str(TRACKS))


def _running() -> Run:
    run = _queued()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, started_at=timezone.now())
    return Run.objects.get(pk=run.pk)


def _unused_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_port
    server.server_close()
    return f"http://127.0.0.1:{port}/tracks"


def _failed_early(tmp_path, settings) -> dict[str, Run]:
    settings.ROYALTIES_METADATA_RETRIES = 0
    settings.ROYALTIES_METADATA_BACKOFF_SECONDS = Decimal("0")
    empty = write(tmp_path / "empty.csv", "")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(f"{STREAMS_HEADER}\n2024-01-01;1;FR;t;10\n".encode() + b"caf\xe9;\xff\n")
    piped = write(tmp_path / "piped.csv", "date|user_id|region|track id|seconds\n2024|1|FR|t|1\n")
    bad_meta = write(tmp_path / "tracks.json", '{"not": "a list"')
    return {
        "empty streaming log": consolidate(streams=empty, users=USERS, tracks=TRACKS),
        "empty users file": consolidate(streams=STREAMS, users=empty, tracks=TRACKS),
        "non-UTF-8 log": consolidate(streams=latin1, users=USERS, tracks=TRACKS),
        "|-delimited log": consolidate(streams=piped, users=USERS, tracks=TRACKS),
        "malformed metadata": consolidate(streams=STREAMS, users=USERS, tracks=bad_meta),
        "metadata URL down": consolidate(streams=STREAMS, users=USERS, tracks_url=_unused_url()),
    }


@pytest.fixture
def runs(tmp_path, settings) -> dict[str, Run]:
    runs = {"queued": _queued(), "running": _running()}
    runs.update(_failed_early(tmp_path, settings))
    bad_rows = write(tmp_path / "bad.csv", f"{STREAMS_HEADER}\n2024-01-01;1;FR;t;x\n")
    runs["failed late"] = consolidate(streams=bad_rows, users=USERS, tracks=TRACKS)
    runs["succeeded"] = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    return runs


def test_the_fixture_covers_every_state(runs):
    statuses = {name: run.status for name, run in runs.items()}
    assert statuses["queued"] == Run.Status.QUEUED
    assert statuses["running"] == Run.Status.RUNNING
    assert statuses["succeeded"] == Run.Status.SUCCEEDED
    failed = {name for name, status in statuses.items() if status == Run.Status.FAILED}
    assert failed == set(runs) - {"queued", "running", "succeeded"}
    assert runs["failed late"].rows == {"read": 1, "loaded": 0, "rejected": 1}
    assert runs["empty streaming log"].rows == {}


def test_api_reads_every_run_in_every_state(operator_client, runs):
    for name, run in runs.items():
        response = operator_client.get(f"/api/royalties/runs/{run.pk}")
        assert response.status_code == 200, name
        body = response.json()
        assert (body["id"], body["status"]) == (run.pk, run.status), name
        expected_rows = run.rows if set(run.rows) == {"read", "loaded", "rejected"} else None
        assert body["rows"] == expected_rows, name
        assert body["unattributed"] is None or run.status == Run.Status.SUCCEEDED, name
        if run.status == Run.Status.FAILED:
            assert body["error"], name


def test_api_list_holds_every_run_in_every_state(operator_client, runs):
    response = operator_client.get("/api/royalties/runs")
    assert response.status_code == 200
    listed = {item["id"]: item["status"] for item in response.json()["results"]}
    assert listed == {run.pk: run.status for run in runs.values()}


def test_admin_reads_every_run_in_every_state(admin_client, runs):
    changelist = admin_client.get(reverse("admin:royalties_run_changelist"))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == len(runs)
    for name, run in runs.items():
        page = run_page(admin_client, run.pk)
        assert text_of(page, "run-state").startswith(f"Run {run.pk}: {run.status} "), name
        assert ('id="run-error"' in page) is (run.status == Run.Status.FAILED), name
        if run.status == Run.Status.FAILED:
            assert text_of(page, "run-error") == run.error, name
        assert ('id="payout"' in page) is (run.status == Run.Status.SUCCEEDED), name
        assert ('id="run-rejected"' in page) is bool(run.errors), name
        links = links_of(page, "run-links") if 'id="run-links"' in page else []
        assert bool(links) is (run.status == Run.Status.SUCCEEDED), name
        for url, title in links:
            assert admin_client.get(url).context["cl"].result_count > 0, (name, title)
