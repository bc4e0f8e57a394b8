"""Demo data for a development platform: the operator account, then each domain's sample data.

Each domain may provide ``<app>/demo.py`` with ``demo_load(*, stdout) -> None``; it must be
idempotent (running ``manage.py start`` twice changes nothing the second time).
"""

from typing import TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from core.schedules import app_modules


def demo_operator_ensure(*, stdout: TextIO) -> None:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=settings.DEMO_OPERATOR_USERNAME,
        defaults={"is_staff": True, "is_superuser": True, "email": "operator@example.com"},
    )
    if created:
        user.set_password(settings.DEMO_OPERATOR_PASSWORD)
        user.save(update_fields=["password"])
    token, _ = Token.objects.get_or_create(user=user)
    state = "created" if created else "exists"
    stdout.write(
        f"demo operator {state}: {user.username} / {settings.DEMO_OPERATOR_PASSWORD} "
        f"(API token {token.key})\n"
    )


def demo_load(*, stdout: TextIO) -> None:
    demo_operator_ensure(stdout=stdout)
    for label, module in app_modules("demo").items():
        if label != "core":
            module.demo_load(stdout=stdout)
