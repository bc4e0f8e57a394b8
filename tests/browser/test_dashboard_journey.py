"""The operator reads the dashboard in a browser, on the demo data: the revenue per label is the
latest run's payout (the same amounts as the run's own page), and a stream started now shows
as playing, and a start refused now in this hour's column, after a reload."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from royalties.models import Run
from streams.models import StreamSession
from streams.selectors import refusals_per_hour, session_active_count, session_active_q
from streams.services import StreamLimitReachedError, session_heartbeat, session_start
from tests.browser.data import REFUSED_VIEWER, REFUSED_VIEWER_DEVICE


def _bars(page) -> dict[str, Decimal]:
    bars = page.locator("#dashboard svg.dashboard-chart g.bar")
    return {
        bars.nth(i).get_attribute("data-label") or "": Decimal(
            bars.nth(i).get_attribute("data-value") or "nan"
        )
        for i in range(bars.count())
    }


def _payout_amounts(page) -> dict[str, Decimal]:
    rows = page.locator("#payout tr")
    amounts = {}
    for i in range(1, rows.count()):  # the first row is the header
        cells = [c.strip() for c in rows.nth(i).locator("th, td").all_text_contents()]
        if not cells[0].startswith("("):  # (unattributed), (total)
            amounts[cells[0]] = Decimal(cells[-1].replace(",", ""))
    return amounts


def _leases_renewed() -> None:
    """The browser data's sessions started when it was loaded, and their leases may have run
    out since (or run out between the page and the count): the refused viewer plays again on
    the same device (its lapsed session is replaced, a live one kept), then every playing
    session is heartbeaten."""
    session_start(user_id=REFUSED_VIEWER, device_id=REFUSED_VIEWER_DEVICE, content_id="song-7")
    for session_id in StreamSession.objects.filter(session_active_q()).values_list("id", flat=True):
        session_heartbeat(session_id=session_id)


def test_read_the_dashboard(admin_page, browser_data_restore):
    latest = Run.objects.filter(status=Run.Status.SUCCEEDED).latest("created_at")
    _leases_renewed()
    admin_page.goto("/admin/")
    assert admin_page.title() == "Dashboard | Streaming back office"

    revenue = admin_page.locator('[data-figure="royalties-revenue"]').inner_text()
    assert Decimal(revenue.replace(",", "")) == latest.revenue
    bars = _bars(admin_page)
    assert bars, "the revenue chart drew no bar"
    playing = int(admin_page.locator('[data-figure="active-streams"]').inner_text())
    assert playing == session_active_count()
    refused = int(admin_page.locator('[data-figure="refusals-hours"]').inner_text())
    assert refused == _refused_today()

    # The run the dashboard names: its payout table gives every label the same amount.
    admin_page.locator("#dashboard a", has_text=str(latest.pk)).first.click()
    admin_page.wait_for_url(f"**/admin/royalties/run/{latest.pk}/change/")
    admin_page.wait_for_selector("#payout")
    assert _payout_amounts(admin_page) == bars

    session_start(user_id="alice", device_id="dashboard-journey")
    with pytest.raises(StreamLimitReachedError):
        session_start(user_id=REFUSED_VIEWER, device_id="dashboard-journey")
    admin_page.goto("/admin/")
    assert int(admin_page.locator('[data-figure="active-streams"]').inner_text()) == playing + 1
    assert int(admin_page.locator('[data-figure="refusals-hours"]').inner_text()) == refused + 1
    this_hour = admin_page.locator("#chart-refusals rect.column").last
    assert int(this_hour.get_attribute("data-count") or "") == _refused_this_hour()


def _refused_today() -> int:
    since = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    return sum(count for _, count in refusals_per_hour(since=since))


def _refused_this_hour() -> int:
    this_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    return sum(count for _, count in refusals_per_hour(since=this_hour))
