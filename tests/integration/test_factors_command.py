"""``manage.py dnf_factors``: the collaborative basis rebuilt on demand."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from catalog.models import Movie
from dnf_django.models import FactorState, ItemFactor, UserFeedProfile
from dnf_django.testing import FeedPipeline

pytestmark = pytest.mark.services


def test_the_command_rebuilds_the_basis_now(hashing_encoder: None) -> None:
    movies = Movie.objects.bulk_create(Movie(title=f"film {i} topic{i % 3}") for i in range(9))
    for u in range(4):
        User.objects.create(username=f"fan{u}").liked_movies.add(*movies[u : u + 4])
    FeedPipeline(settings_encoder=False).run()
    before = FactorState.objects.get(feed_id="movies").built_at
    FactorState.objects.filter(feed_id="movies").update(built_at=None, users=0)
    ItemFactor.objects.filter(feed_id="movies").delete()

    out = io.StringIO()
    call_command("dnf_factors", "--feed", "movies", stdout=out)

    state = FactorState.objects.get(feed_id="movies")
    assert state.built_at is not None and (before is None or state.built_at >= before)
    assert state.users == 4
    liked = {str(m.pk) for m in movies[:7]}
    assert (
        set(ItemFactor.objects.filter(feed_id="movies").values_list("item_key", flat=True)) == liked
    )
    assert not UserFeedProfile.objects.filter(feed_id="movies", collaborative__isnull=True).exists()
    assert "collaborative basis rebuilt" in out.getvalue()


def test_unknown_or_non_collaborative_feeds_are_refused(hashing_encoder: None) -> None:
    with pytest.raises(CommandError, match="'nope' is not installed"):
        call_command("dnf_factors", "--feed", "nope")
