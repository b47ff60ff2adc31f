"""Settings of the example site. Services come from DNF_DATABASE_URL and DNF_REDIS_URL."""

import os

from dnf_django.endpoints import django_database

SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "movies_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dnf_django",
    "catalog",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.request",
            ]
        },
    }
]

# `eval "$(python -m dnf_core.services start)"` sets DNF_DATABASE_URL to the embedded
# Postgres; without it, a local server is assumed.
DATABASES = {
    "default": django_database(
        os.environ.get("DNF_DATABASE_URL", "postgresql://postgres@localhost:5432/neural_feed")
    )
}

DJANGO_NEURAL_FEED = {
    "FEEDS": ["catalog.feeds.MovieFeed"],
    "VECTOR_DIMENSION": 384,
    "MODEL_NAME": "all-MiniLM-L6-v2",
    # With MovieFeed's window of 10 likes, which alone is noisier than the default 20,
    # popularity steadies the ranking: chosen on a validation split (docs/evaluation.md).
    "WEIGHT_POPULARITY": 0.2,
}
