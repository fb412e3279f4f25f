from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Operations console"

    def ready(self) -> None:
        from connector.demo import register_seeder
        from connector.logs import celery_logging_connect

        from .demo import console_demo_seed
        from .schedules import console_schedules_on_migrate

        post_migrate.connect(console_schedules_on_migrate, sender=self, dispatch_uid="console.schedules")
        celery_logging_connect()
        register_seeder(console_demo_seed, order=200)
