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
    assert 'INDEX IF NOT EXISTS "dnf_hnsw_blog_article_embedding" ON "blog_article"' in sql
    assert 'USING hnsw ("embedding" vector_cosine_ops)' in sql
    assert "INSERT INTO dnf_feed" in sql


def test_uninstall_drops_what_install_creates(spec: FeedSpec) -> None:
    sql = uninstall_sql(spec)
    assert sql.count("DROP TRIGGER IF EXISTS") == 8
    assert 'DROP FUNCTION IF EXISTS "dnf_articles_content_v2"()' in sql
    # The shared index goes only with the last feed that embeds into its column.
    assert 'DROP INDEX IF EXISTS "dnf_hnsw_blog_article_embedding"' in sql
    assert "WHERE feed_id <> 'articles'" in sql
    assert "DELETE FROM dnf_feed WHERE feed_id = 'articles'" in sql


def test_change_keeps_the_index_when_it_stays_the_same(spec: FeedSpec) -> None:
    retexted = dataclasses.replace(spec, text_columns=("title",))
    sql = change_sql(spec, CURRENT, retexted)
    assert "INDEX" not in sql
    assert sql.count("DROP TRIGGER IF EXISTS") == 8 and sql.count("CREATE TRIGGER") == 8
    assert "INSERT INTO dnf_feed" in sql


def test_old_ddl_versions_render_their_own_names(spec: FeedSpec) -> None:
    assert 'DROP INDEX IF EXISTS "dnf_articles_hnsw";' in uninstall_sql(spec, DdlVersions())
    long = dataclasses.replace(spec, content_table="t" * 60)
    assert len(index_name(long)) <= 63
