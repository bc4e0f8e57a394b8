"""Operator journeys through the royalties admin in a browser: upload the inputs, let the
worker consolidate the run, read its payout table, re-run it.

The worker is the task itself: the live server enqueues the run on the ORM broker (no cluster
runs during tests), and the test takes that queued task and runs ``run_execute_task`` with its
arguments, as a worker would, before reloading the page.
"""

import re
from decimal import Decimal

import pytest
from django_q.models import OrmQ

from royalties.models import Run
from royalties.tasks import run_execute_task
from tests.royalties.factories import STREAMS, TRACKS_AS_PUBLISHED, USERS, RunFactory

PAYOUT = [
    ["label", "tracks", "streams", "seconds", "share", "amount (€)"],
    ["label 1", "4", "36", "573,987", "36.86 %", "65.96"],
    ["label 2", "5", "8", "286,270", "18.38 %", "32.90"],
    ["label 3", "5", "26", "637,942", "40.97 %", "73.31"],
    ["(unattributed)", "", "6", "58,951", "3.79 %", "6.77"],
    ["(total)", "14", "76", "1,557,150", "100.00 %", "178.94"],
]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the server thread reads the same settings


def _work_the_queue(run_id: int) -> None:
    """What the worker does with the run's queued task."""
    queued = [task for task in OrmQ.objects.all() if task.task["args"] == (run_id,)]
    assert [task.task["func"] for task in queued] == ["royalties.tasks.run_execute_task"]
    queued[0].delete()
    assert run_execute_task(run_id) == f"run {run_id} succeeded"


def _payout(page) -> list[list[str]]:
    rows = page.locator("#payout tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("th, td").all_text_contents()]
        for i in range(rows.count())
    ]


def _opened_run(page) -> int:
    match = re.search(r"/admin/royalties/run/(\d+)/change/$", page.url)
    assert match, page.url
    return int(match.group(1))


def test_upload_consolidate_read_the_payout_and_rerun(admin_page, browser_data_restore, media):
    page = admin_page
    page.goto("/admin/royalties/run/")
    page.click("#new-run")
    page.set_input_files("#id_streams", str(STREAMS))
    page.set_input_files("#id_users", str(USERS))
    page.set_input_files("#id_tracks", str(TRACKS_AS_PUBLISHED))
    page.click("input[name=_start]")

    run_id = _opened_run(page)
    assert page.locator(".messagelist").inner_text().strip() == (
        f"Run {run_id} queued (streaming.csv, users.csv, tracks-as-published.json); "
        "the worker consolidates it."
    )
    assert "waiting for the worker" in page.locator("#run-state").inner_text()
    assert page.locator("#payout").count() == 0

    _work_the_queue(run_id)
    page.reload()
    assert page.locator("#run-state").inner_text().startswith(f"Run {run_id}: succeeded at ")
    assert _payout(page) == PAYOUT
    assert page.locator("#run-warnings li").count() == 2

    page.click("#run-rerun button")
    rerun_id = _opened_run(page)
    assert rerun_id != run_id
    assert page.locator(".messagelist").inner_text().strip() == (
        f"Run {rerun_id} queued (re-run of run {run_id})."
    )
    _work_the_queue(rerun_id)
    page.reload()
    assert _payout(page) == PAYOUT
    assert Run.objects.get(pk=rerun_id).rerun_of_id == run_id

    page.goto("/admin/royalties/run/")
    digests = {
        int(row.locator(".field-id").inner_text()): row.locator(".field-digest").inner_text()
        for row in page.locator("#result_list tbody tr").all()
    }
    assert digests[rerun_id] == digests[run_id]


def test_the_run_list_and_the_run_page_fit_a_1366_pixel_screen(admin_page, browser_data_restore):
    """Every column visible beside the navigation and the filters: nothing scrolls sideways."""
    RunFactory(
        tracks_path=str(TRACKS_AS_PUBLISHED),
        revenue=Decimal("1234567.89"),
        unattributed_amount=Decimal("123456.78"),
        rows={"read": 1234567, "loaded": 1234000, "rejected": 567},
        warnings=["a warning"] * 12,
    )
    admin_page.goto("/admin/royalties/run/")
    results = admin_page.locator("#changelist .results")
    overflow = results.evaluate("element => element.scrollWidth - element.clientWidth")
    assert overflow == 0
    last = admin_page.locator("#result_list .column-unattributed").bounding_box()
    assert last is not None
    assert last["x"] + last["width"] <= 1366
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 1366

    admin_page.goto(admin_page.locator("#result_list .field-id a").first.get_attribute("href"))
    assert admin_page.locator("#payout").is_visible()
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 1366
