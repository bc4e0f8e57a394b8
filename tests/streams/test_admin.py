"""Admin pages: viewers with live count, limit and refusals; sessions with a force-end action."""

import pytest
from django.contrib.auth import get_user_model

from streams.models import EndReason, StreamSession
from streams.services import StreamLimitReachedError, session_start
from tests.streams.factories import ViewerFactory, sessions_age

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_viewer_list_shows_live_count_limit_and_refusals(admin_client):
    ViewerFactory(user_id="alice", max_streams=1)
    ViewerFactory(user_id="bob")
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

    refused = admin_client.get("/admin/streams/viewer/?refused=yes")
    assert [v.user_id for v in refused.context["cl"].result_list] == ["alice"]
    assert admin_client.get("/admin/streams/viewer/?o=-3").status_code == 200


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


def test_session_list_filters_and_force_end(admin_client):
    ViewerFactory(user_id="alice")
    ViewerFactory(user_id="bob")
    a_tv = session_start(user_id="alice", device_id="tv").session
    a_phone = session_start(user_id="alice", device_id="phone").session
    b_tv = session_start(user_id="bob", device_id="tv").session

    def listed(query: str) -> set:
        response = admin_client.get(f"/admin/streams/streamsession/{query}")
        assert response.status_code == 200
        return {s.id for s in response.context["cl"].result_list}

    assert listed("?viewer__user_id=alice&state=active") == {a_tv.id, a_phone.id}
    assert listed("?device_id=tv") == {a_tv.id, b_tv.id}
    assert listed("?q=bob") == {b_tv.id}

    response = admin_client.post(
        "/admin/streams/streamsession/",
        {"action": "force_end", "_selected_action": [str(a_tv.id), str(b_tv.id)]},
    )
    assert response.status_code == 302
    reasons = dict(StreamSession.objects.values_list("id", "end_reason"))
    assert reasons == {a_tv.id: EndReason.FORCED, a_phone.id: "", b_tv.id: EndReason.FORCED}
    assert listed("?state=active") == {a_phone.id}
    assert listed("?state=ended") == {a_tv.id, b_tv.id}
    assert admin_client.get("/admin/streams/streamsession/add/").status_code == 403
    detail = admin_client.get(f"/admin/streams/streamsession/{a_phone.id}/change/")
    assert detail.status_code == 200
