"""Admin pages: runs with the re-run action, and the label → tracks → listeners drill-down."""

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from royalties.models import Run
from tests.royalties.factories import STREAMS, TRACKS, USERS, RunFactory, consolidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)


def test_every_royalties_admin_page_loads(admin_client, run):
    pages = [
        reverse("admin:royalties_run_changelist"),
        reverse("admin:royalties_run_change", args=[run.pk]),
        reverse("admin:royalties_label_changelist"),
        reverse("admin:royalties_track_changelist"),
        reverse("admin:royalties_subscriber_changelist") + "?q=7699007",
        reverse("admin:royalties_entry_changelist"),
        reverse("admin:royalties_revenueshare_changelist"),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page


def test_run_page_shows_checksums_and_drill_down(admin_client, run):
    html = admin_client.get(reverse("admin:royalties_run_change", args=[run.pk])).content.decode()
    assert run.checksums["streams"] in html
    assert f"/admin/royalties/label/?run__id__exact={run.pk}" in html


def test_drill_down_label_to_tracks_to_listeners(admin_client, run):
    labels = admin_client.get(
        reverse("admin:royalties_label_changelist") + f"?run__id__exact={run.pk}"
    )
    tracks_url = f"/admin/royalties/track/?run__id__exact={run.pk}&amp;label=label+2"
    assert tracks_url in labels.content.decode()

    tracks = admin_client.get(tracks_url.replace("&amp;", "&"))
    assert tracks.context["cl"].result_count == 5
    assert {t.label for t in tracks.context["cl"].result_list} == {"label 2"}

    listeners = admin_client.get(
        f"/admin/royalties/entry/?run={run.pk}&track_id=4f4e63270a61b3be301acd5674e7daa9"
    )
    entries = list(listeners.context["cl"].result_list)
    assert entries
    assert {e.track_id for e in entries} == {"4f4e63270a61b3be301acd5674e7daa9"}


def test_rerun_action_queues_a_new_run_with_the_same_inputs(
    admin_client, run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:royalties_run_changelist"),
            {"action": "rerun", "_selected_action": [run.pk]},
            follow=True,
        )
    assert response.status_code == 200
    new_run = Run.objects.exclude(pk=run.pk).get()
    assert (new_run.status, new_run.rerun_of_id) == (Run.Status.QUEUED, run.pk)
    assert (new_run.streams_path, new_run.users_path, new_run.tracks_path) == (
        run.streams_path,
        run.users_path,
        run.tracks_path,
    )
    assert OrmQ.objects.get().task["args"] == (new_run.pk,)


def test_rerun_of_a_running_run_is_refused(admin_client):
    busy = RunFactory.create(status=Run.Status.RUNNING)
    response = admin_client.post(
        reverse("admin:royalties_run_changelist"),
        {"action": "rerun", "_selected_action": [busy.pk]},
        follow=True,
    )
    assert f"Run {busy.pk} is running; wait for it to finish." in response.content.decode()
    assert Run.objects.count() == 1


def test_a_succeeded_run_cannot_be_deleted_and_the_admin_says_why(admin_client, run):
    response = admin_client.get(reverse("admin:royalties_run_delete", args=[run.pk]), follow=True)
    assert response.redirect_chain == [(reverse("admin:royalties_run_change", args=[run.pk]), 302)]
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        f"Run {run.pk} succeeded: succeeded runs are immutable and cannot be deleted."
    ]
    response = admin_client.post(
        reverse("admin:royalties_run_delete", args=[run.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert Run.objects.filter(pk=run.pk).exists()


def test_bulk_delete_with_a_succeeded_run_deletes_nothing(admin_client, run):
    failed = RunFactory.create(status=Run.Status.FAILED, rows={})
    response = admin_client.post(
        reverse("admin:royalties_run_changelist"),
        {"action": "delete_selected", "_selected_action": [run.pk, failed.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert set(Run.objects.values_list("pk", flat=True)) == {run.pk, failed.pk}
