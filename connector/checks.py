"""System checks that stop a production start without real secrets or with unusable limits.

Django runs these on every management command (migrate, runserver, celery's Django
fixups through `check`); wsgi.py and the Celery app call `refuse_start_without_secrets`
so gunicorn and workers fail the same way, with the name of the missing setting.
"""
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

SECRETS_TAG = "secrets"


@checks.register(SECRETS_TAG, deploy=False)
def secrets_are_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from cryptography.fernet import Fernet

    errors: list[checks.CheckMessage] = []
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.MISSING_SECRET_KEY:
        errors.append(checks.Error("SECRET_KEY is not set.", hint="Set SECRET_KEY in the environment.", id="connector.E001"))
    elif settings.SECRET_KEY == settings.DEV_SECRET_KEY and not settings.DEBUG:
        errors.append(checks.Error("SECRET_KEY is the development key while DEBUG is off.", id="connector.E002"))
    if not settings.CREDENTIAL_KEYS:
        errors.append(
            checks.Error(
                "CREDENTIAL_KEYS is not set: stored credentials cannot be encrypted.",
                hint="Generate one with: manage.py generate_credential_key",
                id="connector.E003",
            )
        )
    else:
        for position, key in enumerate(settings.CREDENTIAL_KEYS, start=1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                errors.append(checks.Error(f"CREDENTIAL_KEYS entry {position} is not a valid Fernet key.", id="connector.E004"))
        if settings.DEV_CREDENTIAL_KEY in settings.CREDENTIAL_KEYS[:1] and not settings.DEBUG:
            errors.append(
                checks.Error("CREDENTIAL_KEYS starts with the development key while DEBUG is off.", id="connector.E005")
            )
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        errors.append(checks.Error("ALLOWED_HOSTS is not set while DEBUG is off.", id="connector.E006"))
    return errors


@checks.register(deploy=False)
def task_time_limits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The soft limit must come first, or a runaway task is killed without recording why."""
    soft, hard = settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT
    if not 0 < soft < hard:
        return [checks.Error(f"CELERY_TASK_SOFT_TIME_LIMIT ({soft} s) must be above 0 and below "
                             f"CELERY_TASK_TIME_LIMIT ({hard} s).", id="connector.E007")]
    return []


def refuse_start_without_secrets() -> None:
    problems = [msg for msg in secrets_are_configured() if msg.is_serious()]
    if problems:
        raise ImproperlyConfigured("; ".join(f"{p.id}: {p.msg}" for p in problems))
