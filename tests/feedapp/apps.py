from django.apps import AppConfig


class FeedappConfig(AppConfig):
    name = "tests.feedapp"
    label = "feedapp"
    default_auto_field = "django.db.models.BigAutoField"
