from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_schedules_after_migrate(sender, **kwargs) -> None:
    # post_migrate fires once per app with models; react once, to django_q's (whose tables
    # hold the schedules).
    if sender.name != "django_q":
        return
    from core.schedules import schedules_sync

    schedules_sync(using=kwargs.get("using", "default"))


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        post_migrate.connect(_sync_schedules_after_migrate, dispatch_uid="core.schedules_sync")
