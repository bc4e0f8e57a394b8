"""The service API and the compat endpoint of the streams domain, as shared/spec/streams.md says."""

import uuid
from datetime import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from streams.models import EndReason, StreamSession, Viewer
from tests.streams.factories import ViewerFactory, sessions_age

pytestmark = pytest.mark.django_db

START = "/api/streams/sessions"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _start(client, **body):
    return client.post(START, body, format="json")


# --- start ----------------------------------------------------------------------------------


def test_start_201_body(session_client):
    ViewerFactory(user_id="alice")
    response = _start(session_client, user_id="alice", device_id="tv", content_id="film-1")
    assert response.status_code == 201
    session = StreamSession.objects.get()
    assert response.json() == {
        "id": str(session.id),
        "user_id": "alice",
        "device_id": "tv",
        "content_id": "film-1",
        "started_at": _iso(session.started_at),
        "expires_at": _iso(session.expires_at),
        "heartbeat_seconds": 20,
        "active": 1,
        "limit": 3,
    }
    assert (session.expires_at - session.started_at).total_seconds() == 60
    assert session.last_heartbeat == session.started_at
    assert session.ended_at is None


def test_start_without_device_or_content(session_client):
    ViewerFactory(user_id="alice")
    response = _start(session_client, user_id="alice")
    assert response.status_code == 201
    assert response.json()["device_id"] is None
    assert response.json()["content_id"] is None
    # An empty string means "no device" as well: no device idempotency applies.
    assert _start(session_client, user_id="alice", device_id="").status_code == 201
    assert StreamSession.objects.filter(device_id__isnull=True).count() == 2


def test_start_with_client_session_id(session_client):
    ViewerFactory(user_id="alice")
    session_id = uuid.uuid4()
    response = _start(session_client, user_id="alice", session_id=str(session_id))
    assert response.status_code == 201
    assert response.json()["id"] == str(session_id)


def test_start_refused_409_lists_active_and_writes_no_session(session_client):
    viewer = ViewerFactory.create(user_id="alice", max_streams=2)
    first = _start(session_client, user_id="alice", device_id="tv", content_id="a").json()
    second = _start(session_client, user_id="alice", device_id="phone").json()
    response = _start(session_client, user_id="alice", device_id="laptop", content_id="c")
    assert response.status_code == 409
    sessions = {str(s.id): s for s in StreamSession.objects.all()}
    assert response.json() == {
        "code": "stream_limit_reached",
        "detail": "The viewer already has 2 active stream(s); the limit is 2.",
        "limit": 2,
        "active": [
            {
                "id": item["id"],
                "device_id": device,
                "content_id": content,
                "started_at": _iso(sessions[item["id"]].started_at),
                "last_heartbeat": _iso(sessions[item["id"]].last_heartbeat),
                "expires_at": _iso(sessions[item["id"]].expires_at),
            }
            for item, device, content in ((first, "tv", "a"), (second, "phone", None))
        ],
    }
    assert StreamSession.objects.count() == 2
    viewer.refresh_from_db()
    assert viewer.refusal_count == 1
    assert viewer.last_refused_at is not None


def test_start_unknown_viewer_404(session_client):
    response = _start(session_client, user_id="nobody")
    assert response.status_code == 404
    assert response.json() == {"code": "viewer_not_found", "detail": "Unknown viewer 'nobody'."}
    assert StreamSession.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"user_id": ["This field is required."]}),
        ({"user_id": ""}, {"user_id": ["This field may not be blank."]}),
        ({"user_id": None}, {"user_id": ["This field may not be null."]}),
        (
            {"user_id": "u" * 256},
            {"user_id": ["Ensure this field has no more than 255 characters."]},
        ),
        (
            {"user_id": "alice", "device_id": "d" * 256},
            {"device_id": ["Ensure this field has no more than 255 characters."]},
        ),
        (
            {"user_id": "alice", "content_id": "c" * 256},
            {"content_id": ["Ensure this field has no more than 255 characters."]},
        ),
        ({"user_id": "alice", "session_id": "nope"}, {"session_id": ["Must be a valid UUID."]}),
        ({"user_id": ["alice"]}, {"user_id": ["Not a valid string."]}),
        ({"user_id": 7}, {"user_id": ["Not a valid string."]}),
        ({"user_id": "alice", "device": "tv"}, {"device": ["Unknown field."]}),
    ],
)
def test_start_bad_input_400(session_client, body, errors):
    ViewerFactory(user_id="alice")
    response = _start(session_client, **body)
    assert response.status_code == 400
    assert response.json() == errors
    assert StreamSession.objects.count() == 0


