"""Admin pages of the streams domain: viewers (live count, limit in force, refusals, their latest
sessions) and sessions (a state badge that tells active from stopped, a confirmed force-end)."""

from typing import TypedDict

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_stubs_ext import WithAnnotations

from core.admin import (
    PlatformModelAdmin,
    ReadOnlyModelAdmin,
    action_confirmation,
    counted,
    short_time,
    shortened,
    summary,
)
from streams.models import EndReason, RefusalHour, StreamSession, Viewer
from streams.selectors import (
    SESSION_STATE_ACTIVE,
    SESSION_STATE_LAPSED,
    ViewerCounts,
    session_active_q,
    session_list_recent,
    session_state_expression,
    viewer_list_with_active_count,
)
from streams.services import session_end_many, viewer_set_limit

VIEWER_RECENT_SESSIONS = 20
VIEWER_REFUSAL_HOURS = 24
# Ids run to 255 characters; the start of three of them fits a session row on a laptop.
ID_SHOWN_CHARS = 10

# Text and colour of each state: an operator tells a stopped session from an active one at a
# glance, and by the words alone when colour is not seen.
SESSION_STATE_BADGES = {
    SESSION_STATE_ACTIVE: ("Active", "#1e7e34"),
    SESSION_STATE_LAPSED: ("Lapsed (no heartbeat)", "#b36b00"),
    EndReason.STOPPED: ("Stopped", "#555"),
    EndReason.EXPIRED: ("Expired", "#555"),
    EndReason.FORCED: ("Force-ended", "#a61b1b"),
}


VIEWER_FIELDS = ("user_id", "max_streams", "effective_limit", "refusal_count", "last_refused_at",
                 "refusal_hours", "created_at", "recent_sessions")  # fmt: skip
SESSION_FIELDS = ["id", "status", "viewer", "device_id", "content_id", "started_at",
                  "last_heartbeat", "expires_at", "ended_at", "end_reason"]  # fmt: skip


def session_badge(session: StreamSession) -> SafeString:
    """The badge of the ``state`` the queryset annotated (session_state_expression)."""
    annotated: WithAnnotations[StreamSession, SessionState] = session  # type: ignore[assignment]
    return session_state_badge(annotated.state)


def session_state_badge(state: str) -> SafeString:
    label, colour = SESSION_STATE_BADGES.get(state, ("Ended", "#555"))
    return format_html(
        '<span class="session-state session-state-{}" style="color:#fff;background:{};'
        'padding:1px 6px;border-radius:3px;white-space:nowrap">{}</span>',
        state or "ended",
        colour,
        label,
    )


class SessionState(TypedDict):
    """The annotation of the session list (session_state_expression)."""

    state: str


class ViewerLimitFilter(admin.SimpleListFilter):
    title = "limit"
    parameter_name = "limit"

    def lookups(self, request, model_admin):
        return [("default", "Platform default"), ("own", "Own limit")]

    def queryset(self, request, queryset):
        if self.value() == "default":
            return queryset.filter(max_streams__isnull=True)
        if self.value() == "own":
            return queryset.filter(max_streams__isnull=False)
        return queryset


