import dataclasses

import pytest

from dnf_core.ddl import CURRENT, DdlVersions, change_sql, index_name, install_sql, uninstall_sql
from dnf_core.errors import SqlTemplateError
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql, render_sql, sql_dir


def test_every_query_template_renders_for_a_feed(spec: FeedSpec) -> None:
    names = sorted(p.stem for p in (sql_dir() / "queries").glob("*.sql"))
    assert "profiles_refresh" in names
    for name in names:
        sql = feed_query(name, spec)
        assert "{" not in sql.replace("'{", ""), name


def test_render_refuses_missing_and_extra_fragments() -> None:
    with pytest.raises(SqlTemplateError, match="missing index"):
        render_sql("indexes/hnsw_drop_v1")
    with pytest.raises(SqlTemplateError, match="unexpected bogus"):
        render_sql("indexes/hnsw_drop_v1", index='"i"', bogus="x")


def test_load_refuses_unknown_names_and_escapes() -> None:
    with pytest.raises(SqlTemplateError, match="no SQL file"):
        load_sql("queries/nope")
    with pytest.raises(SqlTemplateError, match="outside"):
        load_sql("../pyproject")


def test_install_creates_statement_triggers_for_every_event(spec: FeedSpec) -> None:
    sql = install_sql(spec)
    for side, table in (("content", "blog_article"), ("interaction", "blog_article_likes")):
        for event in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
            name = f'"dnf_articles_{side}_{event.lower()}" AFTER {event} ON "{table}"'
            assert name in sql
    assert sql.count("FOR EACH STATEMENT") == 8
    assert "FOR EACH ROW" not in sql
    # Stage one searches the feed's rank vectors: a partial index over its rows, and
    # none on the embedding column.
    assert 'CREATE INDEX IF NOT EXISTS "dnf_rank_articles" ON dnf_item_rank' in sql
    assert "USING hnsw ((rank::halfvec(387)) halfvec_ip_ops)" in sql
    assert "WHERE feed_id = 'articles'" in sql
    assert "blog_article_embedding" not in sql
    assert "INSERT INTO dnf_feed" in sql
    # The collaborative vectors' own index, only for feeds that learn them.
    learning = install_sql(dataclasses.replace(spec, collaborative_dimension=64))
    assert 'CREATE INDEX "dnf_factor_articles" ON dnf_item_factor' in learning
    assert "USING hnsw ((factor::halfvec(64)) halfvec_ip_ops)" in learning
    assert "ef_construction = 256" in learning
    assert "halfvec(387)" in learning  # the rank vectors do not carry it
    assert "dnf_item_factor" not in install_sql(
        dataclasses.replace(spec, collaborative_dimension=0)
    )


def test_uninstall_drops_what_install_creates(spec: FeedSpec) -> None:
    sql = uninstall_sql(spec)
    assert sql.count("DROP TRIGGER IF EXISTS") == 8
    assert 'DROP FUNCTION IF EXISTS "dnf_articles_content_v3"()' in sql
    assert 'DROP INDEX IF EXISTS "dnf_rank_articles"' in sql
    assert "DELETE FROM dnf_item_rank WHERE feed_id = 'articles'" in sql
    assert "DELETE FROM dnf_feed WHERE feed_id = 'articles'" in sql
    # v2 shared the embedding column's index: it goes only with the last feed using it.
    older = uninstall_sql(spec, DdlVersions(triggers=2, index=2))
    assert 'DROP INDEX IF EXISTS "dnf_hnsw_blog_article_embedding"' in older
    assert "WHERE feed_id <> 'articles'" in older


def test_change_keeps_the_index_when_it_stays_the_same(spec: FeedSpec) -> None:
    retexted = dataclasses.replace(spec, text_columns=("title",))
    sql = change_sql(spec, CURRENT, retexted)
    assert "INDEX" not in sql
    # The content capture reads the text: replaced. The interaction capture is not.
    assert sql.count("DROP TRIGGER IF EXISTS") == 4 and sql.count("CREATE TRIGGER") == 4
    assert '"dnf_articles_content_insert"' in sql and "_interaction_" not in sql
    assert "INSERT INTO dnf_feed" in sql


def test_change_replaces_only_the_captures_whose_sql_changes(spec: FeedSpec) -> None:
    # The window is read by the workers, not by any trigger: no capture is touched.
    sql = change_sql(spec, CURRENT, dataclasses.replace(spec, window=10))
    assert "TRIGGER" not in sql and "FUNCTION" not in sql
    assert "INSERT INTO dnf_feed" in sql
    # A new interaction column replaces the interaction capture only, both ways.
    moved = dataclasses.replace(spec, interaction_item_column="post_id")
    for sql in (change_sql(spec, CURRENT, moved), change_sql(moved, CURRENT, spec)):
        assert sql.count("DROP TRIGGER IF EXISTS") == 4 and sql.count("CREATE TRIGGER") == 4
        assert "_content_" not in sql
    # A new template version replaces every capture, under its own function names.
    upgrade = change_sql(spec, dataclasses.replace(CURRENT, triggers=2), spec)
    assert upgrade.count("DROP TRIGGER IF EXISTS") == 8 and upgrade.count("CREATE TRIGGER") == 8


