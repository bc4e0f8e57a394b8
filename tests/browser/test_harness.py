"""The harness itself: the server serves the demo data, a sign-in works in the browser, and the
watch catches what it is there to catch."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from core.browser import url_is_local
from tests.browser.conftest import assert_page_clean

ORIGIN = "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8123/admin/", True),
        ("http://127.0.0.1:8123/static/admin/css/base.css", True),
        ("data:image/png;base64,AAAA", True),
        ("blob:http://127.0.0.1:8123/1f0c", True),
        ("about:blank", True),
        ("http://127.0.0.1:8124/admin/", False),
        ("http://localhost:8123/admin/", False),
        ("https://127.0.0.1:8123/admin/", False),
        ("https://cdn.example/chart.js", False),
    ],
)
def test_url_is_local_only_for_the_server_itself(url, local):
    assert url_is_local(url, origin=ORIGIN) is local


def test_the_operator_signs_in_with_the_form(anonymous_page):
    anonymous_page.goto("/admin/")
    assert anonymous_page.url.endswith("/admin/login/?next=/admin/")
    anonymous_page.fill("#id_username", settings.DEMO_OPERATOR_USERNAME)
    anonymous_page.fill("#id_password", settings.DEMO_OPERATOR_PASSWORD)
    anonymous_page.click("input[type=submit]")
    anonymous_page.wait_for_url("**/admin/")
    assert anonymous_page.locator("#user-tools strong").inner_text() == "OPERATOR"


def test_admin_page_is_signed_in_and_sees_the_demo_data(admin_page):
    response = admin_page.goto("/admin/royalties/label/")
    assert response is not None
    assert response.status == 200
    names = admin_page.locator("#result_list .field-name").all_inner_texts()
    assert sorted(names) == ["label 1", "label 2", "label 3"]


def test_watch_records_a_console_error(admin_page, browser_watch):
    admin_page.goto("/admin/")
    admin_page.evaluate("console.error('broken widget')")
    admin_page.evaluate("setTimeout(() => { throw new Error('unhandled'); }, 0)")
    admin_page.wait_for_timeout(100)
    assert len(browser_watch.console_errors) == 2
    assert browser_watch.console_errors[0].startswith("broken widget")
    assert browser_watch.console_errors[1] == "uncaught: unhandled"
    with pytest.raises(pytest.fail.Exception, match="console error: broken widget"):
        assert_page_clean(browser_watch)
    assert browser_watch.problems == []


def test_watch_records_a_request_to_another_host(admin_page, browser_watch):
    # Aborted before it leaves the browser: nothing is sent anywhere.
    admin_page.route("http://cdn.invalid/**", lambda route: route.abort())
    admin_page.goto("/admin/")
    admin_page.set_content('<img src="http://cdn.invalid/logo.png">')
    admin_page.wait_for_timeout(100)
    assert browser_watch.foreign_requests == ["GET http://cdn.invalid/logo.png"]
    browser_watch.clear()


def test_the_journey_of_the_architecture_doc(admin_page, browser_watch):
    # docs/architecture.md shows this test as the example of a journey.
    admin_page.goto("/admin/webhooks/faileddelivery/")
    # The list shows a webhook id by its start; the whole id is the cell's title.
    admin_page.click('#result_list [title="msg_demo_failed_delivery"]')
    # The click returns once the next page is committed, before its <title> is parsed: wait for it.
    expect(admin_page).to_have_title(re.compile(r"^msg_demo_failed_delivery"))
    assert_page_clean(browser_watch)
