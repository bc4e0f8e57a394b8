"""Every admin page an operator can reach loads (changelist, search, add form) for a superuser."""

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


def test_admin_index_lists_the_platform(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert b"Scheduled tasks" in response.content


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_changelist_and_search_load(admin_client, app_label, model_name):
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "x"}).status_code == 200


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_add_form_loads_or_is_refused(admin_client, app_label, model_name):
    model_admin = next(
        ma
        for model, ma in admin.site._registry.items()
        if (model._meta.app_label, model._meta.model_name) == (app_label, model_name)
    )
    response = admin_client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    request = response.wsgi_request
    assert response.status_code == (200 if model_admin.has_add_permission(request) else 403)


def test_rate_limit_counters_are_read_only(admin_client, django_assert_num_queries):
    from django.utils import timezone

    from core.models import RateLimitCounter
    from tests.admin_checks import assert_constant_queries, assert_read_only

    def make(count: int) -> None:
        start = RateLimitCounter.objects.count()
        for i in range(start, start + count):
            RateLimitCounter.objects.create(
                key=f"ip:10.0.0.{i}", window_start=i, count=1, expires_at=timezone.now()
            )

    url = "/admin/core/ratelimitcounter/"
    assert_constant_queries(admin_client, url, make, django_assert_num_queries)
    assert_read_only(admin_client, RateLimitCounter.objects.first())
    assert RateLimitCounter.objects.count() == 20


PLATFORM_APPS = {"analytics", "core", "ingestion", "royalties", "streams", "webhooks"}
PLATFORM_ADMINS = sorted(
    (model._meta.label, model_admin)
    for model, model_admin in admin.site._registry.items()
    if model._meta.app_label in PLATFORM_APPS
)


@pytest.mark.parametrize(("label", "model_admin"), PLATFORM_ADMINS, ids=lambda v: str(v))
def test_no_platform_page_offers_facet_counts(label, model_admin):
    # A count per filter choice over the whole table: minutes a page on the tables that grow.
    assert model_admin.show_facets is admin.ShowFacets.NEVER


def test_asking_for_facets_counts_nothing(admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.ingestion.factories import EventFactory

    EventFactory.create_batch(3)
    url = "/admin/ingestion/event/"
    with CaptureQueriesContext(connection) as plain:
        assert "Show counts" not in admin_client.get(url).text
    with CaptureQueriesContext(connection) as asked:
        assert admin_client.get(url, {"_facets": "True"}).status_code == 200
    assert len(asked) == len(plain)  # no count per filter choice
