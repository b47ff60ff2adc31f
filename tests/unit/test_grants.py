"""GRANT statements per process, rendered for a feed's tables."""

from __future__ import annotations

import dataclasses

import pytest

from dnf_core.errors import ConfigurationError
from dnf_core.grants import PROCESSES, grant_sql
from dnf_core.spec import FeedSpec


def test_workers_may_write_the_vector_columns_and_no_other(spec: FeedSpec) -> None:
    sql = grant_sql("worker", "app_worker", [spec])
    assert 'GRANT UPDATE ("embedding", "embedding_hash") ON "blog_article" TO "app_worker";' in sql
    assert 'GRANT SELECT ON "blog_article", "blog_article_likes" TO "app_worker";' in sql


@pytest.mark.parametrize("process", PROCESSES)
def test_every_process_gets_its_tables_and_each_feeds(spec: FeedSpec, process: str) -> None:
    sql = grant_sql(process, "r", [spec])
    assert '"blog_article_likes"' in sql and "dnf_" in sql
    # Every statement grants to the role, and nothing but GRANTs is rendered.
    code = " ".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in code.split(";") if s.strip()]
    assert statements
    assert all(s.startswith("GRANT ") and s.endswith('TO "r"') for s in statements)


def test_feeds_sharing_tables_are_granted_once(spec: FeedSpec) -> None:
    twin = dataclasses.replace(spec, feed_id="twin")
    assert grant_sql("relay", "r", [spec, twin]) == grant_sql("relay", "r", [spec])


def test_bad_roles_and_processes_are_refused(spec: FeedSpec) -> None:
    with pytest.raises(ConfigurationError, match="plain SQL identifier"):
        grant_sql("web", 'r"; DROP TABLE x; --', [spec])
    with pytest.raises(ConfigurationError, match="unknown process 'admin'"):
        grant_sql("admin", "r", [spec])
