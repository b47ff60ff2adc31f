"""Django app configuration."""

from django.apps import AppConfig


class DnfDjangoConfig(AppConfig):
    """neural-feed's Django app: profiles, counts, feed classes, commands."""

    name = "dnf_django"
    label = "dnf_django"
    verbose_name = "Neural feed"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dnf_django import checks, encoder_checks  # noqa: F401  (register the system checks)
