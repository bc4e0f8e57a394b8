"""Reading typed settings from environment variables, and refusing development secrets."""

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_decimal(name: str, default: Decimal) -> Decimal:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def dev_secrets_in_use(defaults: dict[str, str], environ: dict[str, str]) -> list[str]:
    """Names of the secrets that are unset or still hold (or contain) their development value.

    A comma-separated secret list counts as default when any item of it is the default item.
    """
    in_use = []
    for name, default in defaults.items():
        raw = environ.get(name, "").strip()
        # INGESTION_SECRETS-style settings are comma-separated lists (several live at once).
        items = {item.strip() for item in raw.split(",")} if name.endswith("SECRETS") else {raw}
        if not raw or default in items:
            in_use.append(name)
    return in_use


def refuse_dev_secrets(defaults: dict[str, str]) -> None:
    """Stop start-up (production mode) while any secret still has its development default."""
    names = dev_secrets_in_use(defaults, dict(os.environ))
    if names:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is false but these secrets still have their development defaults "
            f"(set them in the environment): {', '.join(names)}"
        )


def refuse_dev_flags(flags: dict[str, bool]) -> None:
    """Stop start-up (production mode) while a development-only switch is on."""
    names = [name for name, on in flags.items() if on]
    if names:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is false but these development-only settings are on "
            f"(turn them off): {', '.join(names)}"
        )
