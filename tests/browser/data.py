"""The data the browser tests run on: the demo data of ``manage.py start``, plus one row of
every admin model the demo data leaves empty, so every change page has an object to show."""

import contextlib
import io
from datetime import timedelta
from importlib import import_module

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.demo import demo_load

# Rows that data migrations write, which a flush (after any transactional test) removes.
MIGRATION_SEEDS = [("royalties.migrations.0002_revenue_shares", "seed")]
# A viewer of the browser data who plays one stream, at a limit of 1.
REFUSED_VIEWER = "erin"
REFUSED_VIEWER_DEVICE = "phone"


def browser_data_load() -> None:
    for module, function in MIGRATION_SEEDS:
        getattr(import_module(module), function)(apps, None)
    demo_load(stdout=io.StringIO())
    _accounts_add()
    _queue_rows_add()
    _streams_add()
    _webhooks_add()


def _accounts_add() -> None:
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    Group.objects.get_or_create(name="support")
    operator = get_user_model().objects.get(username="operator")
    EmailAddress.objects.get_or_create(
        user=operator, email="operator@example.com", defaults={"verified": True, "primary": True}
    )
    owner = get_user_model().objects.get(username="demo-owner")
    SocialAccount.objects.get_or_create(
        provider="google", uid="104838283470000000000", defaults={"user": owner}
    )


def _queue_rows_add() -> None:
    from django_q.models import Task

    from core.ratelimit import ratelimit_hit

    ratelimit_hit(key="webhooks:submit:127.0.0.1", limit=600)
    now = timezone.now()
    for name, success in (("demo-succeeded", True), ("demo-failed", False)):
        Task.objects.get_or_create(
            id=f"{name}-task",
            defaults={
                "name": name,
                "func": "core.tasks.clear_expired_sessions",
                "started": now - timedelta(seconds=2),
                "stopped": now,
                "success": success,
                "result": None if success else "Traceback: demo failure",
                "attempt_count": 1,
            },
        )


def _streams_add() -> None:
    from streams.models import StreamSession
    from streams.services import StreamLimitReachedError, session_start, viewers_upsert

    if not StreamSession.objects.exists():
        session_start(user_id="alice", device_id="tv-livingroom", content_id="film-42")
        # A viewer at a limit of 1 whose second device is refused: a row of refusals per hour.
        viewers_upsert(limits={REFUSED_VIEWER: 1})
        session_start(user_id=REFUSED_VIEWER, device_id=REFUSED_VIEWER_DEVICE, content_id="song-7")
        with contextlib.suppress(StreamLimitReachedError):
            session_start(user_id=REFUSED_VIEWER, device_id="tablet", content_id="song-7")


def _webhooks_add() -> None:
    from webhooks.breaker import breakers_ensure
    from webhooks.models import CollectionRequest, Delivery, DeliveryState
    from webhooks.services import collection_create

    if CollectionRequest.objects.exists():
        return
    request = collection_create(providers=["gas"], callback_url="https://callback.example/hook")
    breakers_ensure(providers=["gas", "internet"])
    now = timezone.now()
    Delivery.objects.create(
        request=request,
        webhook_id="msg_demo_failed_delivery",
        body='{"gas": null}',
        state=DeliveryState.FAILED,
        attempts=5,
        window_ends_at=now,
        last_status_code=503,
        last_response="Service Unavailable",
        created_at=now,
    )
