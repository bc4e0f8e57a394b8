import atexit

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_schedules_after_migrate(sender, **kwargs) -> None:
    # post_migrate fires once per app with models; react once, to django_q's (whose tables
    # hold the schedules).
    if sender.name != "django_q":
        return
    from core.schedules import schedules_sync

    schedules_sync(using=kwargs.get("using", "default"))


def _close_connection_pools() -> None:
    """Closes the psycopg pools this process opened, so it exits at once: a pool left to the
    interpreter's shutdown waits 5 s for each of its threads, and warns."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    pools = DatabaseWrapper._connection_pools
    for alias in list(pools):
        pools.pop(alias).close()


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        post_migrate.connect(_sync_schedules_after_migrate, dispatch_uid="core.schedules_sync")
        atexit.register(_close_connection_pools)
