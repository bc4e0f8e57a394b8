"""The admin crawl of the admin_scale scenario reaches every registered page, and every page
it reaches answers (403 only for the delete pages of read-only rows)."""

import pytest
from django.contrib import admin

from bench.admin_crawl import crawl
from tests.analytics.factories import registered_app
from tests.ingestion.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_the_crawl_reaches_every_list_and_every_page_answers(admin_user):
    registered_app(name="crawled")
    EventFactory.create_batch(2)
    figures = crawl(admin_user.username)
    assert figures["failed"] == []
    assert figures["pages"] >= len(admin.site._registry) + 1  # every list and the dashboard
    refused = figures["not_200"]
    assert refused  # the read-only rows' delete pages were reached, and refused
    assert all(status == 403 and url.endswith("/delete/") for _, status, url in refused)
