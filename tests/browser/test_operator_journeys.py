"""Operators' journeys in the admin of streams, ingestion, analytics and webhooks, in a real
browser at 1,366 px on the demo data: force-end a session, retry the failed deliveries a filter
shows, revoke an analytics key; and every changelist of these apps fits the screen."""

import pytest

from core.browser import VIEWPORT
from tests.webhooks.factories import failed_deliveries_make

# A development dependency: without it the package's tests are skipped, as the harness says.
expect = pytest.importorskip("playwright.sync_api").expect

CHANGELISTS = [
    "/admin/streams/viewer/",
    "/admin/streams/streamsession/",
    "/admin/ingestion/userrevenue/",
    "/admin/ingestion/event/",
    "/admin/ingestion/batch/",
    "/admin/analytics/owner/",
    "/admin/analytics/app/",
    "/admin/analytics/apikey/",
    "/admin/analytics/event/",
    "/admin/analytics/batch/",
    "/admin/analytics/dailycount/",
    "/admin/analytics/dailyuserset/",
    "/admin/analytics/userstat/",
    "/admin/webhooks/collectionrequest/",
    "/admin/webhooks/faileddelivery/",
    "/admin/webhooks/providerbreaker/",
    "/admin/webhooks/mockprovider/",
    "/admin/core/ratelimitcounter/",
]

# Widths of the list: the table, the page, and the results box (wider content than its box
# scrolls inside it, which is the cut-off operators met).
MEASURE = """() => {
  const box = document.querySelector('.results');
  return {rows: document.querySelectorAll('#result_list tbody tr').length,
          table: document.querySelector('#result_list').scrollWidth,
          page: document.documentElement.scrollWidth,
          content: box.scrollWidth, box: box.clientWidth};
}"""


def _assert_fits(page, url: str) -> None:
    page.goto(url)
    widths = page.evaluate(MEASURE)
    assert widths["rows"] >= 1, url
    assert widths["table"] <= VIEWPORT["width"], (url, widths)
    assert widths["page"] <= VIEWPORT["width"], (url, widths)
    assert widths["content"] <= widths["box"], (url, widths)


@pytest.mark.parametrize("url", CHANGELISTS)
def test_changelist_fits_a_1366_px_screen(admin_page, url):
    _assert_fits(admin_page, url)


def test_lists_fit_with_ids_of_the_longest_kind(admin_page, browser_data_restore):
    from streams.models import Viewer
    from streams.services import session_start

    long = "x" * 200
    Viewer.objects.create(user_id=f"user-{long}")
    session_start(user_id=f"user-{long}", device_id=f"device-{long}", content_id=f"c-{long}")
    failed_deliveries_make(1, provider="gas", host=f"{'h' * 60}.example")
    for url in (
        "/admin/streams/viewer/",
        "/admin/streams/streamsession/",
        "/admin/webhooks/faileddelivery/",
    ):
        _assert_fits(admin_page, url)


def _run_action(page, action: str, row_texts: list[str]) -> None:
    """Tick the rows holding each text, choose the action, press Go."""
    for text in row_texts:
        page.locator("#result_list tbody tr", has_text=text).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_force_end_a_session(admin_page, browser_data_restore):
    from streams.models import EndReason, StreamSession, Viewer
    from streams.services import session_start

    Viewer.objects.get_or_create(user_id="bob")
    session = session_start(user_id="bob", device_id="phone-bob").session
    admin_page.goto("/admin/streams/streamsession/?state=active")
    _run_action(admin_page, "force_end", ["phone-bob"])
    assert admin_page.locator(".confirm-count").inner_text().startswith("1 selected.")
    assert StreamSession.objects.get(pk=session.pk).ended_at is None
    admin_page.click('input[type=submit][value="Yes, I\'m sure"]')
    assert admin_page.locator(".messagelist .success").inner_text() == "Ended 1 session"
    assert StreamSession.objects.get(pk=session.pk).end_reason == EndReason.FORCED
    admin_page.goto("/admin/streams/streamsession/?q=bob")
    expect(admin_page.locator("#result_list .session-state")).to_have_text(["Force-ended"])


def test_retry_all_failed_deliveries_matching_a_filter(admin_page, browser_data_restore):
    from webhooks.models import Delivery

    gas = list(Delivery.objects.filter(state="failed").values_list("pk", flat=True))
    internet = [d.pk for d in failed_deliveries_make(2, provider="internet")]
    admin_page.goto("/admin/webhooks/faileddelivery/")
    admin_page.locator("#changelist-filter a", has_text="internet").click()
    expect(admin_page.locator("#result_list tbody tr")).to_have_count(2)
    admin_page.click("text=Retry all matching this filter")
    confirmation = admin_page.locator("#content-main")
    expect(confirmation).to_contain_text("2 failed deliveries match this filter")
    admin_page.click('input[type=submit][value="Yes, retry 2"]')
    message = admin_page.locator(".messagelist .success").inner_text()
    assert message == "Queued 2 deliveries for retry"
    assert "request__fetches__provider=internet" in admin_page.url
    states = dict(Delivery.objects.filter(pk__in=[*gas, *internet]).values_list("pk", "state"))
    assert states == {**{pk: "failed" for pk in gas}, **{pk: "pending" for pk in internet}}
    assert len(gas) == 1


def test_revoke_an_analytics_key(admin_page, browser_data_restore, live_url):
    from django.contrib.auth import get_user_model

    from analytics.models import ApiKey
    from analytics.services import app_register

    owner = get_user_model().objects.get(username="demo-owner")
    app, issued = app_register(owner=owner, name="journey shop", domain="https://shop.example")
    key = ApiKey.objects.get(app=app)
    collect = f"{live_url}/api/analytics/collect"
    event = {"event": "click", "userId": "u1"}
    headers = {"x-api-key": issued.raw}
    assert admin_page.request.post(collect, data=event, headers=headers).status == 202

    admin_page.goto("/admin/analytics/apikey/?state=live")
    _run_action(admin_page, "revoke", [key.prefix])
    assert admin_page.locator(".confirm-count").inner_text().startswith("1 selected.")
    admin_page.click('input[type=submit][value="Yes, I\'m sure"]')
    message = admin_page.locator(".messagelist .success").inner_text()
    assert message == f"Revoked key {key.prefix} of app journey shop"
    assert admin_page.request.post(collect, data=event, headers=headers).status == 401
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
