"""What a run stored, in the admin: one run at a time (the latest by default), with totals,
formatted numbers, streams by user as totals per user, and nothing editable."""

import pytest

from royalties.models import Entry, Label, Run, Subscriber, Track
from tests.royalties.admin_pages import table, text_of
from tests.royalties.factories import (
    STREAMS,
    TRACKS,
    TRACKS_AS_PUBLISHED,
    USERS,
    LabelFactory,
    RunFactory,
    consolidate,
)

pytestmark = pytest.mark.django_db

LABELS = "/admin/royalties/label/"
TRACKS_LIST = "/admin/royalties/track/"
SUBSCRIBERS = "/admin/royalties/subscriber/"
ENTRIES = "/admin/royalties/entry/"


@pytest.fixture
def runs():
    """An older run with the clean metadata, then the latest with the as-published one."""
    older = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    latest = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)
    return older, latest


def _rows(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    return response, table(response.content.decode(), "result_list")


def test_labels_show_the_latest_run_with_its_totals(admin_client, runs):
    older, latest = runs

    response, rows = _rows(admin_client, LABELS)

    assert rows == [
        ["Name", "Tracks", "Streams", "Seconds", "Share", "Amount (€)"],
        ["label 1", "4", "36", "573,987", "36.86 %", "65.96"],
        ["label 2", "5", "8", "286,270", "18.38 %", "32.90"],
        ["label 3", "5", "26", "637,942", "40.97 %", "73.31"],
    ]
    assert text_of(response.content.decode(), "run-totals") == (
        f"Run {latest.pk} · labels: 3 · streams: 70 · seconds: 1,498,199 · amount (€): 172.17"
        " · unattributed (€): 6.77 · revenue (€): 178.94"
    )
    choices = response.context["cl"].filter_specs[0].lookup_choices
    assert [pk for pk, _ in choices] == [str(latest.pk), str(older.pk)]


def test_labels_of_an_older_run(admin_client, runs):
    older, _ = runs

    response, rows = _rows(admin_client, f"{LABELS}?run={older.pk}")

    assert [row[0] for row in rows[1:]] == ["label 1", "label 2", "label 3"]
    assert rows[1] == ["label 1", "5", "42", "632,938", "40.65 %", "72.73"]
    assert text_of(response.content.decode(), "run-totals").endswith(
        "unattributed (€): 0.00 · revenue (€): 178.94"
    )


def test_a_label_leads_to_its_tracks_and_a_track_to_its_listeners(admin_client, runs):
    _, latest = runs
    page = admin_client.get(LABELS).content.decode()
    assert f'href="/admin/royalties/track/?run={latest.pk}&amp;label=label+2"' in page

    response, rows = _rows(admin_client, f"{TRACKS_LIST}?run={latest.pk}&label=label+2")

    assert {row[1] for row in rows[1:]} == {"label 2"}
    assert len(rows) == 1 + 5
    assert text_of(response.content.decode(), "run-totals") == (
        f"Run {latest.pk} · tracks: 5 · streams: 8 · seconds: 286,270"
    )


def test_streams_by_user_are_totals_per_user(admin_client, runs):
    _, latest = runs
    track = Track.objects.get(run=latest, track_id="71f4ca0346edbe5327af3885e2253928")
    tracks_page = admin_client.get(f"{TRACKS_LIST}?run={latest.pk}&q={track.track_id}")
    url = f"/admin/royalties/track/{track.pk}/listeners/"
    assert f'href="{url}"' in tracks_page.content.decode()

    response = admin_client.get(url)

    assert response.status_code == 200
    assert table(response.content.decode(), "listeners") == [
        ["user", "streams", "seconds"],
        ["6045948", "1", "103,288"],
        ["8931590", "1", "67,008"],
        ["8273161", "5", "30,034"],
        ["2361235", "1", "26,825"],
        ["3616252", "2", "24,017"],
        ["8155969", "1", "18,980"],
        ["5125626", "2", "10,582"],
        ["3187811", "1", "7,045"],
        ["4380311", "1", "5,740"],
        ["4895497", "1", "5,714"],
        ["4983457", "1", "5,058"],
        ["5277034", "1", "3,633"],
        ["5569077", "1", "2,116"],
    ]
    assert track.streams == 19


def test_subscribers_show_money_and_seconds_formatted(admin_client, runs):
    _, latest = runs

    response, rows = _rows(admin_client, f"{SUBSCRIBERS}?q=2361235")

    assert rows == [
        [
            "User id",
            "Subscribed",
            "Product type",
            "Fee (€)",
            "Origin",
            "Contribution (€)",
            "Streams",
            "Seconds",
        ],
        ["2361235", "", "platinum", "14.99", "web", "13.491", "6", "328,822"],
    ]
    response, _ = _rows(admin_client, SUBSCRIBERS)
    assert text_of(response.content.decode(), "run-totals") == (
        f"Run {latest.pk} · users: 20 · revenue (€): 178.94 · streams: 76 · seconds: 1,557,150"
    )


def test_entries_have_a_run_filter(admin_client, runs):
    older, latest = runs

    latest_rows = admin_client.get(ENTRIES).context["cl"].result_list
    older_rows = admin_client.get(f"{ENTRIES}?run={older.pk}").context["cl"].result_list

    assert {entry.run_id for entry in latest_rows} == {latest.pk}
    assert {entry.run_id for entry in older_rows} == {older.pk}
    assert len(older_rows) == len(latest_rows) == 76
    _, rows = _rows(admin_client, f"{ENTRIES}?run={older.pk}&q=7699007")
    assert rows[1] == [
        "2",
        "March 1, 2019",
        "7699007",
        "US",
        "71700f062f1e57e4d2beea5b9db11b7b",
        "2,263",
    ]


def test_before_any_run_the_lists_are_empty_and_say_so(admin_client):
    RunFactory.create(status=Run.Status.FAILED, rows={})
    for url in (LABELS, TRACKS_LIST, SUBSCRIBERS, ENTRIES):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0
        assert text_of(response.content.decode(), "run-totals") == "No run has succeeded yet."


def test_a_run_filter_that_is_not_an_id_is_refused_without_an_error(admin_client, runs):
    response = admin_client.get(f"{LABELS}?run=abc")
    assert (response.status_code, response["Location"]) == (302, f"{LABELS}?e=1")


@pytest.mark.parametrize("model", [Label, Track, Subscriber, Entry])
def test_what_a_run_stored_cannot_be_edited_or_deleted(admin_client, runs, model):
    name = model._meta.model_name
    obj = model.objects.filter(run=runs[1]).first()
    change = f"/admin/royalties/{name}/{obj.pk}/change/"

    page = admin_client.get(f"/admin/royalties/{name}/").content.decode()
    assert "delete_selected" not in page
    assert 'class="action-select"' not in page
    assert f'href="/admin/royalties/{name}/add/"' not in page

    detail = admin_client.get(change)
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert "/delete/" not in detail.content.decode()
    assert admin_client.post(change, {}).status_code == 403
    assert admin_client.get(f"/admin/royalties/{name}/{obj.pk}/delete/").status_code == 403
    assert admin_client.get(f"/admin/royalties/{name}/add/").status_code == 403


def test_the_label_list_costs_the_same_queries_for_3_or_60_labels(
    admin_client, django_assert_num_queries
):
    small, large = RunFactory.create(), RunFactory.create()
    LabelFactory.create_batch(3, run=small)
    LabelFactory.create_batch(60, run=large)
    with django_assert_num_queries(8) as few:
        admin_client.get(f"{LABELS}?run={small.pk}")
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(f"{LABELS}?run={large.pk}")
    assert response.context["cl"].result_count == 60
