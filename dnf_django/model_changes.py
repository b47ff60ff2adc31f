"""What to run when a feed's embedding model changes: the steps the checks and
``dnf_reembed`` print."""

from __future__ import annotations

from typing import Any

from dnf_core.spec import FeedSpec

MIGRATE = "python manage.py dnf_makemigrations && python manage.py migrate"


def _dimension(identity: str) -> str:
    return identity.rpartition(":")[2]


def reembed_command(feed_id: str) -> str:
    """The command that re-embeds ``feed_id`` with its installed model."""
    return f"python manage.py dnf_reembed --feed {feed_id}"


def dimension_steps(feed: Any, spec: FeedSpec, old_identity: str) -> str:
    """The migration a dimension change needs, and the commands after it.

    A ``vector(n)`` column cannot hold vectors of another dimension, so the old
    vectors cannot keep serving while the new ones are made: they are dropped by the
    migration that changes the column type.
    """
    app = feed.get_setting("content_django_model")._meta.app_label
    table, column, digest = spec.content_table, spec.embedding_column, spec.embedding_hash_column
    return (
        f"the dimension changes from {_dimension(old_identity)} to {spec.dimension}, so "
        f"{table}.{column} must change type and its old vectors cannot stay in it. "
        f"1) python manage.py makemigrations {app} (it alters the column to "
        f"vector({spec.dimension})); in that migration, before the AlterField, add "
        f'migrations.RunSQL("UPDATE {table} SET {column} = NULL, {digest} = NULL; '
        f"DELETE FROM dnf_user_profile WHERE feed_id = '{spec.feed_id}'\"). "
        f"2) {MIGRATE}. 3) {reembed_command(spec.feed_id)}. Until step 3 ends, the feed "
        "ranks by freshness and popularity only"
    )


def model_change_steps(feed: Any, spec: FeedSpec, old_identity: str, *, migrated: bool) -> str:
    """Commands that move ``feed`` from vectors of ``old_identity`` to its declared model.

    ``migrated``: the installed spec already names the declared model.
    """
    if _dimension(old_identity) != str(spec.dimension):
        return dimension_steps(feed, spec, old_identity)
    steps = (
        [reembed_command(spec.feed_id)] if migrated else [MIGRATE, reembed_command(spec.feed_id)]
    )
    return "run: " + " && ".join(steps) + " (the feed keeps serving the old vectors meanwhile)"
