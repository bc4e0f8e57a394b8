"""The run list and the run page: what tells runs apart, the report in every run state,
no editing of what a run produced, and query counts that do not grow with runs or labels."""

import hashlib
from decimal import Decimal

import pytest
from django.urls import reverse

from royalties.models import Run
from tests.royalties.admin_pages import links_of, messages_of, run_page, table, text_of
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

RUN_LIST = "/admin/royalties/run/"


@pytest.fixture
def run():
    return consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)


def test_the_run_page_is_the_payout_report(admin_client, run):
    page = run_page(admin_client, run.pk)

    assert table(page, "payout") == [
        ["label", "tracks", "streams", "seconds", "share", "amount (€)"],
        ["label 1", "4", "36", "573,987", "36.86 %", "65.96"],
        ["label 2", "5", "8", "286,270", "18.38 %", "32.90"],
        ["label 3", "5", "26", "637,942", "40.97 %", "73.31"],
        ["(unattributed)", "", "6", "58,951", "3.79 %", "6.77"],
        ["(total)", "14", "76", "1,557,150", "100.00 %", "178.94"],
    ]
    assert f'<a href="/admin/royalties/track/?run={run.pk}&amp;label=label+2">label 2</a>' in page
    assert table(page, "run-rows") == [["read", "76", "loaded", "76", "rejected", "0"]]
    assert text_of(page, "run-warnings") == " ".join(run.warnings)
    assert len(run.warnings) == 2
    inputs = table(page, "run-inputs")
    assert [row[:2] for row in inputs] == [
        ["input", "file"],
        ["streams", "streaming.csv"],
        ["users", "users.csv"],
        ["tracks", "tracks-as-published.json"],
    ]
    assert [row[3] for row in inputs[1:]] == [
        run.checksums["streams"],
        run.checksums["users"],
        run.checksums["tracks"],
    ]
    timings = table(page, "run-timings")
    assert [row[0] for row in timings] == ["phase", *run.timings, "total"]
    assert timings[2][1] == f"{run.timings['streaming log']:.3f} s"
    assert "run-rejected" not in page


def test_the_run_page_links_only_to_what_the_run_stored(admin_client, run):
    page = run_page(admin_client, run.pk)

    assert links_of(page, "run-links") == [
        (f"/admin/royalties/label/?run={run.pk}", "3 labels"),
        (f"/admin/royalties/track/?run={run.pk}", "14 tracks"),
        (f"/admin/royalties/subscriber/?run={run.pk}", "20 subscribers and listeners"),
        (f"/admin/royalties/entry/?run={run.pk}", "76 entries"),
    ]
    for url, _ in links_of(page, "run-links"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert response.context["cl"].result_count > 0, url


def _rejected_rows_file(tmp_path):
    lines = STREAMS.read_text().splitlines()
    lines[3] = "32/13/2019;7699007;US;71700f062f1e57e4d2beea5b9db11b7b;12"
    lines[9] = "01/03/2019;7699007;US;71700f062f1e57e4d2beea5b9db11b7b;-5"
    path = tmp_path / "streaming.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rejected_rows_are_listed_with_their_line_numbers(admin_client, tmp_path, settings):
    settings.ROYALTIES_MAX_REJECTED_FRACTION = 0.5
    run = consolidate(streams=_rejected_rows_file(tmp_path), users=USERS, tracks=TRACKS)
    assert run.status == Run.Status.SUCCEEDED

    page = run_page(admin_client, run.pk)

    assert table(page, "run-rejected") == [
        ["file", "line", "error"],
        ["streams", "4", run.errors[0]["error"]],
        ["streams", "10", run.errors[1]["error"]],
    ]
    assert "Rejected rows (2)" in page
    assert table(page, "run-rows") == [["read", "76", "loaded", "74", "rejected", "2"]]


STATES: dict[str, dict[str, object]] = {
    "just created": dict(status=Run.Status.QUEUED, started_at=None, finished_at=None, rows={}),
    "waiting for the worker": dict(status=Run.Status.RUNNING, finished_at=None, rows={}),
    "failed early": dict(
        status=Run.Status.FAILED, rows={}, error="users: no such file: /gone/users.csv"
    ),
}


@pytest.mark.parametrize("state", STATES)
def test_a_run_page_renders_in_every_state_without_dead_links(admin_client, state):
    attrs: dict[str, object] = {
        "revenue": None,
        "total_seconds": None,
        "unattributed_seconds": None,
        "unattributed_streams": None,
        "unattributed_amount": None,
        **STATES[state],
    }
    run = RunFactory.create(**attrs)

    page = run_page(admin_client, run.pk)

    status = text_of(page, "run-state")
    assert status.startswith(f"Run {run.pk}: {run.status} ")
    assert "payout" not in page.split('id="run-report"')[1].split("</div>")[0].lower()
    assert 'id="run-links"' not in page
    assert 'id="run-csv"' not in page
    assert ('id="run-rerun"' in page) is (run.status == Run.Status.FAILED)
    if run.error:
        assert text_of(page, "run-error") == run.error
    assert 'name="_save"' not in page


def test_the_page_of_a_run_that_failed_late_shows_its_rejections_and_no_links(
    admin_client, tmp_path
):
    run = consolidate(streams=_rejected_rows_file(tmp_path), users=USERS, tracks=TRACKS)
    assert run.status == Run.Status.FAILED

    page = run_page(admin_client, run.pk)

    assert text_of(page, "run-state").startswith(f"Run {run.pk}: failed at ")
    assert text_of(page, "run-error") == run.error
    assert [row[:2] for row in table(page, "run-rejected")] == [
        ["file", "line"],
        ["streams", "4"],
        ["streams", "10"],
    ]
    assert 'id="payout"' not in page
    assert 'id="run-links"' not in page
    assert 'id="run-rerun"' in page
    assert f'href="/admin/royalties/run/{run.pk}/delete/"' in page


def test_a_succeeded_run_page_offers_no_save_and_no_delete(admin_client, run):
    page = run_page(admin_client, run.pk)

    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert "/delete/" not in page
    assert f'href="/admin/royalties/run/{run.pk}/report.csv"' in page
    assert 'id="run-rerun"' in page


def _digest(payout: str) -> str:
    return hashlib.sha256(payout.encode()).hexdigest()[:8]


def test_the_run_list_tells_runs_with_equal_totals_apart(admin_client):
    clean = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    published = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS_AS_PUBLISHED)
    assert (clean.revenue, clean.total_seconds) == (published.revenue, published.total_seconds)
    failed = RunFactory.create(
        status=Run.Status.FAILED, rows={}, revenue=None, unattributed_amount=None
    )

    response = admin_client.get(RUN_LIST)

    rows = {int(row[1]): row[3:] for row in table(response.content.decode(), "result_list")[1:]}
    assert rows[published.pk] == [
        "Succeeded",
        "streaming.csv\nusers.csv\ntracks-as-published.json",
        "178.94",
        _digest("label 1\t65.96\nlabel 2\t32.90\nlabel 3\t73.31\n(unattributed)\t6.77\n"),
        "label 3: 73.31 (of 3)",
        "0 / 2",
        "6.77",
    ]
    assert rows[clean.pk] == [
        "Succeeded",
        "streaming.csv\nusers.csv\ntracks.json",
        "178.94",
        _digest("label 1\t72.73\nlabel 2\t32.90\nlabel 3\t73.31\n(unattributed)\t0.00\n"),
        "label 3: 73.31 (of 3)",
        "0 / 0",
        "0.00",
    ]
    assert rows[failed.pk] == [
        "Failed",
        "streaming.csv\nusers.csv\ntracks.json",
        *["-"] * 3,
        "- / 0",
        "-",
    ]
    header = table(response.content.decode(), "result_list")[0]
    assert header[1:] == [
        "ID",
        "Created",
        "Status",
        "Inputs",
        "Revenue €",
        "Digest",
        "Top label €",
        "Rejected rows / warnings",
        "Unattributed €",
    ]


