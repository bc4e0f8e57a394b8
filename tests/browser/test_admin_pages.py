"""Every admin page of every domain opens in a real browser, signed in as the operator: the
pages come from the admin site's registry and URLs (core.admin_pages), not from a list here.

Each must answer below 400 with its expected title and the admin's breadcrumb bar, log no
console error and request nothing from another host (the page fixture fails the test on
either)."""

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model

from core.admin_pages import Kind, admin_page_resolve, admin_page_specs, admin_request

User = get_user_model()
# Collected before any database exists: an unsaved superuser answers the permission checks.
SPECS = admin_page_specs(request=admin_request(User(is_superuser=True, is_staff=True)))


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
def test_admin_page_opens_cleanly(admin_page, browser_watch, spec):
    operator = User.objects.get(username=settings.DEMO_OPERATOR_USERNAME)
    page = admin_page_resolve(spec, request=admin_request(operator))
    assert page is not None, f"{spec.name}: no object to show (tests/browser/data.py adds one)"

    response = admin_page.goto(page.path)

    assert response is not None
    assert response.status < 400, f"{page.path} answered {response.status}"
    assert admin_page.url.endswith(page.path), f"{page.path} went to {admin_page.url}"
    title = admin_page.title()
    if page.title is None:
        assert title.endswith(f" | {admin.site.site_title}")
        assert title != f" | {admin.site.site_title}"
    else:
        assert title == page.title
    if spec.kind is not Kind.INDEX:
        # The admin's own breadcrumb bar (an <ol>: a page with the <div> of older Django
        # versions showed bare links at the window's edge).
        crumbs = admin_page.locator("nav ol.breadcrumbs")
        assert crumbs.count() == 1, f"{page.path}: no breadcrumb bar"
        assert crumbs.locator("li").first.inner_text() == "Home"
    if spec.kind is Kind.CHANGE:
        # An object's page shows the object, not the list's "0 results" or an error note.
        assert admin_page.locator("#content-main form").count() == 1
