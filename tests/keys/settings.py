"""Settings of the key-type matrix: ``DNF_TEST_USER_KEY`` picks the user model's key type.

``make test`` runs ``tests/keys`` once per user key type (integer, bigint, uuid, text);
each run covers every content key type in both interaction modes.
"""

import os

from dnf_django.endpoints import django_database

USER_MODELS = {
    "integer": "auth.User",
    "bigint": "keys.BigUser",
    "uuid": "keys.UuidUser",
    "text": "keys.TextUser",
}
USER_KEY = os.environ.get("DNF_TEST_USER_KEY", "uuid")
if USER_KEY not in USER_MODELS:
    raise RuntimeError(f"DNF_TEST_USER_KEY must be one of {sorted(USER_MODELS)}, not {USER_KEY!r}")
AUTH_USER_MODEL = USER_MODELS[USER_KEY]

SECRET_KEY = "key-matrix-tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "movies_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dnf_django",
    "tests.keys",
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
DATABASES = {
    "default": django_database(
        os.environ.get("DNF_DATABASE_URL", "postgresql://postgres@localhost:5432/neural_feed")
    )
}
DJANGO_NEURAL_FEED = {
    "FEEDS": [
        f"tests.keys.feeds.{prefix}{kind}Feed"
        for prefix in ("Int", "Big", "Uuid", "Text")
        for kind in ("Likes", "Reactions")
    ],
    "VECTOR_DIMENSION": 384,
    # Fast and deterministic: the matrix is about keys, not about the model.
    "ENCODER_CLASS": "dnf_core.encoders.HashingEncoder",
    "MODEL_NAME": "hashing-384",
    "COLLABORATIVE_DIMENSION": 8,
}