def test_start_non_object_body_and_wrong_content_type(session_client):
    ViewerFactory(user_id="alice")
    response = session_client.post(START, "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    response = session_client.post(START, "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    response = session_client.post(START, "user_id=alice", content_type="text/plain")
    assert response.status_code == 415
    assert StreamSession.objects.count() == 0


# --- idempotent retries ---------------------------------------------------------------------


def test_retry_with_same_session_id_returns_existing(session_client):
    ViewerFactory(user_id="alice", max_streams=1)
    session_id = str(uuid.uuid4())
    first = _start(session_client, user_id="alice", session_id=session_id)
    retry = _start(session_client, user_id="alice", session_id=session_id)
    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert StreamSession.objects.count() == 1
    assert Viewer.objects.get().refusal_count == 0


def test_retry_from_same_device_returns_existing(session_client):
    ViewerFactory(user_id="alice", max_streams=1)
    first = _start(session_client, user_id="alice", device_id="tv", content_id="a")
    retry = _start(session_client, user_id="alice", device_id="tv", content_id="a")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    other_device = _start(session_client, user_id="alice", device_id="phone")
    assert other_device.status_code == 409
    assert StreamSession.objects.count() == 1


def test_same_device_after_stop_or_expiry_starts_a_new_session(session_client):
    ViewerFactory(user_id="alice", max_streams=1)
    first = _start(session_client, user_id="alice", device_id="tv").json()
    session_client.delete(f"{START}/{first['id']}")
    second = _start(session_client, user_id="alice", device_id="tv")
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]

    sessions_age(seconds=61, id=second.json()["id"])
    third = _start(session_client, user_id="alice", device_id="tv")
    assert third.status_code == 201
    lapsed = StreamSession.objects.get(id=second.json()["id"])
    assert lapsed.end_reason == EndReason.EXPIRED
    assert lapsed.ended_at == lapsed.expires_at


def test_session_id_of_an_ended_session_is_409(session_client):
    ViewerFactory(user_id="alice")
    session_id = str(uuid.uuid4())
    _start(session_client, user_id="alice", session_id=session_id)
    session_client.delete(f"{START}/{session_id}")
    response = _start(session_client, user_id="alice", session_id=session_id)
    assert response.status_code == 409
    assert response.json() == {
        "code": "session_ended",
        "detail": "This session has ended; start a new one with a new session_id.",
    }


def test_session_id_of_another_viewer_is_409(session_client):
    ViewerFactory(user_id="alice")
    ViewerFactory(user_id="bob")
    session_id = str(uuid.uuid4())
    _start(session_client, user_id="alice", session_id=session_id)
    response = _start(session_client, user_id="bob", session_id=session_id)
    assert response.status_code == 409
    assert response.json()["code"] == "session_id_taken"
    assert StreamSession.objects.count() == 1


# --- heartbeat and stop ---------------------------------------------------------------------


