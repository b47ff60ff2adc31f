"""The result of an evaluation: the feed's metrics next to the baselines'."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dnf_core.evaluation.metrics import Metrics


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics of a feed and of the baselines on one split, and what the split was.

    ``rows`` maps a ranker's name to its metrics, the feed first. ``protocol`` holds
    the split's parameters and sizes; ``timings`` the seconds each step took.
    """

    feed_id: str
    k: int
    recall_k: int
    rows: dict[str, Metrics]
    protocol: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def columns(self) -> list[str]:
        """Metric names as the table and the JSON show them."""
        k, r = self.k, self.recall_k
        return [f"HR@{k}", f"NDCG@{k}", f"Recall@{r}", f"coverage@{k}", f"cold@{k}"]

    def _values(self, metrics: Metrics) -> list[float]:
        return [
            metrics.hit_rate,
            metrics.ndcg,
            metrics.recall,
            metrics.coverage,
            metrics.cold_share,
        ]

    def table(self) -> str:
        """A plain-text table, one row per ranker, the feed first."""
        width = max(len(name) for name in self.rows) + 2
        header = "ranker".ljust(width) + "".join(c.rjust(13) for c in self.columns())
        lines = [header, "-" * len(header)]
        for name, metrics in self.rows.items():
            lines.append(name.ljust(width) + "".join(f"{v:13.4f}" for v in self._values(metrics)))
        sizes = self.protocol
        if sizes:
            lines.append(
                f"{sizes.get('evaluated_users', '?')} users evaluated, "
                f"{sizes.get('train_likes', '?')} training / "
                f"{sizes.get('held_out_likes', '?')} held-out likes, "
                f"{sizes.get('catalogue_size', '?')} items"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-ready data."""
        return {
            "feed_id": self.feed_id,
            "k": self.k,
            "recall_k": self.recall_k,
            "rankers": {
                name: dict(zip(self.columns(), self._values(m), strict=True)) | {"users": m.users}
                for name, m in self.rows.items()
            },
            "protocol": dict(self.protocol),
            "timings": {name: round(s, 2) for name, s in self.timings.items()},
        }
