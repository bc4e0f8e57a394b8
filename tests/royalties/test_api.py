"""The operator API: submitting runs, reading them, the report (JSON and CSV), users."""

import pytest
from django_q.models import OrmQ

from royalties.models import Run
from royalties.tasks import run_execute_task
from tests.royalties.factories import (
    STREAMS,
    TRACKS,
    TRACKS_AS_PUBLISHED,
    USERS,
    RunFactory,
    consolidate,
)

pytestmark = pytest.mark.django_db

REPORT_LABELS = [
    {
        "label": "label 1",
        "tracks": 5,
        "streams": 42,
        "seconds": 632938,
        "share": "0.40647208",
        "amount": "72.73",
    },
    {
        "label": "label 2",
        "tracks": 5,
        "streams": 8,
        "seconds": 286270,
        "share": "0.18384228",
        "amount": "32.90",
    },
    {
        "label": "label 3",
        "tracks": 5,
        "streams": 26,
        "seconds": 637942,
        "share": "0.40968564",
        "amount": "73.31",
    },
]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _files(tracks=TRACKS):
    return {
        "streams": STREAMS.open("rb"),
        "users": USERS.open("rb"),
        "tracks": tracks.open("rb"),
    }


def test_submit_a_run_enqueues_it_and_the_worker_consolidates_it(
    operator_client, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/api/royalties/runs", _files(), format="multipart")

    assert response.status_code == 202
    run = Run.objects.get()
    body = response.json()
    assert body == {
        "id": run.pk,
        "status": "queued",
        "url": f"http://testserver/api/royalties/runs/{run.pk}",
        "report_url": f"http://testserver/api/royalties/report?run={run.pk}",
    }
    assert response["Location"] == body["url"]
    task = OrmQ.objects.get().task
    assert (task["func"], task["args"]) == ("royalties.tasks.run_execute_task", (run.pk,))
    assert run.streams_path.startswith(str(media))

    assert run_execute_task(run.pk) == f"run {run.pk} succeeded"
    assert run_execute_task(run.pk) == f"run {run.pk} is not queued; nothing to do"

    detail = operator_client.get(f"/api/royalties/runs/{run.pk}").json()
    assert detail["status"] == "succeeded"
    assert detail["rows"] == {"read": 76, "loaded": 76, "rejected": 0}
    assert detail["revenue"] == "178.94"
    assert detail["total_seconds"] == 1557150
    assert detail["unattributed"] == {"seconds": 0, "streams": 0, "amount": "0.00"}
    assert detail["inputs"] == {  # the uploaded files' own names
        "streams": "streaming.csv",
        "users": "users.csv",
        "tracks": "tracks.json",
        "tracks_url": "",
    }
    assert set(detail["checksums"]) == {"streams", "users", "tracks"}

    report = operator_client.get("/api/royalties/report").json()
    assert report == {
        "run": run.pk,
        "revenue": "178.94",
        "total_seconds": 1557150,
        "labels": REPORT_LABELS,
        "unattributed": {"seconds": 0, "streams": 0, "amount": "0.00"},
        "rows": {"read": 76, "loaded": 76, "rejected": 0},
        "warnings": [],
    }


def test_submit_with_a_metadata_url(operator_client, media, django_capture_on_commit_callbacks):
    files = {"streams": STREAMS.open("rb"), "users": USERS.open("rb")}
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            "/api/royalties/runs",
            {**files, "tracks_url": "https://metadata.example.com/tracks"},
            format="multipart",
        )
    assert response.status_code == 202
    run = Run.objects.get()
    assert (run.tracks_url, run.tracks_path) == ("https://metadata.example.com/tracks", "")


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        ({}, {"tracks": ["Give exactly one of the `tracks` file or `tracks_url`."]}),
        (
            {"tracks": TRACKS, "tracks_url": "https://x.example/t"},
            {"tracks": ["Give exactly one of the `tracks` file or `tracks_url`."]},
        ),
        ({"tracks_url": "ftp://x.example/t"}, {"tracks_url": ["Enter an http or https URL."]}),
    ],
)
def test_submit_rejects_missing_or_conflicting_metadata(operator_client, media, extra, errors):
    data = {"streams": STREAMS.open("rb"), "users": USERS.open("rb")}
    for key, value in extra.items():
        data[key] = value.open("rb") if key == "tracks" else value
    response = operator_client.post("/api/royalties/runs", data, format="multipart")

    assert response.status_code == 400
    assert response.json() == errors
    assert Run.objects.count() == 0
    assert OrmQ.objects.count() == 0


