"""Quality study: a collaborative signal for the linear feed score, on MovieLens.

Offline: numpy and the project's encoder only, no services. Protocol of issue 6:

- likes are ratings >= 4; users with >= 10 likes are evaluated;
- each user's likes sorted by time (ties keep file order); the last 20% (rounded
  down, as the issue's reference numbers do) are held out;
- every item the user did not like in training is ranked (training likes excluded);
- item text = title + genres + tags as the feed embeds it, with all-MiniLM-L6-v2
  (cached under ``.dnf/quality_study/`` so reruns skip the model).

Metrics: HR@10 (share of users with a held-out item in their top 10), NDCG@10 (binary
relevance, ideal DCG over min(|held out|, 10) hits), Recall@20 (hits in the top 20 /
|held out|, the definition that reproduces the issue's references; ``recall20_capped``
divides by min(|held out|, 20)), coverage@10 (distinct items in any top 10 / catalogue
size) and cold@10 (share of top-10 slots given to items with no training like).

Every blended scorer honours the product's constraint: ``score = w_s cos(text
profile, text_i) + w_c <cf profile, cf_i> + w_p log(1+n_i)/log(1+max n)``, each
profile the L2-normalized mean of the vectors of the user's last ``W`` liked items, so
that one inner-product search over per-item vectors ranks the feed. Item-kNN is the
exception, kept as the reference it is. Weights and hyper-parameters are chosen on a
validation split (the same protocol applied again to the training likes) and then
reported on the test split, so the test numbers are not tuned on themselves.

Run: ``python -m bench quality_study`` (also writes ``bench/results/quality_study.json``)
or ``python -m bench.quality_study`` (tables only).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATASET = Path(os.environ.get("DNF_MOVIELENS", "/work/shared/datasets/movielens-small"))
CACHE = Path(__file__).resolve().parents[1] / ".dnf" / "quality_study"
MODEL = "all-MiniLM-L6-v2"
LIKE_AT = 4.0
MIN_LIKES = 10
HOLDOUT = 0.2
TOP_K, RECALL_K = 10, 20

Matrix = np.ndarray
Sequences = dict[int, np.ndarray]


# --------------------------------------------------------------------------- data


@dataclass
class Split:
    """Train/test likes as item indices (catalogue order), oldest first."""

    train: list[np.ndarray]  # per evaluated user
    test: list[np.ndarray]  # per evaluated user, held out
    background: list[np.ndarray]  # training likes of every user, what a worker sees
    n_items: int

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.n_items)
        for items in self.background:
            np.add.at(self.counts, items, 1)
        self.interactions = np.zeros((len(self.background), self.n_items))
        for u, items in enumerate(self.background):
            self.interactions[u, items] = 1.0


def item_texts(dataset: Path) -> tuple[np.ndarray, list[str]]:
    """Catalogue order and each movie's text as the demo loads and the feed embeds it."""
    tags: dict[str, list[str]] = defaultdict(list)
    with open(dataset / "tags.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            tag = row["tag"].strip().lower()
            if tag and tag not in tags[row["movieId"]]:
                tags[row["movieId"]].append(tag)
    ids, texts = [], []
    with open(dataset / "movies.csv", encoding="utf-8", newline="") as f:
        for movie_id, title, genres in csv.reader(f):
            if movie_id == "movieId":
                continue
            genres = "" if genres == "(no genres listed)" else genres.replace("|", ", ")
            ids.append(int(movie_id))
            texts.append(" ".join([title, genres, ", ".join(tags.get(movie_id, []))]))
    return np.array(ids), texts


def like_sequences(dataset: Path, movie_ids: np.ndarray) -> Sequences:
    """Each user's liked items (catalogue indices), oldest first."""
    index = {int(m): i for i, m in enumerate(movie_ids)}
    likes: dict[int, list[tuple[int, int]]] = defaultdict(list)
    with open(dataset / "ratings.csv", encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            if row[0] == "userId" or float(row[2]) < LIKE_AT:
                continue
            likes[int(row[0])].append((int(row[3]), index[int(row[1])]))
    return {
        user: np.array([i for _, i in sorted(pairs, key=lambda p: p[0])], dtype=np.int64)
        for user, pairs in sorted(likes.items())
    }


def holdout(sequences: Sequences, n_items: int) -> tuple[Split, Sequences]:
    """The protocol's split, and the training sequences it leaves (for a validation split)."""
    train, test, background, left = [], [], [], {}
    for user, items in sequences.items():
        if len(items) < MIN_LIKES:
            background.append(items)
            left[user] = items
            continue
        cut = len(items) - int(HOLDOUT * len(items))
        train.append(items[:cut])
        test.append(items[cut:])
        background.append(items[:cut])
        left[user] = items[:cut]
    return Split(train, test, background, n_items), left


def validation_split(left: Sequences, evaluated: set[int], n_items: int) -> Split:
    """The protocol again on the training likes of the evaluated users."""
    train, test, background = [], [], []
    for user, items in left.items():
        if user not in evaluated:
            background.append(items)
            continue
        cut = len(items) - max(1, int(HOLDOUT * len(items)))
        train.append(items[:cut])
        test.append(items[cut:])
        background.append(items[:cut])
    return Split(train, test, background, n_items)


def text_embeddings(texts: list[str]) -> Matrix:
    """Unit vectors of the item texts, cached by a hash of model and texts."""
    digest = hashlib.sha256("\n".join([MODEL, *texts]).encode()).hexdigest()[:16]
    path = CACHE / f"text-{digest}.npy"
    if path.exists():
        return np.load(path)
    from dnf_core.encoders import SentenceTransformerEncoder

    started = time.perf_counter()
    vectors = np.asarray(SentenceTransformerEncoder.encode_batch(texts, MODEL), dtype=np.float64)
    print(f"embedded {len(texts)} texts in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


# --------------------------------------------------------------------------- metrics


def masked(split: Split, scores: Matrix) -> Matrix:
    """Scores with each user's training likes removed from the ranking."""
    scores = np.array(scores, dtype=np.float64)
    for u, items in enumerate(split.train):
        scores[u, items] = -np.inf
    return scores


def top_items(scores: Matrix, k: int) -> Matrix:
    """Indices of the k best scores per row, best first."""
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def metrics(split: Split, top: Matrix) -> dict[str, float]:
    """Metrics of ranked lists (users x >= 20 item indices, training likes already out)."""
    discounts = 1.0 / np.log2(np.arange(2, TOP_K + 2))
    sums = defaultdict(float)
    seen = np.zeros(split.n_items, dtype=bool)
    for u, held in enumerate(split.test):
        hits = np.isin(top[u, :RECALL_K], held)
        sums["hr10"] += hits[:TOP_K].any()
        ideal = discounts[: min(len(held), TOP_K)].sum()
        sums["ndcg10"] += (hits[:TOP_K] * discounts).sum() / ideal
        sums["recall20"] += hits.sum() / len(held)
        sums["recall20_capped"] += hits.sum() / min(len(held), RECALL_K)
        seen[top[u, :TOP_K]] = True
        sums["cold10"] += (split.counts[top[u, :TOP_K]] == 0).mean()
    out = {name: value / len(split.test) for name, value in sums.items()}
    out["coverage10"] = seen.sum() / split.n_items
    return {name: round(float(value), 4) for name, value in out.items()}


def evaluate(split: Split, scores: Matrix) -> dict[str, float]:
    """Metrics of a users x items score matrix."""
    return metrics(split, top_items(masked(split, scores), RECALL_K))


# --------------------------------------------------------------------------- signals


def popularity(counts: Matrix) -> Matrix:
    """The feed's popularity feature: log(1 + n) / log(1 + max n)."""
    return np.log1p(counts) / np.log1p(counts.max())


def profiles(split: Split, vectors: Matrix, window: int | None) -> Matrix:
    """L2-normalized mean of the vectors of each user's last ``window`` likes (None: all)."""
    out = np.stack(
        [
            vectors[items if window is None else items[-window:]].mean(axis=0)
            for items in split.train
        ]
    )
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@dataclass
class ItemVectors:
    """CF vectors of a periodic rebuild: ``query`` rows are averaged into a user's
    profile, ``key`` rows are what the inner-product search indexes (the same matrix
    for symmetric methods). Items without training likes get zero rows."""

    name: str
    query: Matrix
    key: Matrix


def scaled(name: str, query: Matrix, key: Matrix) -> ItemVectors:
    """Keys divided by their largest norm, so a unit profile's CF score is within [-1, 1]."""
    return ItemVectors(name, query, key / max(np.linalg.norm(key, axis=1).max(), 1e-12))


def pure_svd(x: Matrix, rank: int, alpha: float = 0.0, beta: float = 0.0) -> ItemVectors:
    """PureSVD of the like matrix with columns scaled by popularity^-alpha.

    Item vector = right singular vector row * sigma^beta; user = sum of liked rows,
    so the score is ``x_u V S^2beta V^T``: beta=0 is PureSVD, alpha=0.5 with beta=1
    is a rank-k item-kNN on cosine of co-likes (diagonal kept).
    """
    key = ("svd", id(x), alpha)
    if key not in _FACTORS:
        counts = x.sum(axis=0)
        scale = np.where(counts > 0, np.maximum(counts, 1.0) ** -alpha, 0.0)
        _FACTORS[key] = _right_singular(x * scale, MAX_RANK)
    sigma, v = (f[..., :rank] for f in _FACTORS[key])
    vectors = v * sigma**beta
    return scaled(f"svd r={rank} a={alpha} b={beta}", vectors, vectors)


# Factorizations at MAX_RANK, by (kind, matrix id, parameter): ranks are slices of them.
_FACTORS: dict[tuple[str, int, float], tuple[Matrix, ...]] = {}
MAX_RANK = 256


def _right_singular(m: Matrix, rank: int) -> tuple[Matrix, Matrix]:
    """Top singular values and right vectors through the users x users Gram matrix
    (users are far fewer than items here; a sparse truncated SVD does it at scale)."""
    values, u = np.linalg.eigh(m @ m.T)
    order = np.argsort(values)[::-1][:rank]
    sigma = np.sqrt(np.maximum(values[order], 1e-12))
    return sigma, (m.T @ u[:, order]) / sigma


def ease_low_rank(x: Matrix, rank: int, lam: float) -> ItemVectors:
    """EASE (Steck 2019), B = I - P diag(P)^-1 with P = (X^T X + lam I)^-1, low rank.

    By Woodbury, P = (I - A A^T) / lam with A = X^T (X X^T + lam I)^-1/2, so apart from
    its diagonal (training likes, never ranked) ``x_u B`` = ``x_u A A^T diag(P)^-1 / lam``.
    Truncating A's SVD gives item vectors: a profile averages ``A_k`` rows, the index
    holds ``A_k`` rows divided by ``1 - |A_i|^2`` (one vector plus a per-item scalar).
    """
    key = ("ease", id(x), lam)
    if key not in _FACTORS:
        values, q = np.linalg.eigh(x @ x.T + lam * np.eye(x.shape[0]))
        a = x.T @ (q / np.sqrt(values))
        diag = 1.0 - np.einsum("ij,ij->i", a, a)
        _FACTORS[key] = (*_right_singular(a.T, MAX_RANK), diag)
    sigma, v, diag = _FACTORS[key]
    query = v[:, :rank] * sigma[:rank]
    return scaled(f"ease r={rank} l={lam:g}", query, query / diag[:, None])


def itemknn_scores(split: Split) -> Matrix:
    """Reference (not a linear profile): sum over all training likes of co-like cosines."""
    x = split.interactions
    norms = np.maximum(np.linalg.norm(x, axis=0), 1e-12)
    sim = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    own = np.zeros((len(split.train), split.n_items))
    for u, items in enumerate(split.train):
        own[u, items] = 1.0
    return own @ sim


@dataclass
class Signals:
    """Per-user feature matrices of one split, cached by window and CF method."""

    split: Split
    text: Matrix  # item text vectors

    def __post_init__(self) -> None:
        self.pop = popularity(self.split.counts)
        self._text: dict[int | None, Matrix] = {}
        self._cf: dict[tuple[str, int | None], Matrix] = {}

    def text_scores(self, window: int | None) -> Matrix:
        if window not in self._text:
            self._text[window] = profiles(self.split, self.text, window) @ self.text.T
        return self._text[window]

    def cf_scores(self, cf: ItemVectors, window: int | None) -> Matrix:
        if (cf.name, window) not in self._cf:
            self._cf[cf.name, window] = profiles(self.split, cf.query, window) @ cf.key.T
        return self._cf[cf.name, window]

    def blend(
        self, cf: ItemVectors | None, window: int | None, w_s: float, w_c: float, w_p: float
    ) -> Matrix:
        score = w_p * self.pop[None, :] + w_s * self.text_scores(window)
        if cf is not None and w_c:
            score = score + w_c * self.cf_scores(cf, window)
        return score


# --------------------------------------------------------------------------- re-ranking


def mmr(scores: Matrix, text: Matrix, lam: float, pool: int = 100, k: int = RECALL_K) -> Matrix:
    """Maximal marginal relevance over each user's top ``pool``: pick the item with the
    best ``lam * score - (1 - lam) * max text cosine to the items already picked``."""
    top = top_items(scores, pool)
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for u in range(scores.shape[0]):
        cand = top[u]
        rel = scores[u, cand]
        rel = (rel - rel.min()) / max(rel.max() - rel.min(), 1e-12)
        sim = text[cand] @ text[cand].T
        closest = np.full(pool, -np.inf)
        free = np.ones(pool, dtype=bool)
        for slot in range(k):
            gain = lam * rel - (1 - lam) * np.where(np.isinf(closest), 0.0, closest)
            gain[~free] = -np.inf
            pick = int(np.argmax(gain))
            out[u, slot] = cand[pick]
            free[pick] = False
            closest = np.maximum(closest, sim[pick])
    return out


# --------------------------------------------------------------------------- study


def _row(name: str, m: dict[str, float], **extra: Any) -> dict[str, Any]:
    return {"config": name, **extra, **m}


WINDOWS: tuple[int | None, ...] = (10, 20, 50, None)
SVD_GRID = [(r, a, b) for r in (32, 64, 128, 256) for a in (0.0, 0.5) for b in (0.0, 1.0)]
EASE_GRID = [(r, lam) for r in (64, 128, 256) for lam in (50.0, 200.0, 500.0)]
WS_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
WP_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)
MMR_LAMBDAS = (1.0, 0.9, 0.8, 0.7, 0.5)
COLD_WS = (0.5, 1.0, 2.0, 3.0, 5.0)


def study(log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every experiment; returns the tables (lists of rows) by name."""
    started = time.perf_counter()
    movie_ids, texts = item_texts(DATASET)
    n = len(movie_ids)
    emb = text_embeddings(texts)
    sequences = like_sequences(DATASET, movie_ids)
    test_split, left = holdout(sequences, n)
    evaluated = {u for u, items in sequences.items() if len(items) >= MIN_LIKES}
    val_split = validation_split(left, evaluated, n)
    test, val = Signals(test_split, emb), Signals(val_split, emb)
    out: dict[str, Any] = {
        "data": {
            "users_evaluated": len(test_split.train),
            "items": n,
            "items_with_training_likes": int((test_split.counts > 0).sum()),
            "train_likes": int(sum(map(len, test_split.train))),
            "test_likes": int(sum(map(len, test_split.test))),
        }
    }
    log(f"data {out['data']}")

    # 1. Baselines on the test split, to check the protocol against the issue.
    pop_only = np.tile(test.pop, (len(test_split.train), 1))
    out["baselines"] = [
        _row("text only (W=20)", evaluate(test_split, test.text_scores(20))),
        _row("upstream 0.6 sim + 0.2 pop", evaluate(test_split, test.blend(None, 20, 0.6, 0, 0.2))),
        _row("popularity", evaluate(test_split, pop_only)),
        _row("item-kNN cosine (reference)", evaluate(test_split, itemknn_scores(test_split))),
    ]
    _print(log, "baselines (test)", out["baselines"])

    # 2. CF alone: methods and hyper-parameters on validation (W = all likes).
    def methods(split: Split) -> list[ItemVectors]:
        x = split.interactions
        return [pure_svd(x, r, a, b) for r, a, b in SVD_GRID] + [
            ease_low_rank(x, r, lam) for r, lam in EASE_GRID
        ]

    val_methods = methods(val_split)
    test_methods = {m.name: m for m in methods(test_split)}
    rows = []
    for m in val_methods:
        v = evaluate(val_split, val.cf_scores(m, None))
        t = evaluate(test_split, test.cf_scores(test_methods[m.name], None))
        rows.append(_row(m.name, t, val_ndcg10=v["ndcg10"]))
    out["cf_only"] = rows
    _print(log, "CF only, W=all (test metrics; val_ndcg10 = validation)", rows)
    ranked = sorted(rows, key=lambda r: -r["val_ndcg10"])
    shortlist = [ranked[0]["config"]]
    shortlist += [r["config"] for r in ranked if r["config"].startswith("svd r=")][:1]
    shortlist += [r["config"] for r in ranked if r["config"].startswith("ease")][:1]
    shortlist = list(dict.fromkeys(shortlist))

    # 3. Blend weights x window on validation for the shortlisted methods.
    grid = []
    val_by_name = {m.name: m for m in val_methods}
    for name, window in itertools.product(shortlist, WINDOWS):
        for w_s, w_p in itertools.product(WS_GRID, WP_GRID):
            v = evaluate(val_split, val.blend(val_by_name[name], window, w_s, 1.0, w_p))
            grid.append(
                {
                    "config": name,
                    "window": window,
                    "w_s": w_s,
                    "w_c": 1.0,
                    "w_p": w_p,
                    **{f"val_{k}": v[k] for k in ("hr10", "ndcg10", "recall20")},
                }
            )
    out["blend_grid"] = grid
    best = max(grid, key=lambda r: r["val_ndcg10"])
    log(f"best on validation: {best}")

    def on_test(row: dict[str, Any]) -> dict[str, float]:
        cf = test_methods[row["config"]]
        return evaluate(
            test_split, test.blend(cf, row["window"], row["w_s"], row["w_c"], row["w_p"])
        )

    per_method = []
    for name in shortlist:
        for window in WINDOWS:
            cand = [r for r in grid if r["config"] == name and r["window"] == window]
            b = max(cand, key=lambda r: r["val_ndcg10"])
            per_method.append(
                _row(
                    name,
                    on_test(b),
                    window=window,
                    w_s=b["w_s"],
                    w_p=b["w_p"],
                    val_ndcg10=b["val_ndcg10"],
                )
            )
    out["blend_best_per_window"] = per_method
    _print(
        log,
        "best blend per method and window (weights chosen on validation; test metrics)",
        per_method,
    )

    # Robustness: the chosen method and window across the weight grid, on test.
    chosen = dict(best)
    robust = []
    for w_s, w_p in itertools.product(WS_GRID, WP_GRID):
        row = {**chosen, "w_s": w_s, "w_p": w_p}
        robust.append(
            _row(chosen["config"], on_test(row), window=chosen["window"], w_s=w_s, w_p=w_p)
        )
    out["robustness"] = robust
    _print(
        log,
        "chosen method and window over the weight grid (test)",
        robust,
        keys=("w_s", "w_p", "hr10", "ndcg10", "recall20", "coverage10"),
    )

    cf = test_methods[chosen["config"]]
    final = test.blend(cf, chosen["window"], chosen["w_s"], 1.0, chosen["w_p"])
    total = chosen["w_s"] + 1.0 + chosen["w_p"]
    out["chosen"] = {
        "method": chosen["config"],
        "window": chosen["window"],
        "weights": {
            "w_s": round(chosen["w_s"] / total, 4),
            "w_c": round(1.0 / total, 4),
            "w_p": round(chosen["w_p"] / total, 4),
        },
        "test": evaluate(test_split, final),
    }
    log(f"chosen: {out['chosen']}")

    # 4. MMR re-rank of the chosen blend (similarity = text cosine).
    out["mmr"] = [
        _row(f"mmr lambda={lam}", metrics(test_split, mmr(masked(test_split, final), emb, lam)))
        for lam in MMR_LAMBDAS
    ]
    _print(log, "MMR over the top 100 of the chosen blend (test)", out["mmr"])

    # 5. Cold items: the chosen method and window as the text weight grows.
    imputed = text_to_cf(emb, cf, test_split.counts > 0)
    sequel = sequels(test, texts)
    cold = []
    for w_s in COLD_WS:
        weights = (w_s, 1.0, chosen["w_p"])
        warm = evaluate(test_split, test.blend(cf, chosen["window"], *weights))
        cold.append(
            {
                "w_s": w_s,
                "w_c": 1.0,
                "w_p": chosen["w_p"],
                **{k: warm[k] for k in ("hr10", "ndcg10", "recall20", "coverage10")},
                **cold_start(test, cf, imputed, chosen["window"], weights, sequel),
            }
        )
    out["cold_items"] = cold
    _print(log, "cold items vs text weight (chosen method, window and w_p; test)", cold)
    out["elapsed_s"] = round(time.perf_counter() - started, 1)
    return out


def text_to_cf(emb: Matrix, cf: ItemVectors, warm: Matrix, lam: float = 1.0) -> ItemVectors:
    """CF vectors predicted from text by ridge regression fitted on warm items.

    What a worker could give a brand-new item (one matrix product after embedding)
    until the next rebuild. Warm items get out-of-fold predictions (5 folds), so the
    cold-start simulation below never sees an item's own factors.
    """
    targets = np.hstack([cf.query, cf.key])
    out = np.zeros_like(targets)
    warm_idx = np.flatnonzero(warm)
    folds = np.arange(len(warm_idx)) % 5
    for fold in range(6):
        fit = warm_idx[folds != fold] if fold < 5 else warm_idx
        apply = warm_idx[folds == fold] if fold < 5 else np.flatnonzero(~warm)
        e = emb[fit]
        m = np.linalg.solve(e.T @ e + lam * np.eye(e.shape[1]), e.T @ targets[fit])
        out[apply] = emb[apply] @ m
    k = cf.query.shape[1]
    return ItemVectors(f"{cf.name} from text", out[:, :k], out[:, k:])


def cold_start(
    sig: Signals,
    cf: ItemVectors,
    imputed: ItemVectors,
    window: int | None,
    weights: tuple[float, float, float],
    sequel: Matrix,
) -> dict[str, float]:
    """Can an item with no interactions enter a user's top 20 through its text?

    A new item has popularity 0 and, until the next rebuild, either a zero CF vector
    (score ``w_s * cos``: it needs ``cos >= threshold_20 / w_s``) or one predicted
    from its text. Checked on (a) the held-out items, re-scored as if nobody had liked
    them yet, and (b) a sequel of each user's latest like (its text, retitled).
    """
    w_s, w_c, w_p = weights
    split = sig.split
    scores = masked(split, sig.blend(cf, window, w_s, w_c, w_p))
    threshold = np.sort(scores, axis=1)[:, -RECALL_K]
    text = sig.text_scores(window)
    cf_profile = profiles(split, cf.query, window)
    cold_cf = cf_profile @ imputed.key.T
    plain = imputed_hits = total = 0
    for u, held in enumerate(split.test):
        plain += (w_s * text[u, held] >= threshold[u]).sum()
        imputed_hits += (w_s * text[u, held] + w_c * cold_cf[u, held] >= threshold[u]).sum()
        total += len(held)
    prof = profiles(split, sig.text, window)
    sequel_cos = np.einsum("ij,ij->i", prof, sequel)
    targets = np.hstack([cf.query, cf.key])[np.flatnonzero(split.counts > 0)]
    e = sig.text[split.counts > 0]
    m = np.linalg.solve(e.T @ e + np.eye(e.shape[1]), e.T @ targets)
    sequel_cf = np.einsum("ij,ij->i", cf_profile, (sequel @ m)[:, cf.query.shape[1] :])
    needed = threshold / w_s if w_s else np.full(len(threshold), np.inf)
    # Where the sequel stands among the user's candidates on text alone, and the flat
    # bonus (a freshness term at its maximum) it would need, in units of w_s+w_c+w_p.
    text_rank = 1 + (masked(split, text) > sequel_cos[:, None]).sum(axis=1)
    bonus = (threshold - w_s * sequel_cos) / (w_s + w_c + w_p)
    return {
        "sequel_text_rank_median": int(np.median(text_rank)),
        "sequel_bonus_needed_median": round(float(np.median(bonus)), 3),
        "needed_cos_median": round(float(np.median(needed)), 3),
        "needed_cos_p10": round(float(np.percentile(needed, 10)), 3),
        "sequel_cos_median": round(float(np.median(sequel_cos)), 3),
        "sequel_top20": round(float((sequel_cos >= needed).mean()), 4),
        "sequel_top20_imputed": round(
            float((w_s * sequel_cos + w_c * sequel_cf >= threshold).mean()), 4
        ),
        "heldout_top20_cold": round(plain / total, 4),
        "heldout_top20_imputed": round(imputed_hits / total, 4),
    }


def sequels(sig: Signals, texts: list[str]) -> Matrix:
    """Text vectors of a sequel of each user's latest training like."""
    return text_embeddings([_sequel(texts[items[-1]]) for items in sig.split.train])


def _sequel(text: str) -> str:
    """The same text with the title turned into a sequel's (year dropped, ' 2' added)."""
    title, _, rest = text.partition(") ")
    base = title.rsplit(" (", 1)[0]
    return f"{base} 2 (2016) {rest}"


def _print(
    log: Callable[[str], None],
    title: str,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...] | None = None,
) -> None:
    keys = keys or tuple(k for k in rows[0] if k != "recall20_capped")
    log(f"\n### {title}\n")
    log("| " + " | ".join(keys) + " |")
    log("|" + "---|" * len(keys))
    for r in rows:
        log("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")


def _fmt(v: Any) -> str:
    if v is None:
        return "all"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def run() -> dict[str, Any]:
    """Entry point of ``python -m bench quality_study``."""
    return _jsonable(study(log=lambda s: print(s, file=sys.stderr)))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not isinstance(v, np.ndarray)}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


if __name__ == "__main__":
    study()
