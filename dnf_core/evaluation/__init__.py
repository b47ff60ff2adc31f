"""Offline evaluation, framework-free: the temporal split, metrics, baselines, datasets.

The Django side (``dnf_django.evaluation``) runs a feed through the real pipeline
and hands its rankings to these functions.
"""

from dnf_core.evaluation.baselines import (
    popularity_rankings,
    random_rankings,
    upstream_rankings,
)
from dnf_core.evaluation.datasets import Dataset, ItemRecord, read_dataset
from dnf_core.evaluation.metrics import (
    Metrics,
    cold_share,
    coverage,
    hit_rate,
    ndcg,
    recall,
    summarize,
)
from dnf_core.evaluation.report import EvaluationReport
from dnf_core.evaluation.split import HoldOut, temporal_split

__all__ = [
    "Dataset",
    "EvaluationReport",
    "HoldOut",
    "ItemRecord",
    "Metrics",
    "cold_share",
    "coverage",
    "hit_rate",
    "ndcg",
    "popularity_rankings",
    "random_rankings",
    "read_dataset",
    "recall",
    "summarize",
    "temporal_split",
    "upstream_rankings",
]