def test_heartbeat_extends_lease_from_database_now(session_client):
    ViewerFactory(user_id="alice")
    started = _start(session_client, user_id="alice", device_id="tv").json()
    sessions_age(seconds=30, id=started["id"])
    response = session_client.post(f"{START}/{started['id']}/heartbeat")
    assert response.status_code == 200
    session = StreamSession.objects.get()
    assert response.json() == {
        "id": started["id"],
        "user_id": "alice",
        "device_id": "tv",
        "content_id": None,
        "started_at": _iso(session.started_at),
        "last_heartbeat": _iso(session.last_heartbeat),
        "expires_at": _iso(session.expires_at),
        "heartbeat_seconds": 20,
    }
    assert (session.expires_at - session.last_heartbeat).total_seconds() == 60
    assert (session.last_heartbeat - session.started_at).total_seconds() >= 30


def test_heartbeat_unknown_404_ended_410_expired_410(session_client):
    ViewerFactory(user_id="alice")
    response = session_client.post(f"{START}/{uuid.uuid4()}/heartbeat")
    assert response.status_code == 404
    assert response.json() == {"code": "session_not_found", "detail": "Unknown stream session."}

    stopped = _start(session_client, user_id="alice").json()
    session_client.delete(f"{START}/{stopped['id']}")
    response = session_client.post(f"{START}/{stopped['id']}/heartbeat")
    assert response.status_code == 410
    assert response.json() == {
        "code": "session_ended",
        "detail": "This session has ended or expired; start a new one.",
    }

    lapsed = _start(session_client, user_id="alice").json()
    sessions_age(seconds=60, id=lapsed["id"])
    expires_before = StreamSession.objects.get(id=lapsed["id"]).expires_at
    assert session_client.post(f"{START}/{lapsed['id']}/heartbeat").status_code == 410
    assert StreamSession.objects.get(id=lapsed["id"]).expires_at == expires_before


def test_non_uuid_session_path_is_404(session_client):
    assert session_client.post(f"{START}/not-a-uuid/heartbeat").status_code == 404
    assert session_client.delete(f"{START}/not-a-uuid").status_code == 404


def test_stop_is_idempotent_and_frees_the_slot(session_client):
    ViewerFactory(user_id="alice", max_streams=1)
    started = _start(session_client, user_id="alice").json()
    first = session_client.delete(f"{START}/{started['id']}")
    assert first.status_code == 204
    assert first.content == b""
    session = StreamSession.objects.get()
    assert session.end_reason == EndReason.STOPPED
    ended_at = session.ended_at
    assert ended_at is not None
    assert session.started_at <= ended_at <= timezone.now()
    assert ended_at < session.expires_at
    assert session_client.delete(f"{START}/{started['id']}").status_code == 204
    session.refresh_from_db()
    assert session.ended_at == ended_at
    assert _start(session_client, user_id="alice").status_code == 201


def test_stop_unknown_404(session_client):
    response = session_client.delete(f"{START}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"code": "session_not_found", "detail": "Unknown stream session."}


# --- viewers --------------------------------------------------------------------------------


def test_viewer_get(operator_client, session_client, django_assert_num_queries):
    ViewerFactory(user_id="alice", max_streams=2)
    started = _start(session_client, user_id="alice", device_id="tv").json()
    session = StreamSession.objects.get()
    # token lookup, viewer, active sessions
    with django_assert_num_queries(3):
        response = operator_client.get("/api/streams/viewers/alice")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": "alice",
        "max_streams": 2,
        "active": [
            {
                "id": started["id"],
                "device_id": "tv",
                "content_id": None,
                "started_at": _iso(session.started_at),
                "last_heartbeat": _iso(session.last_heartbeat),
                "expires_at": _iso(session.expires_at),
            }
        ],
        "can_start": True,
    }
    _start(session_client, user_id="alice", device_id="phone")
    assert operator_client.get("/api/streams/viewers/alice").json()["can_start"] is False


def test_viewer_get_unknown_404(operator_client):
    response = operator_client.get("/api/streams/viewers/nobody")
    assert response.status_code == 404
    assert response.json() == {"code": "viewer_not_found", "detail": "Unknown viewer 'nobody'."}


