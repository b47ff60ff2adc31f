"""Lookups of text_fields in the spec: serialized, fingerprinted, rendered as SQL."""

from __future__ import annotations

import dataclasses

import pytest

from dnf_core.ddl import CURRENT, change_sql, current_versions, install_sql, uninstall_sql
from dnf_core.errors import ConfigurationError
from dnf_core.grants import grant_sql
from dnf_core.spec import FeedSpec
from dnf_core.text_lookups import TextHop, TextLookup, function_name

TAGS = TextLookup(
    name="tags__name",
    hops=(
        TextHop(
            table="blog_tag",
            key="id",
            column="id",
            source_column="id",
            many=True,
            through_table="blog_article_tags",
            through_key="id",
            through_source="article_id",
            through_target="tag_id",
        ),
    ),
    column="name",
)
BIO = TextLookup(
    name="author__profile__bio",
    hops=(
        TextHop(table="auth_user", key="id", column="id", source_column="author_id", many=False),
        TextHop(table="blog_profile", key="id", column="user_id", source_column="id", many=False),
    ),
    column="bio",
)


@pytest.fixture
def related(spec: FeedSpec) -> FeedSpec:
    return dataclasses.replace(
        spec,
        text_columns=("title", "tags__name", "author__profile__bio"),
        text_lookups=(TAGS, BIO),
    )


def test_lookups_round_trip_and_change_the_fingerprint(spec: FeedSpec, related: FeedSpec) -> None:
    assert FeedSpec.from_dict(related.to_dict()) == related
    assert related.fingerprint != spec.fingerprint
    for change in (
        {"text_separator": " | "},
        {"text_order": "added"},
        {"text_max_values": 3},
        {"text_template": "{title}: {tags__name} ({author__profile__bio})"},
    ):
        assert dataclasses.replace(related, **change).fingerprint != related.fingerprint


def test_a_feed_without_lookups_keeps_its_fingerprint_and_templates(spec: FeedSpec) -> None:
    # Registry rows and migrations written before lookups existed lack the new fields.
    stored = {
        k: v
        for k, v in spec.to_dict().items()
        if k not in {"text_lookups", "text_separator", "text_order", "text_max_values"}
        and k != "text_template"
    }
    assert FeedSpec.from_dict(stored).fingerprint == spec.fingerprint
    assert current_versions(spec) == dataclasses.replace(CURRENT, related=0)
    assert "related" not in current_versions(spec).to_dict()
    assert spec.capture_expression("n") == spec.text_expression("n")


def test_the_text_reads_each_lookup_with_a_correlated_subquery(related: FeedSpec) -> None:
    text = related.text_expression("c")
    assert text.startswith("concat_ws(' ', c.\"title\"::text, (SELECT string_agg(")
    assert 'JOIN "blog_tag" dnf_l0_r0 ON dnf_l0_r0."id" = dnf_l0_t0."tag_id"' in text
    assert 'WHERE dnf_l0_t0."article_id" = c."id"' in text
    assert 'JOIN "blog_profile" dnf_l1_r1 ON dnf_l1_r1."user_id" = dnf_l1_r0."id"' in text
    assert "LIMIT 20" in text and "ORDER BY v.position, v.value" in text
    added = dataclasses.replace(related, text_order="added").text_expression("c")
    assert 'dnf_l0_t0."id" AS position' in added  # the through row: order of linking
    # The content trigger compares the row's own columns and where lookups start.
    assert related.capture_expression("n") == 'ROW(n."title", n."id", n."author_id")'


def test_templates_and_separators_never_hold_a_bare_percent(related: FeedSpec) -> None:
    templated = dataclasses.replace(
        related,
        text_template="{title} 100% {tags__name} by {author__profile__bio}",
        text_separator="%; ",
    )
    text = templated.text_expression("c")
    assert "%" not in text
    assert text.startswith("concat(c.\"title\"::text, (' 100' || chr(37) || ' '), (SELECT")
    assert "('' || chr(37) || '; ')" in text


def test_install_captures_every_table_the_text_reads(related: FeedSpec) -> None:
    sql = install_sql(related)
    for table in ("blog_tag", "blog_article_tags", "auth_user", "blog_profile"):
        function = function_name("articles", table, CURRENT.related)
        assert f'CREATE FUNCTION "{function}"()' in sql
        assert f'CREATE TRIGGER "dnf_articles_related_update" AFTER UPDATE ON "{table}"' in sql
    # Only the columns the text reads are compared on update.
    assert 'ROW(n."id", n."name") IS DISTINCT FROM ROW(o."id", o."name")' in sql
    assert 'ROW(n."bio", n."id", n."user_id")' in sql
    # Renaming a tag follows its links back to the items, without the content table.
    assert 'SELECT dnf_l0_t0."article_id"::text\nFROM "blog_article_tags" dnf_l0_t0\n' in sql
    undo = uninstall_sql(related)
    assert undo.count("DROP FUNCTION IF EXISTS") == 2 + 4
    # Dropping the lookups drops their triggers; adding them back creates them.
    plain = dataclasses.replace(related, text_columns=("title",), text_lookups=())
    down = change_sql(related, CURRENT, plain)
    assert (
        f'DROP FUNCTION IF EXISTS "{function_name("articles", "blog_tag", CURRENT.related)}"()'
        in down
    )
    assert "related_insert" not in down.split("DROP FUNCTION")[-1]
    assert "dnf_articles_related_insert" in change_sql(plain, current_versions(plain), related)


def test_workers_and_relay_are_granted_the_related_tables(related: FeedSpec) -> None:
    for process in ("worker", "relay"):
        sql = grant_sql(process, "feed_role", [related])
        assert 'GRANT SELECT ON "blog_tag" TO "feed_role";' in sql
        assert 'GRANT SELECT ON "blog_profile" TO "feed_role";' in sql
    assert '"blog_tag"' not in grant_sql("web", "feed_role", [related])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text_lookups": (TAGS, BIO, TAGS)}, "must each be one entry of text_columns"),
        (
            {"text_lookups": (TAGS, BIO, dataclasses.replace(TAGS, name="x__name"))},
            "must each be one entry of text_columns",
        ),
        ({"text_columns": ("title", "title")}, "names a field twice"),
        ({"text_separator": "a\x00"}, "NUL"),
        ({"text_template": "{title}"}, "leaves out tags__name, author__profile__bio"),
    ],
)
def test_inconsistent_specs_are_refused(related: FeedSpec, change: dict, message: str) -> None:
    if change.get("text_columns"):
        change["text_lookups"] = ()
    with pytest.raises(ConfigurationError, match=message):
        dataclasses.replace(related, **change)


def test_hops_are_bounded_and_validated() -> None:
    with pytest.raises(ConfigurationError, match="3 hops; 1 to 2"):
        TextLookup(name="a__b__c__d", hops=BIO.hops + BIO.hops[:1], column="x")
    with pytest.raises(ConfigurationError, match="not a plain SQL identifier"):
        TextHop(table='x"; --', key="id", column="id", source_column="id", many=False)
