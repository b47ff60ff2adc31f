"""``Feed.similar`` in the feed bench: latency, and recall@10 against an exact scan.

Runs on the feed bench's database once it is loaded (same items, rank vectors,
counts and collaborative vectors, built by the workers' own SQL). The items asked
about are drawn uniformly from the catalogue (fixed seed), so most have a text
vector only and the liked ones a collaborative vector too; recall is also reported
for each kind.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

EXACT = """
WITH text AS (
    SELECT l2_normalize(embedding) AS v FROM catalog_movie WHERE id = %(item)s
),
colike AS (
    SELECT l2_normalize(factor) AS v
    FROM dnf_item_factor WHERE feed_id = %(feed)s AND item_key = %(item)s::text
),
top AS (
    SELECT max(interactions) AS n FROM dnf_item_stat WHERE feed_id = %(feed)s
)
SELECT c.id
FROM catalog_movie c
LEFT JOIN dnf_item_stat s ON s.feed_id = %(feed)s AND s.item_key = c.id::text
LEFT JOIN dnf_item_factor f ON f.feed_id = %(feed)s AND f.item_key = c.id::text
CROSS JOIN top
LEFT JOIN text t ON true
LEFT JOIN colike k ON true
WHERE c.id <> %(item)s
ORDER BY
    %(w_s)s * coalesce(1.0 - (c.embedding <=> t.v), 0.0)
  + %(w_c)s * coalesce(-(f.factor <#> k.v), 0.0)
  + %(w_f)s * coalesce(exp(-ln(2) * greatest(extract(epoch from (%(now)s - c.published_at))
                                             ::float8, 0) / %(half_life_s)s), 0)
  + %(w_p)s * coalesce(ln(1.0 + coalesce(s.interactions, 0)::float8)
                       / nullif(ln(1.0 + top.n::float8), 0), 0)
    DESC,
    c.id
LIMIT 10
"""

NOTES = {
    "similar_p50_ms": (
        "list(MovieFeed.similar(key, limit=10)) fully evaluated in this process, as "
        "ours_p50_ms is timed, for timed_users items drawn uniformly from the catalogue "
        "(fixed seed) after warmup_calls calls for other items; p95 likewise. "
        "similar.sql_only_p50_ms: the query alone on Django's cursor."
    ),
    "similar_over_feed_p50": (
        "similar_p50_ms / ours_p50_ms, both measured in this run on this data: what "
        "'more like this' costs beside get_feed, whatever the machine's speed."
    ),
    "similar_recall_at_10": (
        "for 2 x recall_users items drawn as above: |similar top 10 & exact top 10| / 10, "
        "averaged. Exact: one statement scoring ALL other items against the item's "
        "vectors with the feed's formula (w_s cosine of the embeddings + w_c inner "
        "product of the collaborative vectors, the item's at unit length + w_f "
        "freshness + w_p popularity), same now=, ordered by score then id. "
        "similar.recall_with_colikes / recall_text_only: items with and without a "
        "collaborative vector."
    ),
}


def measure(plan: Any, items: int) -> dict[str, Any]:
    """Time and check ``similar`` for items drawn from ``1..items``."""
    print("   similar", file=sys.stderr, flush=True)
    rng = np.random.default_rng(plan.seed + 17)
    drawn = [
        int(k)
        for k in rng.choice(
            np.arange(1, items + 1),
            size=plan.warmup_calls + plan.timed_users + 2 * plan.recall_users,
            replace=False,
        )
    ]
    warmup = drawn[: plan.warmup_calls]
    timed = drawn[plan.warmup_calls : plan.warmup_calls + plan.timed_users]
    checked = drawn[plan.warmup_calls + plan.timed_users :]
    _time_calls(warmup)
    timing = _time_calls(timed)
    return {
        **timing,
        "sql_only_p50_ms": _time_sql(checked),
        "queries_per_call": _queries_per_call(timed[0]),
        **_recall(checked),
        "plan": _plan(timed[0]),
    }


def _plan(key: int) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of one ``similar`` query, vectors elided."""
    from catalog.feeds import MovieFeed

    text = MovieFeed.similar(key, limit=10).explain(analyze=True, buffers=True)
    return [line[:300] for line in text.splitlines()]


def _time_calls(keys: Sequence[int]) -> dict[str, Any]:
    from catalog.feeds import MovieFeed

    times = []
    short = 0
    for key in keys:
        start = time.perf_counter()
        found = list(MovieFeed.similar(key, limit=10))
        times.append(1000 * (time.perf_counter() - start))
        short += len(found) < 10
    return {
        "calls": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": statistics.quantiles(times, n=100, method="inclusive")[94]
        if len(times) > 1
        else times[0],
        "calls_with_fewer_than_10_items": short,
    }


def _time_sql(keys: Sequence[int]) -> float:
    from django.db import connection

    from catalog.feeds import MovieFeed

    times = []
    for key in keys:
        query, params = MovieFeed.similar(key, limit=10).query.sql_with_params()
        with connection.cursor() as cur:
            start = time.perf_counter()
            cur.execute(query, params)
            cur.fetchall()
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _queries_per_call(key: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.feeds import MovieFeed

    with CaptureQueriesContext(connection) as queries:
        list(MovieFeed.similar(key, limit=10))
    return len(queries.captured_queries)


def _recall(keys: Sequence[int]) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from catalog.feeds import MovieFeed
    from dnf_django.models import ItemFactor

    now = timezone.now()
    feed_id = MovieFeed.get_spec().feed_id
    params = {
        "feed": feed_id,
        "now": now,
        "w_s": float(MovieFeed.get_setting("weight_similarity")),
        "w_c": float(MovieFeed.get_setting("weight_collaborative")),
        "w_f": float(MovieFeed.get_setting("weight_freshness")),
        "w_p": float(MovieFeed.get_setting("weight_popularity")),
        "half_life_s": float(MovieFeed.get_setting("freshness_half_life_hours")) * 3600.0,
    }
    colikes = set(
        ItemFactor.objects.filter(feed_id=feed_id, item_key__in=[str(k) for k in keys]).values_list(
            "item_key", flat=True
        )
    )
    start = time.perf_counter()
    scores: dict[int, float] = {}
    exact_ms = []
    for key in keys:
        ours = [item.pk for item in MovieFeed.similar(key, limit=10, now=now)]
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL enable_indexscan = off")
            began = time.perf_counter()
            cur.execute(EXACT, {**params, "item": key})
            exact = [row[0] for row in cur.fetchall()]
            exact_ms.append(1000 * (time.perf_counter() - began))
        scores[key] = len(set(ours) & set(exact)) / len(exact)
    with_colikes = [s for k, s in scores.items() if str(k) in colikes]
    text_only = [s for k, s in scores.items() if str(k) not in colikes]
    return {
        "recall_at_10": statistics.mean(scores.values()),
        "recall_min": min(scores.values()),
        "items_below_0_95": sum(s < 0.95 for s in scores.values()),
        "items_checked": len(scores),
        "recall_with_colikes": statistics.mean(with_colikes) if with_colikes else None,
        "items_with_colikes": len(with_colikes),
        "recall_text_only": statistics.mean(text_only) if text_only else None,
        "exact_scan_p50_ms": statistics.median(exact_ms),
        "recall_seconds": round(time.perf_counter() - start, 1),
    }
