"""Operator pages for the platform's own tables, and the admin pieces every domain shares: the
read-only base, the confirmation page of actions that would hurt if mistaken, counted messages
and compact timestamps (lists must fit a 1,366 px screen)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_permission_codename
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from core.models import RateLimitCounter

CONFIRM_LISTED_MAX = 20

M = TypeVar("M", bound=Model)


class PlatformModelAdmin(admin.ModelAdmin[M]):
    """The base of every page of the platform's own tables.

    No facet counts (Django's "Show counts"): each one is a count per filter choice over the
    whole table, which on the tables that grow (events, sessions, requests, rollups) ran for
    minutes a page, holding a web worker and a database connection (decision 0072)."""

    show_facets = admin.ShowFacets.NEVER


class ReadOnlyModelAdmin(PlatformModelAdmin[Any]):
    """Rows written only by the services: shown and filtered, never added, edited or deleted by
    hand. An admin action that calls a service may still change them: such actions declare
    ``permissions=["operate"]``, granted by the model's change permission."""

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return operate_allowed(request, self.opts)


def operate_allowed(request: HttpRequest, opts: Any) -> bool:
    """May this user run the actions that call a service on these rows (the change permission
    Django grants, though the page itself edits nothing)?"""
    codename = get_permission_codename("change", opts)
    return bool(request.user.has_perm(f"{opts.app_label}.{codename}"))


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``counted(1, "session")`` → "1 session"; ``counted(3, "session")`` → "3 sessions"."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def short_time(moment: datetime | None) -> str:
    """A timestamp in the operator's time zone, to the second, in 19 characters."""
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def shortened(text: str | None, chars: int = 24) -> SafeString:
    """The start of a long text in a list cell (ids run to 255 characters); the whole of it on
    hover, on the object's page and in the search."""
    text = text or "-"
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(chars))


def action_confirmation(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    question: str,
    consequence: str,
) -> TemplateResponse | None:
    """The page that asks before an action runs; None once the operator has said yes.

    The page posts the same action, selection and list filters back with ``confirm=yes``, so
    what runs is what the operator saw listed."""
    if request.POST.get("confirm") == "yes":
        return None
    count = queryset.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": question,
        "opts": modeladmin.opts,
        "count": count,
        "consequence": consequence,
        "listed": [str(obj) for obj in queryset[:CONFIRM_LISTED_MAX]],
        "more": max(count - CONFIRM_LISTED_MAX, 0),
        "action": request.POST.get("action", ""),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "checkbox_name": ACTION_CHECKBOX_NAME,
        "back": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/core/confirm_action.html", context)


def summary(parts: Sequence[str]) -> str:
    """Join the non-empty parts of an action's message."""
    return "; ".join(part for part in parts if part)


@admin.register(RateLimitCounter)
class RateLimitCounterAdmin(ReadOnlyModelAdmin):
    """Who is being counted now (read-only: the limiter writes these rows)."""

    list_display = ("key", "window_start", "count", "expires_at")
    search_fields = ("key",)
    ordering = ("-window_start", "-count")