def test_submit_without_the_streaming_log(operator_client, media):
    response = operator_client.post(
        "/api/royalties/runs",
        {"users": USERS.open("rb"), "tracks": TRACKS.open("rb")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json() == {"streams": ["No file was submitted."]}


def test_submit_as_json_is_415(operator_client):
    response = operator_client.post("/api/royalties/runs", {"streams": "x"}, format="json")
    assert response.status_code == 415
    assert Run.objects.count() == 0


def test_permissions(make_client, api_client, media):
    assert api_client.get("/api/royalties/runs").status_code == 401
    assert api_client.get("/api/royalties/report").status_code == 401
    nobody = make_client()
    assert nobody.get("/api/royalties/runs").status_code == 403
    assert nobody.get("/api/royalties/report").status_code == 403
    assert nobody.get("/api/royalties/users/7699007").status_code == 403
    assert nobody.get("/api/royalties/report.csv").status_code == 403
    viewer = make_client(perms=("royalties.view_run",))
    assert viewer.get("/api/royalties/runs").status_code == 200
    assert viewer.post("/api/royalties/runs", _files(), format="multipart").status_code == 403
    assert Run.objects.count() == 0
    submitter = make_client(perms=("royalties.add_run",))
    assert submitter.post("/api/royalties/runs", _files(), format="multipart").status_code == 202


def test_run_list_is_paginated_with_constant_queries(make_client, django_assert_num_queries):
    client = make_client(perms=("royalties.view_run",))
    RunFactory.create_batch(2)
    # token with user and permissions, count, page
    with django_assert_num_queries(3):
        first = client.get("/api/royalties/runs")
    RunFactory.create_batch(3)
    with django_assert_num_queries(3):
        second = client.get("/api/royalties/runs?page_size=4")
    assert first.json()["count"] == 2
    body = second.json()
    assert body["count"] == 5
    assert len(body["results"]) == 4
    assert body["next"] == "http://testserver/api/royalties/runs?page=2&page_size=4"
    assert [r["id"] for r in body["results"]] == sorted(
        Run.objects.values_list("id", flat=True), reverse=True
    )[:4]


def test_unknown_run_is_404(operator_client):
    response = operator_client.get("/api/royalties/runs/999")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Run 999 does not exist."}


def test_report_before_any_run_and_for_other_runs(operator_client):
    assert operator_client.get("/api/royalties/report").json() == {
        "code": "not_found",
        "detail": "No consolidation run has succeeded yet.",
    }
    old = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)
    new = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    failed = RunFactory.create(status=Run.Status.FAILED)

    latest = operator_client.get("/api/royalties/report").json()
    assert (latest["run"], latest["labels"][0]["amount"]) == (new.pk, "72.73")
    older = operator_client.get(f"/api/royalties/report?run={old.pk}").json()
    assert older["labels"][0]["amount"] == "65.96"
    assert older["unattributed"] == {"seconds": 58951, "streams": 6, "amount": "6.77"}
    assert len(older["warnings"]) == 2

    response = operator_client.get(f"/api/royalties/report?run={failed.pk}")
    assert response.status_code == 409
    assert response.json() == {
        "code": "run_not_succeeded",
        "detail": f"Run {failed.pk} is failed; only a succeeded run has a report.",
    }
    assert operator_client.get("/api/royalties/report?run=9999").status_code == 404
    response = operator_client.get("/api/royalties/report?run=abc")
    assert response.status_code == 400
    assert response.json() == {"run": ["A valid integer is required."]}


def test_report_csv(operator_client):
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)

    response = operator_client.get("/api/royalties/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (f'attachment; filename="royalties-run-{run.pk}.csv"')
    assert response.content.decode() == (
        "label,tracks,streams,seconds,share,amount\r\n"
        "label 1,4,36,573987,0.36861381,65.96\r\n"
        "label 2,5,8,286270,0.18384228,32.90\r\n"
        "label 3,5,26,637942,0.40968564,73.31\r\n"
        "(unattributed),,6,58951,,6.77\r\n"
        "(total),,,1557150,,178.94\r\n"
    )


def test_report_csv_before_any_run_is_json_404(operator_client):
    response = operator_client.get("/api/royalties/report.csv")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_user_seconds(operator_client):
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    response = operator_client.get("/api/royalties/users/7699007")
    assert response.json() == {"user_id": "7699007", "seconds": 250460, "run": run.pk}
    response = operator_client.get("/api/royalties/users/nobody")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": f"User nobody is not in run {run.pk}.",
    }
