"""Starting runs from the admin (the upload form, re-run) and the payout table as CSV."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django_q.models import OrmQ

from royalties.models import Run
from royalties.tasks import run_execute_task
from tests.royalties.admin_pages import messages_of, run_page, table, text_of
from tests.royalties.factories import (
    STREAMS,
    TRACKS,
    TRACKS_AS_PUBLISHED,
    USERS,
    RunFactory,
    consolidate,
)

pytestmark = pytest.mark.django_db

NEW_RUN = "/admin/royalties/run/add/"
CSV = (
    "label,tracks,streams,seconds,share,amount\r\n"
    "label 1,4,36,573987,0.36861381,65.96\r\n"
    "label 2,5,8,286270,0.18384228,32.90\r\n"
    "label 3,5,26,637942,0.40968564,73.31\r\n"
    "(unattributed),,6,58951,,6.77\r\n"
    "(total),,,1557150,,178.94\r\n"
)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _upload(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def test_the_run_list_offers_the_upload_form(admin_client):
    page = admin_client.get("/admin/royalties/run/").content.decode()
    assert '<a href="/admin/royalties/run/add/" class="addlink" id="new-run">' in page

    form = admin_client.get(NEW_RUN)

    assert form.status_code == 200
    assert list(form.context["form"].fields) == ["streams", "users", "tracks", "tracks_url"]


def test_an_upload_queues_a_run_that_the_worker_consolidates(
    admin_client, media, django_capture_on_commit_callbacks
):
    files = {"streams": _upload(STREAMS), "users": _upload(USERS), "tracks": _upload(TRACKS)}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(NEW_RUN, files, follow=True)

    run = Run.objects.get()
    assert response.redirect_chain == [(f"/admin/royalties/run/{run.pk}/change/", 302)]
    assert messages_of(response) == [
        f"Run {run.pk} queued (streaming.csv, users.csv, tracks.json); the worker consolidates it."
    ]
    assert run.status == Run.Status.QUEUED
    assert OrmQ.objects.get().task["args"] == (run.pk,)
    assert "waiting for the worker" in response.content.decode()

    assert run_execute_task(run.pk) == f"run {run.pk} succeeded"
    payout = table(run_page(admin_client, run.pk), "payout")
    assert payout[1:4] == [
        ["label 1", "5", "42", "632,938", "40.65 %", "72.73"],
        ["label 2", "5", "8", "286,270", "18.38 %", "32.90"],
        ["label 3", "5", "26", "637,942", "40.97 %", "73.31"],
    ]
    assert payout[-1] == ["(total)", "15", "76", "1,557,150", "100.00 %", "178.94"]


@pytest.mark.parametrize(
    ("files", "errors"),
    [
        ({"users": USERS, "tracks": TRACKS}, {"streams": ["No file was submitted."]}),
        (
            {"streams": STREAMS, "users": USERS},
            {"tracks": ["Give exactly one of the `tracks` file or `tracks_url`."]},
        ),
        (
            {"streams": STREAMS, "users": USERS, "tracks_url": "ftp://example.com/tracks"},
            {"tracks_url": ["Enter an http or https URL."]},
        ),
    ],
    ids=["no streaming log", "no metadata", "metadata URL not http"],
)
def test_a_bad_upload_is_refused_with_a_message_and_nothing_stored(
    admin_client, media, files, errors
):
    data = {k: v if isinstance(v, str) else _upload(v) for k, v in files.items()}

    response = admin_client.post(NEW_RUN, data)

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert messages_of(response) == ["The run was not started: see below."]
    assert (Run.objects.count(), OrmQ.objects.count()) == (0, 0)
    assert not media.exists() or list(media.rglob("*.*")) == []


def test_an_empty_file_is_refused_by_name(admin_client, media):
    data = {
        "streams": SimpleUploadedFile("streaming.csv", b""),
        "users": _upload(USERS),
        "tracks": _upload(TRACKS),
    }

    response = admin_client.post(NEW_RUN, data)

    assert response.context["form"].errors == {"streams": ["The submitted file is empty."]}
    assert "The submitted file is empty." in response.content.decode()
    assert Run.objects.count() == 0


def test_a_viewer_cannot_start_runs(client, django_user_model, media):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_run"))
    client.force_login(viewer)
    run = RunFactory.create()

    assert client.get(NEW_RUN).status_code == 403
    assert client.post(f"/admin/royalties/run/{run.pk}/rerun/").status_code == 403
    page = run_page(client, run.pk)
    assert 'id="run-rerun"' not in page
    assert 'id="new-run"' not in client.get("/admin/royalties/run/").content.decode()
    assert Run.objects.count() == 1


def test_the_rerun_button_queues_a_new_run_and_opens_it(
    admin_client, django_capture_on_commit_callbacks
):
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/royalties/run/{run.pk}/rerun/", follow=True)

    new_run = Run.objects.exclude(pk=run.pk).get()
    assert response.redirect_chain == [(f"/admin/royalties/run/{new_run.pk}/change/", 302)]
    assert messages_of(response) == [f"Run {new_run.pk} queued (re-run of run {run.pk})."]
    assert (new_run.status, new_run.rerun_of_id) == (Run.Status.QUEUED, run.pk)
    assert (new_run.streams_path, new_run.users_path, new_run.tracks_path) == (
        run.streams_path,
        run.users_path,
        run.tracks_path,
    )
    assert OrmQ.objects.get().task["args"] == (new_run.pk,)
    assert f'Re-run of <a href="/admin/royalties/run/{run.pk}/change/">' in (
        response.content.decode()
    )


def test_the_rerun_button_needs_a_post(admin_client):
    run = RunFactory.create()
    assert admin_client.get(f"/admin/royalties/run/{run.pk}/rerun/").status_code == 405
    assert Run.objects.count() == 1


def test_a_rerun_of_a_running_run_is_refused_with_a_message(admin_client):
    busy = RunFactory.create(status=Run.Status.RUNNING)

    response = admin_client.post(f"/admin/royalties/run/{busy.pk}/rerun/", follow=True)

    assert response.redirect_chain == [(f"/admin/royalties/run/{busy.pk}/change/", 302)]
    assert messages_of(response) == [f"Run {busy.pk} is running; wait for it to finish."]
    assert Run.objects.count() == 1


def test_the_rerun_action_queues_one_run_per_selected_run(
    admin_client, django_capture_on_commit_callbacks
):
    first, second = RunFactory.create(), RunFactory.create(status=Run.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/royalties/run/",
            {"action": "rerun", "_selected_action": [first.pk, second.pk]},
            follow=True,
        )

    reruns = dict(Run.objects.filter(rerun_of__isnull=False).values_list("rerun_of", "pk"))
    assert set(reruns) == {first.pk, second.pk}
    assert sorted(messages_of(response)) == sorted(
        f"Run {reruns[run.pk]} queued (re-run of run {run.pk})." for run in (first, second)
    )
    assert OrmQ.objects.count() == 2


def test_the_payout_table_as_csv_from_the_run_page(admin_client):
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)

    response = admin_client.get(f"/admin/royalties/run/{run.pk}/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="royalties-run-{run.pk}.csv"'
    assert response.content.decode() == CSV


def test_the_csv_export_action_gives_the_same_table(admin_client):
    run = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)

    response = admin_client.post(
        "/admin/royalties/run/", {"action": "export_csv", "_selected_action": [run.pk]}
    )

    assert response["Content-Disposition"] == f'attachment; filename="royalties-run-{run.pk}.csv"'
    assert response.content.decode() == CSV


def test_the_csv_export_needs_one_succeeded_run(admin_client):
    runs = [RunFactory.create(), RunFactory.create()]
    failed = RunFactory.create(status=Run.Status.FAILED, rows={})

    response = admin_client.post(
        "/admin/royalties/run/",
        {"action": "export_csv", "_selected_action": [run.pk for run in runs]},
        follow=True,
    )
    assert messages_of(response) == ["Select exactly one succeeded run to export."]

    response = admin_client.get(f"/admin/royalties/run/{failed.pk}/report.csv", follow=True)
    assert response.redirect_chain == [(f"/admin/royalties/run/{failed.pk}/change/", 302)]
    assert messages_of(response) == [
        f"Run {failed.pk} is failed; only a succeeded run has a payout table."
    ]


def test_a_file_the_worker_cannot_read_fails_the_run_and_its_page_says_why(
    admin_client, media, django_capture_on_commit_callbacks
):
    files = {
        "streams": SimpleUploadedFile("streaming.csv", b"not;a;streaming;log\n1;2;3;4\n"),
        "users": _upload(USERS),
        "tracks": _upload(TRACKS),
    }
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(NEW_RUN, files)
    run = Run.objects.get()

    assert run_execute_task(run.pk) == f"run {run.pk} failed"

    page = run_page(admin_client, run.pk)
    run.refresh_from_db()
    assert run.error.startswith("streams: ")
    assert text_of(page, "run-error") == run.error
    assert 'id="payout"' not in page
    assert 'id="run-links"' not in page
