"""Admin pages: viewers with live count, limit in force and latest sessions; sessions with a
state badge, read-only pages and a confirmed force-end."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from streams.models import EndReason, RefusalHour, StreamSession
from streams.services import StreamLimitReachedError, session_start, session_stop
from tests.admin_checks import assert_constant_queries, assert_read_only, messages_of
from tests.streams.factories import ViewerFactory, sessions_age, starts_refused

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/streams/streamsession/"
REFUSAL_HOURS = "/admin/streams/refusalhour/"


def _ended_sessions(viewer, count: int, *, start_index: int = 0) -> list[StreamSession]:
    """Ended sessions started one minute apart (session i on device d{i})."""
    base = timezone.now() - timedelta(days=1)
    return StreamSession.objects.bulk_create(
        StreamSession(
            viewer=viewer,
            device_id=f"d{i}",
            started_at=base + timedelta(minutes=i),
            last_heartbeat=base + timedelta(minutes=i),
            expires_at=base + timedelta(minutes=i, seconds=60),
            ended_at=base + timedelta(minutes=i, seconds=30),
            end_reason=EndReason.STOPPED,
        )
        for i in range(start_index, start_index + count)
    )


def test_viewer_list_shows_live_count_limit_and_refusals(admin_client):
    ViewerFactory.create(user_id="alice", max_streams=1)
    ViewerFactory.create(user_id="bob")
    session_start(user_id="alice")
    for _ in range(2):
        with pytest.raises(StreamLimitReachedError):
            session_start(user_id="alice")
    lapsed = session_start(user_id="bob").session
    sessions_age(seconds=61, id=lapsed.id)

    response = admin_client.get("/admin/streams/viewer/")
    assert response.status_code == 200
    rows = {row.user_id: row for row in response.context["cl"].result_list}
    assert (rows["alice"].active_count, rows["alice"].effective_limit) == (1, 1)
    assert rows["alice"].refusal_count == 2
    assert (rows["bob"].active_count, rows["bob"].effective_limit) == (0, 3)
    html = response.content.decode()
    assert "?viewer__user_id=alice&amp;state=active" in html
    assert '<td class="field-limit_in_force">1 (own)</td>' in html
    assert '<td class="field-limit_in_force">3 (default)</td>' in html

    refused = admin_client.get("/admin/streams/viewer/?refused=yes")
    assert [v.user_id for v in refused.context["cl"].result_list] == ["alice"]
    assert admin_client.get("/admin/streams/viewer/?o=-3").status_code == 200


def test_viewer_list_reads_the_sessions_of_the_listed_viewers_only(admin_client):
    alice = ViewerFactory.create(user_id="alice")
    _ended_sessions(alice, 3)
    session_start(user_id="alice")
    with CaptureQueriesContext(connection) as page:
        response = admin_client.get("/admin/streams/viewer/")
    assert response.context["cl"].result_list[0].active_count == 1
    # A subquery per listed viewer on the open-session index; no join to every session ever
    # (with a grouping over it, for the page and again for its count: 2 s a page over
    # 1,000,000 sessions).
    sql = [q["sql"] for q in page.captured_queries if "streams_viewer" in q["sql"]]
    assert sql
    assert not any("JOIN" in q and "streams_streamsession" in q for q in sql)


def test_viewer_page_says_a_blank_limit_is_the_default(admin_client, settings):
    settings.STREAMS_DEFAULT_LIMIT = 4
    default = ViewerFactory.create(user_id="alice")
    own = ViewerFactory.create(user_id="bob", max_streams=2)
    page = admin_client.get(f"/admin/streams/viewer/{default.pk}/change/").text
    assert "4: the platform default (STREAMS_DEFAULT_LIMIT = 4)" in page
    assert "Leave blank for the platform default (STREAMS_DEFAULT_LIMIT = 4)." in page
    page = admin_client.get(f"/admin/streams/viewer/{own.pk}/change/").text
    assert "2: the viewer&#x27;s own limit (platform default 4)" in page
    add = admin_client.get("/admin/streams/viewer/add/").text
    assert "4: the platform default (STREAMS_DEFAULT_LIMIT = 4)" in add


def test_viewer_page_lists_the_latest_20_sessions_newest_first(admin_client):
    viewer = ViewerFactory.create(user_id="alice")
    _ended_sessions(viewer, 22)
    live = session_start(user_id="alice", device_id="live").session
    page = admin_client.get(f"/admin/streams/viewer/{viewer.pk}/change/").text
    table = page.split('class="viewer-sessions"')[1].split("</table>")[0]
    devices = [cell.split("</td>")[0] for cell in table.split("<td>")[1:] if cell[:1] in "dl"]
    shown = [d for d in devices if d == "live" or d[1:].isdigit()]
    assert shown == ["live", *[f"d{i}" for i in range(21, 2, -1)]]
    assert table.count("session-state-active") == 1
    assert table.count("session-state-stopped") == 19
    assert f"/admin/streams/streamsession/{live.pk}/change/" in table
    assert "/admin/streams/streamsession/?viewer__user_id=alice" in page


def test_viewer_change_page_and_add(admin_client):
    viewer = ViewerFactory.create(user_id="alice")
    assert admin_client.get(f"/admin/streams/viewer/{viewer.pk}/change/").status_code == 200
    response = admin_client.post(
        "/admin/streams/viewer/add/", {"user_id": "carol", "max_streams": "4"}
    )
    assert response.status_code == 302
    response = admin_client.post(f"/admin/streams/viewer/{viewer.pk}/change/", {"max_streams": "2"})
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.max_streams == 2


def test_session_states_read_distinctly(admin_client):
    ViewerFactory.create(user_id="alice", max_streams=5)
    active = session_start(user_id="alice", device_id="tv").session
    stopped = session_start(user_id="alice", device_id="phone").session
    session_stop(session_id=stopped.id)
    lapsed = session_start(user_id="alice", device_id="tablet").session
    sessions_age(seconds=61, id=lapsed.id)
    forced = session_start(user_id="alice", device_id="car").session
    force = {"action": "force_end", "_selected_action": [str(forced.id)], "confirm": "yes"}
    admin_client.post(SESSIONS, force)
    page = admin_client.get(SESSIONS)
    states = {s.device_id: s.state for s in page.context["cl"].result_list}
    assert states == {"tv": "active", "phone": "stopped", "tablet": "lapsed", "car": "forced"}
    html = page.text
    labels = {"active": "Active", "stopped": "Stopped", "lapsed": "Lapsed (no heartbeat)",
              "forced": "Force-ended"}  # fmt: skip
    for state, label in labels.items():
        assert html.count(f'session-state-{state}"') == 1
        assert f">{label}</span>" in html
    detail = admin_client.get(f"{SESSIONS}{stopped.id}/change/").text
    assert ">Stopped</span>" in detail
    assert active.id != stopped.id


def test_session_list_filters(admin_client):
    ViewerFactory.create(user_id="alice")
    ViewerFactory.create(user_id="bob")
    a_tv = session_start(user_id="alice", device_id="tv").session
    a_phone = session_start(user_id="alice", device_id="phone").session
    b_tv = session_start(user_id="bob", device_id="tv").session

    def listed(query: str) -> set:
        response = admin_client.get(f"{SESSIONS}{query}")
        assert response.status_code == 200
        return {s.id for s in response.context["cl"].result_list}

    assert listed("?viewer__user_id=alice&state=active") == {a_tv.id, a_phone.id}
    assert listed("?device_id=tv") == {a_tv.id, b_tv.id}
    assert listed("?q=bob") == {b_tv.id}
    session_stop(session_id=a_tv.id)
    assert listed("?state=active") == {a_phone.id, b_tv.id}
    assert listed("?state=ended") == {a_tv.id}


def test_force_end_asks_first_then_says_how_many_it_ended(admin_client):
    ViewerFactory.create(user_id="alice")
    ViewerFactory.create(user_id="bob")
    a_tv = session_start(user_id="alice", device_id="tv").session
    a_phone = session_start(user_id="alice", device_id="phone").session
    b_tv = session_start(user_id="bob", device_id="tv").session
    chosen = {"action": "force_end", "_selected_action": [str(a_tv.id), str(b_tv.id)]}

    asked = admin_client.post(SESSIONS, chosen)
    assert asked.status_code == 200
    assert "2 selected." in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert StreamSession.objects.filter(ended_at__isnull=False).count() == 0

    done = admin_client.post(SESSIONS, {**chosen, "confirm": "yes"})
    assert done.status_code == 302
    assert messages_of(done) == ["Ended 2 sessions"]
    reasons = dict(StreamSession.objects.values_list("id", "end_reason"))
    assert reasons == {a_tv.id: EndReason.FORCED, a_phone.id: "", b_tv.id: EndReason.FORCED}

    again = {"action": "force_end", "_selected_action": [str(a_tv.id), str(a_phone.id)]}
    done = admin_client.post(SESSIONS, {**again, "confirm": "yes"})
    assert messages_of(done) == ["Ended 1 session; 1 was already ended"]


def test_sessions_are_read_only(admin_client):
    ViewerFactory.create(user_id="alice")
    session = session_start(user_id="alice").session
    assert_read_only(admin_client, session)
    assert StreamSession.objects.count() == 1


def test_changelists_cost_the_same_queries_for_1_and_20_rows(
    admin_client, django_assert_num_queries
):
    viewer = ViewerFactory.create(user_id="alice")
    made = {"n": 0}

    def make_sessions(count: int) -> None:
        _ended_sessions(viewer, count, start_index=made["n"])
        made["n"] += count

    assert_constant_queries(admin_client, SESSIONS, make_sessions, django_assert_num_queries)

    def make_viewers(count: int) -> None:
        for _ in range(count):
            session_start(user_id=ViewerFactory.create().user_id)

    StreamSession.objects.all().delete()
    viewer.delete()
    assert_constant_queries(
        admin_client, "/admin/streams/viewer/", make_viewers, django_assert_num_queries
    )


def test_refusals_per_hour_are_listed_read_only_and_searchable(admin_client):
    alice = ViewerFactory.create(user_id="alice", max_streams=1)
    ViewerFactory.create(user_id="bob", max_streams=1)
    session_start(user_id="alice", device_id="tv")
    session_start(user_id="bob", device_id="tv")
    starts_refused(user_id="alice", times=3)
    starts_refused(user_id="bob")
    hour = RefusalHour.objects.get(viewer=alice).hour

    listed = admin_client.get(REFUSAL_HOURS)
    assert listed.status_code == 200
    rows = [(r.viewer.user_id, r.count) for r in listed.context["cl"].result_list]
    assert sorted(rows) == [("alice", 3), ("bob", 1)]
    assert re.search(f'field-hour_utc"><a [^>]+>{hour:%Y-%m-%d %H}:00</a>', listed.text)
    only = admin_client.get(f"{REFUSAL_HOURS}?viewer__user_id=alice")
    assert [r.count for r in only.context["cl"].result_list] == [3]
    searched = admin_client.get(f"{REFUSAL_HOURS}?q=bo")
    assert [r.viewer.user_id for r in searched.context["cl"].result_list] == ["bob"]
    assert_read_only(admin_client, RefusalHour.objects.get(viewer=alice))


def test_refusal_hours_list_costs_the_same_queries_for_more_rows(
    admin_client, django_assert_num_queries
):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)

    def make(count: int) -> None:
        start = RefusalHour.objects.count()
        for n in range(start, start + count):
            viewer = ViewerFactory.create(user_id=f"viewer-{n}")
            RefusalHour.objects.create(viewer=viewer, hour=hour, count=n + 1)

    assert_constant_queries(admin_client, REFUSAL_HOURS, make, django_assert_num_queries)


def test_viewer_page_lists_its_refusals_per_hour(admin_client):
    alice = ViewerFactory.create(user_id="alice", max_streams=1)
    session_start(user_id="alice", device_id="tv")
    starts_refused(user_id="alice", times=2)
    hour = RefusalHour.objects.get().hour
    RefusalHour.objects.create(viewer=alice, hour=hour - timedelta(hours=5), count=9)

    page = admin_client.get(f"/admin/streams/viewer/{alice.pk}/change/").text

    table = page.split('class="viewer-refusal-hours"')[1].split("</table>")[0]
    assert _cells(table) == [  # newest first
        (f"{hour:%Y-%m-%d %H}:00", "2"),
        (f"{hour - timedelta(hours=5):%Y-%m-%d %H}:00", "9"),
    ]
    assert f"{REFUSAL_HOURS}?viewer__user_id=alice" in page
    empty = ViewerFactory.create(user_id="bob")
    page = admin_client.get(f"/admin/streams/viewer/{empty.pk}/change/").text
    assert "No refused start in the hours kept." in page


def _cells(table: str) -> list[tuple[str, ...]]:
    rows = (re.findall(r"<td>(.*?)</td>", row) for row in table.split("<tr>"))
    return [tuple(cells) for cells in rows if cells]
