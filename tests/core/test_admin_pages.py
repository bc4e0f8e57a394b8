"""The admin page list the browser test and the screenshots walk is the admin site's own."""

from django.contrib import admin
from django.contrib.auth import get_user_model

from core.admin_pages import Kind, admin_page_specs, admin_request

User = get_user_model()


def _specs():
    return admin_page_specs(request=admin_request(User(is_superuser=True, is_staff=True)))


def test_every_registered_model_has_its_list_and_object_page():
    names = {spec.name for spec in _specs()}
    for model in admin.site._registry:
        label = model._meta.label_lower
        assert f"{label}:changelist" in names
        assert f"{label}:change" in names


def test_add_forms_only_where_the_admin_allows_adding():
    adds = {spec.name for spec in _specs() if spec.kind is Kind.ADD}
    assert "royalties.revenueshare:add" in adds
    assert "streams.viewer:add" in adds
    assert "royalties.run:add" in adds  # the upload form that starts a run
    assert "royalties.label:add" not in adds
    assert "streams.streamsession:add" not in adds
    assert "ingestion.event:add" not in adds


def test_custom_views_come_from_the_model_admins_urls():
    custom = {spec.name: spec.url_arguments for spec in _specs() if spec.kind is Kind.CUSTOM}
    assert custom["analytics.app:analytics_overview"] == 0
    assert custom["webhooks.faileddelivery:webhooks_faileddelivery_retry_matching"] == 0
    # A POST-only action and a download are not pages (the ModelAdmin's ``not_pages``).
    assert "royalties.run:royalties_run_rerun" not in custom
    assert "royalties.run:royalties_run_csv" not in custom
    assert custom["auth.user:auth_user_password_change"] == 1


def test_index_password_change_and_every_app_page_are_listed():
    specs = _specs()
    assert [spec.kind for spec in specs[:2]] == [Kind.INDEX, Kind.PASSWORD_CHANGE]
    apps = {spec.app_label for spec in specs if spec.kind is Kind.APP}
    assert apps == {model._meta.app_label for model in admin.site._registry}
