"""Checks every domain's admin tests share: read-only pages and changelist query budgets."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse


def admin_of(model: type[Model]) -> admin.ModelAdmin:
    return admin.site._registry[model]


def assert_read_only(client, obj: Model | None) -> None:
    """No add, change or delete, by the permissions and by every page that would do them."""
    assert obj is not None, "no row to open: the test made none"
    model_admin = admin_of(type(obj))
    opts = model_admin.opts
    name = f"admin:{opts.app_label}_{opts.model_name}"
    page = client.get(reverse(f"{name}_change", args=[obj.pk]))
    request = page.wsgi_request
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request, obj) is False
    assert model_admin.has_delete_permission(request, obj) is False
    assert page.status_code == 200
    assert page.context["title"] == f"View {opts.verbose_name}"
    assert 'name="_save"' not in page.text
    assert "Delete" not in page.text.split('id="content-main"')[1]
    assert client.get(reverse(f"{name}_add")).status_code == 403
    assert client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    assert client.get(reverse(f"{name}_delete", args=[obj.pk])).status_code == 403
    changelist = client.get(reverse(f"{name}_changelist"))
    assert 'value="delete_selected"' not in changelist.text
    assert reverse(f"{name}_add") not in changelist.text


def changelist_queries(client, url: str, rows: int) -> int:
    """How many queries the changelist at ``url`` costs, checking it lists ``rows`` rows."""
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url)
    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == rows
    return len(captured.captured_queries)


def assert_constant_queries(
    client, url: str, make: Callable[[int], object], django_assert_num_queries
) -> None:
    """The changelist costs the same number of queries for 1 row as for 20."""
    client.get(url)  # the first request of a client warms per-process caches
    make(1)
    one = changelist_queries(client, url, 1)
    make(19)
    with django_assert_num_queries(one):
        page = client.get(url)
    assert len(page.context["cl"].result_list) == 20


def messages_of(response) -> list[str]:
    """The messages this response's request added (not those left over from earlier ones)."""
    storage: Any = get_messages(response.wsgi_request)
    return [str(message) for message in storage._queued_messages]