def test_viewer_put_creates_then_updates(operator_client):
    response = operator_client.put("/api/streams/viewers/alice", {"max_streams": 5}, format="json")
    assert response.status_code == 201
    assert response.json() == {
        "user_id": "alice",
        "max_streams": 5,
        "active": [],
        "can_start": True,
    }
    response = operator_client.put("/api/streams/viewers/alice", {"max_streams": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["max_streams"] == 2
    assert Viewer.objects.get().max_streams == 2
    # Absent means the default limit.
    response = operator_client.put("/api/streams/viewers/alice", {}, format="json")
    assert response.status_code == 200
    assert response.json()["max_streams"] == settings.STREAMS_DEFAULT_LIMIT
    assert Viewer.objects.get().max_streams is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"max_streams": 0}, {"max_streams": ["Ensure this value is greater than or equal to 1."]}),
        (
            {"max_streams": 101},
            {"max_streams": ["Ensure this value is less than or equal to 100."]},
        ),
        ({"max_streams": "many"}, {"max_streams": ["A valid integer is required."]}),
        ({"max_streams": 2.5}, {"max_streams": ["A valid integer is required."]}),
        ({"max_streams": "5"}, {"max_streams": ["A valid integer is required."]}),
        ({"max_streams": True}, {"max_streams": ["A valid integer is required."]}),
        ({"max_stream": 10}, {"max_stream": ["Unknown field."]}),
        ({"max_streams": 2, "limit": 1}, {"limit": ["Unknown field."]}),
    ],
)
def test_viewer_put_bad_input_400(operator_client, body, errors):
    response = operator_client.put("/api/streams/viewers/alice", body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert Viewer.objects.count() == 0


def test_a_typo_never_resets_a_viewer_limit(operator_client):
    ViewerFactory(user_id="carol", max_streams=5)
    response = operator_client.put("/api/streams/viewers/carol", {"max_stream": 10}, format="json")
    assert response.status_code == 400
    assert response.json() == {"max_stream": ["Unknown field."]}
    response = operator_client.put("/api/streams/viewers/carol", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "detail": "A JSON body is required (send {} to keep every default).",
    }
    assert Viewer.objects.get().max_streams == 5


def test_viewer_put_user_id_too_long_400(operator_client):
    response = operator_client.put(f"/api/streams/viewers/{'u' * 256}", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"user_id": ["Ensure this field has no more than 255 characters."]}
    assert Viewer.objects.count() == 0
    assert operator_client.get(f"/api/streams/viewers/{'u' * 256}").status_code == 404
    response = operator_client.put(f"/api/streams/viewers/{'u' * 255}", {}, format="json")
    assert response.status_code == 201


def test_nul_characters_never_reach_the_database(api_client, operator_client):
    ViewerFactory(user_id="alice")
    nul_in_url = {
        "code": "nul_character",
        "detail": "The URL may not contain NUL characters (%00).",
    }
    for response in (
        api_client.get("/add-stream/user/a%00b"),
        operator_client.get("/api/streams/viewers/a%00b"),
        operator_client.put("/api/streams/viewers/a%00b", {}, format="json"),
    ):
        assert response.status_code == 400
        assert response.json() == nul_in_url
    body = {"user_id": "alice", "device_id": "tv\x00", "content_id": "c\x00"}
    response = operator_client.post(START, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "device_id": ["Null characters are not allowed."],
        "content_id": ["Null characters are not allowed."],
    }
    response = operator_client.post(START, {"user_id": "a\x00"}, format="json")
    assert response.json() == {"user_id": ["Null characters are not allowed."]}
    assert StreamSession.objects.count() == 0


def test_lowered_limit_refuses_new_starts_but_keeps_running_ones(session_client, operator_client):
    ViewerFactory(user_id="alice", max_streams=3)
    for device in ("a", "b", "c"):
        assert _start(session_client, user_id="alice", device_id=device).status_code == 201
    response = operator_client.put("/api/streams/viewers/alice", {"max_streams": 1}, format="json")
    assert response.status_code == 200
    assert len(response.json()["active"]) == 3
    assert response.json()["can_start"] is False
    assert _start(session_client, user_id="alice", device_id="d").status_code == 409
    running = list(StreamSession.objects.values_list("id", flat=True))
    for session_id in running:
        assert session_client.post(f"{START}/{session_id}/heartbeat").status_code == 200
    for session_id in running[:2]:
        session_client.delete(f"{START}/{session_id}")
    assert _start(session_client, user_id="alice", device_id="d").status_code == 409
    session_client.delete(f"{START}/{running[2]}")
    assert _start(session_client, user_id="alice", device_id="d").status_code == 201


# --- compat ---------------------------------------------------------------------------------


def test_compat_true_false_and_unknown(api_client, session_client):
    ViewerFactory(user_id="42", max_streams=1)
    response = api_client.get("/add-stream/user/42")
    assert response.status_code == 200
    assert response.content == b'{"can_add_stream":true,"errors":null}'
    started = _start(session_client, user_id="42").json()
    response = api_client.get("/add-stream/user/42")
    assert response.status_code == 200
    assert response.json() == {"can_add_stream": False, "errors": None}
    sessions_age(seconds=60, id=started["id"])
    assert api_client.get("/add-stream/user/42").json() == {"can_add_stream": True, "errors": None}

    response = api_client.get("/add-stream/user/unknown")
    assert response.status_code == 404
    assert response.json() == {
        "can_add_stream": None,
        "errors": "Unable to verify stream availability.",
    }


def test_compat_ignores_bad_credentials(client):
    ViewerFactory(user_id="42")
    response = client.get("/add-stream/user/42", HTTP_AUTHORIZATION="Token wrong")
    assert response.status_code == 200
    assert response.json() == {"can_add_stream": True, "errors": None}


# --- permissions ----------------------------------------------------------------------------


def _calls(session_id: str):
    return [
        ("post", START, {"user_id": "alice"}),
        ("post", f"{START}/{session_id}/heartbeat", None),
        ("delete", f"{START}/{session_id}", None),
        ("get", "/api/streams/viewers/alice", None),
        ("put", "/api/streams/viewers/alice", {"max_streams": 2}),
    ]


def test_no_credentials_401(api_client):
    ViewerFactory(user_id="alice")
    for method, url, body in _calls(str(uuid.uuid4())):
        response = getattr(api_client, method)(url, body, format="json")
        assert response.status_code == 401, (method, url)
    assert StreamSession.objects.count() == 0


def test_without_permission_403(make_client):
    ViewerFactory(user_id="alice", max_streams=1)
    client = make_client(perms=("streams.view_viewer",))
    for method, url, body in _calls(str(uuid.uuid4())):
        response = getattr(client, method)(url, body, format="json")
        expected = 200 if (method, url) == ("get", "/api/streams/viewers/alice") else 403
        assert response.status_code == expected, (method, url)
    assert StreamSession.objects.count() == 0
    assert Viewer.objects.get().max_streams == 1


def test_session_permission_does_not_manage_viewers(session_client):
    ViewerFactory(user_id="alice")
    assert session_client.get("/api/streams/viewers/alice").status_code == 403
    response = session_client.put("/api/streams/viewers/alice", {"max_streams": 9}, format="json")
    assert response.status_code == 403


def test_viewer_permissions(make_client):
    client = make_client(perms=("streams.add_viewer", "streams.change_viewer"))
    response = client.put("/api/streams/viewers/bob", {"max_streams": 2}, format="json")
    assert response.status_code == 201
    only_change = make_client(perms=("streams.change_viewer",))
    response = only_change.put("/api/streams/viewers/bob", {"max_streams": 3}, format="json")
    assert response.status_code == 403
