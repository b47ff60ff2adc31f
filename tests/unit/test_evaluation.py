"""The offline evaluation's framework-free parts: split, metrics, baselines, dataset files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dnf_core.errors import EvaluationError
from dnf_core.evaluation import (
    EvaluationReport,
    HoldOut,
    cold_share,
    coverage,
    hit_rate,
    ndcg,
    popularity_rankings,
    random_rankings,
    read_dataset,
    recall,
    summarize,
    temporal_split,
    upstream_rankings,
)


def _likes(user: str, n: int, start: int = 0) -> list[tuple[str, str, int]]:
    return [(user, f"i{start + j}", j) for j in range(n)]


# --------------------------------------------------------------------------- split


def test_the_last_fifth_rounded_down_is_held_out_by_time() -> None:
    # Input out of time order: the split sorts by the order value.
    likes = list(reversed(_likes("a", 14))) + _likes("b", 10, start=100)
    split = temporal_split(likes, min_likes=10, holdout=0.2)
    assert split.test["a"] == ["i12", "i13"]  # floor(0.2 * 14) = 2
    assert split.train["a"] == [f"i{j}" for j in range(12)]
    assert split.test["b"] == ["i108", "i109"]
    assert split.sizes() == {
        "users": 2,
        "evaluated_users": 2,
        "train_likes": 20,
        "held_out_likes": 4,
    }


def test_users_below_the_minimum_keep_all_their_likes_in_training() -> None:
    likes = _likes("a", 9) + _likes("b", 10, start=50)
    split = temporal_split(likes)
    assert split.evaluated == ["b"]
    assert split.train["a"] == [f"i{j}" for j in range(9)]
    assert split.item_counts()["i0"] == 1
    assert "i59" not in split.item_counts()  # held out by b


def test_ties_keep_input_order_and_repeats_count_once() -> None:
    likes = [("a", f"i{j}", 0) for j in range(10)] + [("a", "i0", 5)]
    split = temporal_split(likes)
    assert split.test["a"] == ["i8", "i9"]
    # The held-out rows (positions 8, 9) and the repeat (position 10).
    assert split.held_out_rows == frozenset({8, 9, 10})


def test_a_user_whose_share_rounds_to_nothing_is_not_evaluated() -> None:
    split = temporal_split(_likes("a", 4), min_likes=2, holdout=0.2)
    assert split.evaluated == []
    assert split.train["a"] == ["i0", "i1", "i2", "i3"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_likes": 0}, "min_likes"), ({"holdout": 1.0}, "holdout"), ({"holdout": 0}, "holdout")],
)
def test_bad_split_parameters_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        temporal_split(_likes("a", 10), **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- metrics


def test_metrics_of_one_ranking_by_hand() -> None:
    ranked = ["x", "h1", "y", "z", "h2"]
    held = {"h1", "h2", "h3"}
    assert hit_rate(ranked, held, 1) == 0.0
    assert hit_rate(ranked, held, 2) == 1.0
    # DCG = 1/log2(3) + 1/log2(6); ideal over min(3, 5) = 3 hits.
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg(ranked, held, 5) == pytest.approx((1 / math.log2(3) + 1 / math.log2(6)) / ideal)
    # Ideal capped at k: one slot, no hit in it.
    assert ndcg(ranked, held, 1) == 0.0
    assert ndcg(["h1"], held, 1) == 1.0
    assert recall(ranked, held, 5) == pytest.approx(2 / 3)
    assert recall(ranked, held, 2) == pytest.approx(1 / 3)


def test_coverage_and_cold_share_by_hand() -> None:
    rankings = [["a", "b", "c"], ["a", "d", "e"]]
    assert coverage(rankings, catalogue_size=10, k=2) == pytest.approx(3 / 10)
    assert cold_share(["a", "b", "c"], warm={"a"}, k=2) == 0.5
    assert cold_share([], warm={"a"}, k=2) == 0.0


def test_summarize_averages_over_users() -> None:
    test = {"u": ["h"], "v": ["g", "f"]}
    rankings = {"u": ["h", "x"], "v": ["x", "y"]}
    m = summarize(rankings, test, warm={"h", "x"}, catalogue_size=4, k=2, recall_k=2)
    assert (m.hit_rate, m.ndcg, m.recall, m.users) == (0.5, 0.5, 0.5, 2)
    assert m.coverage == pytest.approx(3 / 4)  # h, x, y
    assert m.cold_share == pytest.approx((0 + 0.5) / 2)


@pytest.mark.parametrize("k", [0, -1, True, 2.5])
def test_k_must_be_a_positive_integer(k: object) -> None:
    with pytest.raises(EvaluationError, match="k must be"):
        hit_rate(["a"], {"a"}, k)  # type: ignore[arg-type]


def test_summarize_needs_a_ranking_for_every_user() -> None:
    with pytest.raises(EvaluationError, match="no ranking"):
        summarize({}, {"u": ["a"]}, warm=set(), catalogue_size=1)


# --------------------------------------------------------------------------- baselines


@pytest.fixture
def small_split() -> tuple[list[str], HoldOut]:
    items = ["a", "b", "c", "d", "e"]
    # u likes a, b, c (a and b twice: repeats count once); v and w have too few likes.
    likes = [("u", i, t) for t, i in enumerate(["a", "b", "a", "b", "c"])]
    likes += [("v", "a", 0), ("v", "c", 1), ("w", "a", 0), ("w", "d", 1)]
    return items, temporal_split(likes, min_likes=3, holdout=0.34)


def test_popularity_ranks_training_counts_and_skips_training_likes(
    small_split: tuple[list[str], HoldOut],
) -> None:
    items, split = small_split
    assert split.test == {"u": ["c"]}
    # Training counts: a 3, b 1, c 1 (v), d 1; u's training likes a, b are left out.
    assert popularity_rankings(split, items, 3) == {"u": ["c", "d", "e"]}


def test_random_is_seeded_and_skips_training_likes(small_split: tuple[list[str], HoldOut]) -> None:
    items, split = small_split
    first = random_rankings(split, items, 5, seed=3)
    assert first == random_rankings(split, items, 5, seed=3)
    assert sorted(first["u"]) == ["c", "d", "e"]


def test_upstream_formula_by_hand(small_split: tuple[list[str], HoldOut]) -> None:
    items, split = small_split
    vectors = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
    # u's profile = mean of a and b = (1, 0). Scores: c 0.6*0 + 0.2*log2/log4 = 0.1,
    # d 0.6*0.7071 + 0.1 = 0.524, e (no vector, no likes) 0.
    ranked = upstream_rankings(split, items, vectors, 3, window=20)
    assert ranked == {"u": ["d", "c", "e"]}
    with pytest.raises(EvaluationError, match="one vector per item"):
        upstream_rankings(split, items, vectors[:2], 3)


# --------------------------------------------------------------------------- files


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_dataset_files_are_read_and_filtered_by_rating(tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "id,title,extra,timestamp\n1,One,x,10\n2,Two,y,\n")
    inter = _write(
        tmp_path / "inter.csv",
        "user,item,timestamp,rating\nu,1,2020-01-01T00:00:00,4.5\nu,2,5,3\n",
    )
    data = read_dataset(items, inter, ["title"], min_rating=4)
    assert [(i.key, i.texts, i.timestamp) for i in data.items] == [
        ("1", {"title": "One"}, 10.0),
        ("2", {"title": "Two"}, None),
    ]
    assert data.likes == [("u", "1", 1577836800.0)]
    assert len(read_dataset(items, inter, ["title"]).likes) == 2


@pytest.mark.parametrize(
    ("items", "interactions", "message"),
    [
        ("id,name\n1,x\n", "user,item,timestamp,rating\nu,1,1,5\n", "missing column.*title"),
        ("id,title\n1,x\n1,y\n", "user,item,timestamp,rating\nu,1,1,5\n", "appears twice"),
        ("id,title\n1,x\n", "user,item,timestamp,rating\nu,9,1,5\n", "not in the items file"),
        ("id,title\n1,x\n", "user,item,timestamp,rating\nu,1,soon,5\n", "neither Unix seconds"),
        ("id,title\n1,x\n", "user,item,rating\nu,1,5\n", "missing column.*timestamp"),
        ("id,title\n1,x\n", "user,item,timestamp,rating\nu,1,1,bad\n", "not a number"),
        ("id,title\n1,x\n", "user,item,timestamp,rating\nu,1,1,2\n", "no likes rated"),
    ],
)
def test_bad_dataset_files_say_what_is_wrong(
    tmp_path: Path, items: str, interactions: str, message: str
) -> None:
    with pytest.raises(EvaluationError, match=message):
        read_dataset(
            _write(tmp_path / "items.csv", items),
            _write(tmp_path / "inter.csv", interactions),
            ["title"],
            min_rating=4,
        )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="no such file"):
        read_dataset(tmp_path / "nope.csv", tmp_path / "nope2.csv", ["title"])


def test_report_table_and_dict_show_every_ranker() -> None:
    split = temporal_split(_likes("u", 10), min_likes=10)
    items = [f"i{j}" for j in range(12)]
    ranked = popularity_rankings(split, items, 20)
    m = summarize(ranked, split.test, warm=set(split.item_counts()), catalogue_size=12)
    report = EvaluationReport("f", 10, 20, {"feed": m, "popularity": m}, split.sizes())
    assert report.table().splitlines()[0].split() == [
        "ranker",
        "HR@10",
        "NDCG@10",
        "Recall@20",
        "coverage@10",
        "cold@10",
    ]
    data = report.as_dict()
    assert data["rankers"]["popularity"]["Recall@20"] == m.recall
    assert data["protocol"]["held_out_likes"] == 2
