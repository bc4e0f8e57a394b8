"""``POST /liveEvent`` on the WSGI fast path (ingestion.api.fast, decision 0073): each answer
the same bytes as the full stack's, each event stored once."""

from typing import Any

import pytest
from django.db import OperationalError

from config.wsgi import application, django_application
from ingestion.api import fast
from ingestion.models import Event
from tests.wsgi import Answer, call

pytestmark = pytest.mark.django_db(transaction=True)

LIVE_EVENT = "/liveEvent"
BODY = b'{"userId": "u1", "name": "add_revenue", "value": 7}'


def live(app, *, body: bytes = BODY, **extra: Any) -> Answer:
    """The secret unless ``HTTP_AUTHORIZATION`` is given (None: no header)."""
    headers = {"HTTP_AUTHORIZATION": "secret", **extra}
    headers = {name: value for name, value in headers.items() if value is not None}
    return call(app, path=LIVE_EVENT, body=body, **headers)


def test_an_event_is_answered_as_the_full_stack_answers_it(taken):
    fast_answer = live(application)
    assert taken == [201]
    full_answer = live(django_application)
    assert fast_answer.status == full_answer.status == "201 Created"
    assert fast_answer.headers == full_answer.headers
    assert fast_answer.headers["Allow"] == "POST, OPTIONS"
    stored = [str(pk) for pk in Event.objects.order_by("pk").values_list("pk", flat=True)]
    assert len(stored) == 2
    assert fast_answer.body == b'{"id":"%s","status":"accepted"}' % stored[0].encode()
    assert full_answer.body == b'{"id":"%s","status":"accepted"}' % stored[1].encode()


def test_a_repeated_key_is_the_originals_200_on_both(taken):
    first = live(application, HTTP_IDEMPOTENCY_KEY="k-1")
    again = live(application, HTTP_IDEMPOTENCY_KEY="k-1")
    full = live(django_application, HTTP_IDEMPOTENCY_KEY="k-1")
    assert taken == [201, 200]
    assert again == full
    assert again.status == "200 OK"
    assert again.body == first.body[:-1] + b',"duplicate":true}'
    assert Event.objects.count() == 1


UNTOUCHED: dict[str, dict[str, Any]] = {
    "no secret": {"HTTP_AUTHORIZATION": None},
    "a wrong secret": {"HTTP_AUTHORIZATION": "Secret secret"},
    "malformed JSON": {"body": b'{"userId": '},
    "an invalid event": {"body": b'{"userId": "u1", "name": "add_revenue"}'},
    "an empty Idempotency-Key": {"HTTP_IDEMPOTENCY_KEY": ""},
    "not JSON": {"CONTENT_TYPE": "text/plain"},
}


@pytest.mark.parametrize("case", list(UNTOUCHED), ids=list(UNTOUCHED))
def test_what_the_fast_path_does_not_take_is_the_views(case, taken):
    request = UNTOUCHED[case]
    fast_answer = live(application, **request)
    assert taken == []
    assert fast_answer == live(django_application, **request)
    assert fast_answer.status.split()[0] in {"400", "401", "415"}
    assert Event.objects.count() == 0


def test_an_outage_while_storing_is_the_views_503_and_stores_nothing(taken, monkeypatch):
    calls: list[int] = []

    def locked(**_):
        calls.append(1)
        raise OperationalError("database is locked")

    monkeypatch.setattr(fast, "event_accept", locked)
    answer = live(application)
    assert taken == []
    assert answer.status == "503 Service Unavailable"
    assert answer.headers["Retry-After"] == "5"
    assert calls == [1]
    assert Event.objects.count() == 0