def test_change_rebuilds_rank_vectors_when_what_they_hold_changes(spec: FeedSpec) -> None:
    for changed in (
        dataclasses.replace(spec, dimension=768),
        dataclasses.replace(spec, freshness_half_life_hours=24.0),
        dataclasses.replace(spec, freshness_column="updated_at"),
    ):
        sql = change_sql(spec, CURRENT, changed)
        assert "DELETE FROM dnf_item_rank WHERE feed_id = 'articles'" in sql
        assert 'CREATE INDEX IF NOT EXISTS "dnf_rank_articles"' in sql
        # The workers rebuild them: the next start walks the items again.
        assert "DELETE FROM dnf_backfill WHERE feed_id = 'articles' AND phase = 'items'" in sql
    assert "halfvec(771)" in change_sql(spec, CURRENT, dataclasses.replace(spec, dimension=768))


def test_a_change_to_what_profiles_read_hands_the_interactions_back(spec: FeedSpec) -> None:
    for changed in (
        dataclasses.replace(spec, window=10),
        dataclasses.replace(spec, dislike_weight=1.0),
        dataclasses.replace(spec, interaction_order_column="created_at"),
    ):
        sql = change_sql(spec, CURRENT, changed)
        # After the registry row, so the walk it starts reads the new spec.
        assert sql.index("INSERT INTO dnf_feed") < sql.index(
            "VALUES ('articles', 'interactions', NULL"
        )
        assert "pg_notify('dnf_backfill', 'articles')" in sql
    retexted = dataclasses.replace(spec, text_columns=("title",))
    assert "'interactions'" not in change_sql(spec, CURRENT, retexted)


def test_a_new_collaborative_index_template_keeps_the_vectors(spec: FeedSpec) -> None:
    learning = dataclasses.replace(spec, collaborative_dimension=64)
    upgrade = change_sql(learning, dataclasses.replace(CURRENT, factor=1), learning)
    assert 'DROP INDEX IF EXISTS "dnf_factor_articles";' in upgrade
    assert "ef_construction = 256" in upgrade
    assert "DELETE FROM dnf_item_factor" not in upgrade
    assert "dnf_rank_articles" not in upgrade  # the rank index is left alone
    # A new dimension makes the vectors useless: they go, to be learned again.
    wider = change_sql(
        learning, CURRENT, dataclasses.replace(learning, collaborative_dimension=128)
    )
    assert "DELETE FROM dnf_item_factor WHERE feed_id = 'articles'" in wider
    assert "halfvec(128)" in wider and "dnf_rank_articles" not in wider


def test_upgrading_to_rank_vectors_retires_the_embedding_index(spec: FeedSpec) -> None:
    sql = change_sql(spec, DdlVersions(triggers=2, index=2), spec)
    assert 'DROP INDEX IF EXISTS "dnf_hnsw_blog_article_embedding";' in sql
    assert "WHERE feed_id <> 'articles'" not in sql  # no feed searches it any more
    assert 'CREATE INDEX IF NOT EXISTS "dnf_rank_articles"' in sql


def test_old_ddl_versions_render_their_own_names(spec: FeedSpec) -> None:
    assert 'DROP INDEX IF EXISTS "dnf_articles_hnsw";' in uninstall_sql(spec, DdlVersions())
    long = dataclasses.replace(spec, content_table="t" * 60)
    name = index_name(long, DdlVersions(triggers=2, index=2))
    assert name is not None and len(name) <= 63
    assert index_name(spec) is None


def test_users_without_a_profile_get_an_index_of_their_own(spec: FeedSpec) -> None:
    assert (
        'CREATE INDEX IF NOT EXISTS "dnf_cold_articles" ON dnf_item_rank\n'
        "    USING gist (point(fresh, pop))\n    WHERE feed_id = 'articles';"
    ) in install_sql(spec)
    assert 'DROP INDEX IF EXISTS "dnf_cold_articles";' in uninstall_sql(spec)
    # A feed installed before it gets the index, and keeps its rank vectors.
    upgrade = change_sql(spec, dataclasses.replace(CURRENT, cold=0), spec)
    assert 'CREATE INDEX IF NOT EXISTS "dnf_cold_articles"' in upgrade
    assert "DELETE FROM dnf_item_rank" not in upgrade
    assert "dnf_cold_articles" not in uninstall_sql(spec, dataclasses.replace(CURRENT, cold=0))


def test_bulk_imports_can_pause_the_captures_a_backfill_walk_redoes(spec: FeedSpec) -> None:
    sql = install_sql(spec)
    # One read of the transaction-local setting per trigger function, i.e. per statement.
    assert sql.count("current_setting('dnf.capture_paused', true)") == 2
    assert sql.count("&& ARRAY['*', 'articles'] THEN\n        RETURN NULL;") == 2
    # Content: inserts and text updates (the items walk finds stale hashes); interactions:
    # inserts only (the walk replays the pairs that exist, not those taken away).
    assert "IF TG_OP IN ('INSERT', 'UPDATE')\n       AND string_to_array" in sql
    assert "IF TG_OP = 'INSERT'\n       AND string_to_array" in sql
    # Installed before v3, the triggers are replaced; the v2 functions stay untouched.
    assert 'DROP FUNCTION IF EXISTS "dnf_articles_content_v2"()' in change_sql(
        spec, dataclasses.replace(CURRENT, triggers=2), spec
    )
