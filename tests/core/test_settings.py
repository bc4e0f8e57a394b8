"""Production start-up refuses development secrets, naming each one."""

import os
import subprocess
import sys

from django.conf import settings

from core.env import dev_secrets_in_use

PROD_SECRETS = {
    "DJANGO_SECRET_KEY": "a-real-production-secret-key-0123456789",
    "INGESTION_SECRETS": "prod-ingest-1,prod-ingest-2",
    "WEBHOOKS_SIGNING_SECRET": "whsec_production_value",
}


def _django_setup(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PROD_SECRETS}
    env.update({"DJANGO_DEBUG": "false", "DJANGO_SETTINGS_MODULE": "config.settings"})
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_all_defaults_and_names_them():
    result = _django_setup({})
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert (
        "these secrets still have their development defaults (set them in the environment): "
        "DJANGO_SECRET_KEY, INGESTION_SECRETS, WEBHOOKS_SIGNING_SECRET"
    ) in result.stderr


def test_production_names_the_one_secret_left_at_its_default():
    result = _django_setup({**PROD_SECRETS, "INGESTION_SECRETS": "prod-ingest-1,secret"})
    assert result.returncode != 0
    assert result.stderr.rstrip().endswith("(set them in the environment): INGESTION_SECRETS")


def test_production_starts_with_real_secrets():
    result = _django_setup(PROD_SECRETS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


def test_development_mode_starts_with_defaults():
    result = _django_setup({"DJANGO_DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_dev_secrets_in_use_rules():
    defaults = {"DJANGO_SECRET_KEY": "dev", "INGESTION_SECRETS": "secret"}
    assert dev_secrets_in_use(defaults, {}) == ["DJANGO_SECRET_KEY", "INGESTION_SECRETS"]
    assert dev_secrets_in_use(defaults, {"DJANGO_SECRET_KEY": " ", "INGESTION_SECRETS": "a"}) == [
        "DJANGO_SECRET_KEY"
    ]
    assert dev_secrets_in_use(
        defaults, {"DJANGO_SECRET_KEY": "x", "INGESTION_SECRETS": "a, secret"}
    ) == ["INGESTION_SECRETS"]
    # A key that merely contains the default text is a different key.
    assert (
        dev_secrets_in_use(defaults, {"DJANGO_SECRET_KEY": "devx", "INGESTION_SECRETS": "secrets"})
        == []
    )


def test_half_a_google_client_refuses_to_start_naming_what_is_set():
    for name in ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"):
        result = _django_setup({**PROD_SECRETS, name: "set"})
        assert result.returncode != 0
        assert result.stderr.rstrip().endswith(
            "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are set together (sign-in with Google) "
            f"or not at all; only {name} is set."
        )


def test_production_starts_with_google_sign_in():
    result = _django_setup(
        {**PROD_SECRETS, "GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "secret"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


def test_production_refuses_private_webhook_callbacks():
    result = _django_setup({**PROD_SECRETS, "WEBHOOKS_ALLOW_PRIVATE_CALLBACKS": "true"})
    assert result.returncode != 0
    assert result.stderr.rstrip().endswith(
        "development-only settings are on (turn them off): WEBHOOKS_ALLOW_PRIVATE_CALLBACKS"
    )


def test_production_keeps_private_callbacks_off_by_default():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS, settings.PROVIDERS_MOCK_ENABLED)",
        ],
        cwd=settings.BASE_DIR,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOKS_", "PROV"))},
            **PROD_SECRETS,
            "DJANGO_DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False"


def _database_options(argv: list[str], extra_env: dict[str, str]) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **extra_env}
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/options_only"  # never connected
    code = (
        f"import sys; sys.argv = {['manage.py', *argv]!r}; import django; django.setup(); "
        "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS']; "
        "print(o.get('server_side_binding'), o.get('prepare_threshold'), 'pool' in o)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_postgres_binds_on_the_server_and_prepares_hot_statements():
    assert _database_options(["runserver"], {}) == "True 5 True"
    assert _database_options(["qcluster"], {}) == "True 5 False"
    assert _database_options(["runserver"], {"DATABASE_PREPARE_THRESHOLD": "0"}) == "True 0 True"
    never = _database_options(["qcluster"], {"DATABASE_PREPARE_THRESHOLD": "-1"})
    assert never == "True None False"
