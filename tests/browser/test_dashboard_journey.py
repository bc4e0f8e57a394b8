"""The operator reads the dashboard in a browser, on the demo data: the revenue per label is the
latest run's payout (the same amounts as the run's own page), and a stream started now shows
as playing after a reload."""

from decimal import Decimal

from royalties.models import Run
from streams.selectors import session_active_count
from streams.services import session_start


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


def test_read_the_dashboard(admin_page, browser_data_restore):
    latest = Run.objects.filter(status=Run.Status.SUCCEEDED).latest("created_at")
    admin_page.goto("/admin/")
    assert admin_page.title() == "Dashboard | Streaming back office"

    revenue = admin_page.locator('[data-figure="royalties-revenue"]').inner_text()
    assert Decimal(revenue.replace(",", "")) == latest.revenue
    bars = _bars(admin_page)
    assert bars, "the revenue chart drew no bar"
    playing = int(admin_page.locator('[data-figure="active-streams"]').inner_text())
    assert playing == session_active_count()

    # The run the dashboard names: its payout table gives every label the same amount.
    admin_page.locator("#dashboard a", has_text=str(latest.pk)).first.click()
    admin_page.wait_for_url(f"**/admin/royalties/run/{latest.pk}/change/")
    admin_page.wait_for_selector("#payout")
    assert _payout_amounts(admin_page) == bars

    session_start(user_id="alice", device_id="dashboard-journey")
    admin_page.goto("/admin/")
    assert int(admin_page.locator('[data-figure="active-streams"]').inner_text()) == playing + 1