class ViewerRefusedFilter(admin.SimpleListFilter):
    title = "refused starts"
    parameter_name = "refused"

    def lookups(self, request, model_admin):
        return [("yes", "Refused at least once"), ("no", "Never refused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(refusal_count__gt=0)
        if self.value() == "no":
            return queryset.filter(refusal_count=0)
        return queryset


@admin.register(Viewer)
class ViewerAdmin(PlatformModelAdmin[Viewer]):
    list_display = [
        "user",
        "live_sessions",
        "limit_in_force",
        "refusal_count",
        "last_refused",
        "updated",
    ]
    list_filter = [ViewerLimitFilter, ViewerRefusedFilter]
    search_fields = ["user_id"]
    search_help_text = "Exact or partial user id."
    fields = VIEWER_FIELDS
    # Everything but the two a form edits (user_id only while adding: get_readonly_fields).
    readonly_fields = [name for name in VIEWER_FIELDS if name not in ("user_id", "max_streams")]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Viewer]:
        return viewer_list_with_active_count()

    def get_readonly_fields(self, request, obj=None):
        # A viewer's user_id is their identity in every client: fixed once created.
        return [*self.readonly_fields, "user_id"] if obj else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "max_streams" in form.base_fields:
            form.base_fields["max_streams"].help_text = (
                "Leave blank for the platform default "
                f"(STREAMS_DEFAULT_LIMIT = {settings.STREAMS_DEFAULT_LIMIT})."
            )
        return form

    @admin.display(description="user id", ordering="user_id")
    def user(self, obj: Viewer) -> SafeString:
        return shortened(obj.user_id)

    @admin.display(description="live sessions", ordering="active_count")
    def live_sessions(self, obj: "WithAnnotations[Viewer, ViewerCounts]") -> str:
        url = reverse("admin:streams_streamsession_changelist")
        return format_html(
            '<a href="{}?viewer__user_id={}&amp;state=active">{}</a>',
            url,
            obj.user_id,
            obj.active_count,
        )

    @admin.display(description="limit in force", ordering="effective_limit")
    def limit_in_force(self, obj: Viewer) -> str:
        return f"{obj.limit} (default)" if obj.max_streams is None else f"{obj.limit} (own)"

    @admin.display(description="effective limit")
    def effective_limit(self, obj: Viewer | None) -> str:
        default = settings.STREAMS_DEFAULT_LIMIT
        if obj is None or obj.pk is None or obj.max_streams is None:
            return f"{default}: the platform default (STREAMS_DEFAULT_LIMIT = {default})"
        return f"{obj.max_streams}: the viewer's own limit (platform default {default})"

    @admin.display(description="last refused", ordering="last_refused_at")
    def last_refused(self, obj: Viewer) -> str:
        return short_time(obj.last_refused_at)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Viewer) -> str:
        return short_time(obj.updated_at)

    @admin.display(description=f"refusals per hour (latest {VIEWER_REFUSAL_HOURS} with any)")
    def refusal_hours(self, obj: Viewer | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        hours = obj.refusal_hours.order_by("-hour")[:VIEWER_REFUSAL_HOURS]
        url = reverse("admin:streams_refusalhour_changelist") + f"?viewer__user_id={obj}"
        context = {"hours": hours, "all_url": url}
        return render_to_string("admin/streams/viewer/refusal_hours.html", context)

    @admin.display(description=f"latest {VIEWER_RECENT_SESSIONS} sessions, newest first")
    def recent_sessions(self, obj: Viewer | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        sessions = session_list_recent(viewer=obj, limit=VIEWER_RECENT_SESSIONS)
        rows = [
            (s, session_badge(s), short_time(s.started_at), short_time(s.ended_at))
            for s in sessions
        ]
        all_url = reverse("admin:streams_streamsession_changelist") + f"?viewer__user_id={obj}"
        context = {"rows": rows, "all_url": all_url}
        return render_to_string("admin/streams/viewer/recent_sessions.html", context)

    def save_model(self, request, obj: Viewer, form, change: bool) -> None:
        viewer, _ = viewer_set_limit(user_id=obj.user_id, max_streams=obj.max_streams)
        obj.pk = viewer.pk


class SessionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("active", "Active"),
            ("lapsed", "Expired, not yet closed"),
            ("ended", "Ended"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(session_active_q())
        if self.value() == "lapsed":
            return queryset.filter(ended_at__isnull=True, expires_at__lte=Now())
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(StreamSession)
class StreamSessionAdmin(ReadOnlyModelAdmin):
    """Sessions are started through the API only (it holds the lock that keeps the limit) and
    ended by their clients, the expiry sweep or the force-end action; purged by retention."""

    list_display = [
        "status",
        "viewer_user_id",
        "device",
        "content",
        "started",
        "heartbeat",
        "ends",
    ]
    list_display_links = ["status"]
    list_filter = [SessionStateFilter, "end_reason", "started_at"]
    list_select_related = ["viewer"]
    search_fields = ["=viewer__user_id", "=device_id", "=content_id", "=id"]
    search_help_text = "Exact user id, device id, content id or session id."
    actions = ["force_end"]
    ordering = ["-started_at"]
    fields = tuple(SESSION_FIELDS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StreamSession]:
        return super().get_queryset(request).annotate(state=session_state_expression())

    def lookup_allowed(self, lookup: str, value: str, request=None) -> bool:
        # Filter by user and device from a link or the address bar (?viewer__user_id=...).
        if lookup in ("viewer__user_id", "device_id"):
            return True
        return super().lookup_allowed(lookup, value, request)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return SESSION_FIELDS

    @admin.display(description="state", ordering="state")
    def status(self, obj: StreamSession) -> SafeString:
        return session_badge(obj)

    @admin.display(description="user id", ordering="viewer__user_id")
    def viewer_user_id(self, obj: StreamSession) -> SafeString:
        return shortened(obj.viewer.user_id, ID_SHOWN_CHARS)

    @admin.display(description="device", ordering="device_id")
    def device(self, obj: StreamSession) -> SafeString:
        return shortened(obj.device_id, ID_SHOWN_CHARS)

    @admin.display(description="content", ordering="content_id")
    def content(self, obj: StreamSession) -> SafeString:
        return shortened(obj.content_id, ID_SHOWN_CHARS)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: StreamSession) -> str:
        return short_time(obj.started_at)

    @admin.display(description="heartbeat", ordering="last_heartbeat")
    def heartbeat(self, obj: StreamSession) -> str:
        return short_time(obj.last_heartbeat)

    @admin.display(description="ends", ordering="expires_at")
    def ends(self, obj: StreamSession) -> str:
        # When it ended, or when its lease runs out unless a heartbeat comes.
        return short_time(obj.ended_at or obj.expires_at)

    @admin.action(description="Force end the selected sessions", permissions=["operate"])
    def force_end(
        self, request: HttpRequest, queryset: QuerySet[StreamSession]
    ) -> TemplateResponse | None:
        confirmation = action_confirmation(
            self,
            request,
            queryset,
            question="Force end these sessions?",
            consequence="Each open one ends now; its device must start a new session to play.",
        )
        if confirmation is not None:
            return confirmation
        selected = queryset.count()
        ended = session_end_many(session_ids=queryset.values_list("id", flat=True))
        skipped = selected - ended
        message = summary(
            [
                f"Ended {counted(ended, 'session')}",
                f"{counted(skipped, 'was', 'were')} already ended" if skipped else "",
            ]
        )
        self.message_user(request, message, messages.SUCCESS)
        return None


@admin.register(RefusalHour)
class RefusalHourAdmin(ReadOnlyModelAdmin):
    """Refused starts per viewer and hour, written by the refusing start (decision 0031)."""

    list_display = ["hour_utc", "viewer_user_id", "count"]
    list_select_related = ["viewer"]
    date_hierarchy = "hour"
    search_fields = ["viewer__user_id"]
    search_help_text = "Exact or partial user id."

    def lookup_allowed(self, lookup: str, value: str, request=None) -> bool:
        # The viewer page links here with ?viewer__user_id=...
        return lookup == "viewer__user_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="hour (UTC)", ordering="hour")
    def hour_utc(self, obj: RefusalHour) -> str:
        return f"{obj.hour:%Y-%m-%d %H:00}"

    @admin.display(description="user id", ordering="viewer__user_id")
    def viewer_user_id(self, obj: RefusalHour) -> SafeString:
        return shortened(obj.viewer.user_id)