def test_equal_payouts_have_equal_digests(admin_client):
    first = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)
    again = consolidate(streams=STREAMS, users=USERS, tracks=TRACKS)

    rows = table(admin_client.get(RUN_LIST).content.decode(), "result_list")[1:]

    digests = {int(row[1]): row[7] for row in rows}
    assert digests[first.pk] == digests[again.pk]


def _runs_with_labels(runs: int, labels: int) -> list[Run]:
    made = []
    for _ in range(runs):
        run = RunFactory.create(revenue=Decimal("1234567.89"), total_seconds=10**7)
        LabelFactory.create_batch(labels, run=run, amount=Decimal("1000.00"), tracks=1)
        made.append(run)
    return made


def test_the_run_list_costs_the_same_queries_for_1_or_20_runs(
    admin_client, django_assert_num_queries
):
    _runs_with_labels(1, 3)
    admin_client.get(RUN_LIST)  # the session and user are then warm in the same way
    with django_assert_num_queries(6) as one:
        admin_client.get(RUN_LIST)
    _runs_with_labels(19, 5)
    with django_assert_num_queries(len(one.captured_queries)):
        response = admin_client.get(RUN_LIST)
    assert response.context["cl"].result_count == 20


def test_the_run_page_costs_the_same_queries_for_3_or_60_labels(
    admin_client, django_assert_num_queries
):
    small, large = _runs_with_labels(1, 3) + _runs_with_labels(1, 60)
    with django_assert_num_queries(6) as few:
        page = run_page(admin_client, small.pk)
    with django_assert_num_queries(len(few.captured_queries)):
        many = run_page(admin_client, large.pk)
    assert len(table(page, "payout")) == 1 + 3 + 2
    assert len(table(many, "payout")) == 1 + 60 + 2
    assert table(many, "payout")[-1] == [
        "(total)",
        "60",
        "0",
        "10,000,000",
        "100.00 %",
        "1,234,567.89",
    ]


def test_a_succeeded_run_cannot_be_deleted_and_the_admin_says_why(admin_client, run):
    response = admin_client.get(reverse("admin:royalties_run_delete", args=[run.pk]), follow=True)
    assert response.redirect_chain == [(reverse("admin:royalties_run_change", args=[run.pk]), 302)]
    assert messages_of(response) == [
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
        RUN_LIST,
        {"action": "delete_selected", "_selected_action": [run.pk, failed.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert set(Run.objects.values_list("pk", flat=True)) == {run.pk, failed.pk}
