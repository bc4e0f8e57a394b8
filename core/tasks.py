"""django-q2 entry points of the platform's own housekeeping."""

from django.contrib.sessions.models import Session
from django.utils import timezone


def sessions_clear_expired_task() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


def ratelimit_prune_task() -> int:
    from core.ratelimit import ratelimit_prune

    return ratelimit_prune()
