"""Test settings: the example site plus a test-only app with more feed shapes."""

from movies_site.settings import *  # noqa: F403
from movies_site.settings import DJANGO_NEURAL_FEED, INSTALLED_APPS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.feedapp"]
DJANGO_NEURAL_FEED = {
    **DJANGO_NEURAL_FEED,
    "FEEDS": [
        *DJANGO_NEURAL_FEED["FEEDS"],
        "tests.feedapp.feeds.ReactionFeed",
        "tests.feedapp.feeds.SavedArticleFeed",
        "tests.feedapp.feeds.PostFeed",
    ],
}
