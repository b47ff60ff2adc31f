"""``manage.py dnf_evaluate``: a feed's offline quality against baselines, on one split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_core.encoders.backends import BACKENDS
from dnf_core.errors import NeuralFeedError
from dnf_core.evaluation.datasets import read_dataset


class Command(BaseCommand):
    help = (
        "Evaluate a feed offline through the real pipeline, in a scratch database: hold "
        "out each user's latest likes, rank with get_feed, and print HR, NDCG, recall, "
        "coverage and cold-item share next to random, popularity and the upstream "
        "formula. On the feed's own tables (only read), or on --items/--interactions files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed", required=True, help="feed id or dotted path of the class")
        parser.add_argument("--items", type=Path, help="items CSV: id, text fields[, timestamp]")
        parser.add_argument(
            "--interactions", type=Path, help="interactions CSV: user, item, timestamp[, rating]"
        )
        parser.add_argument(
            "--min-rating",
            type=float,
            help="with files: rows rated at least this are likes (default: every row)",
        )
        parser.add_argument("--k", type=int, default=10, help="list length for HR/NDCG/coverage")
        parser.add_argument("--recall-k", type=int, default=20, help="list length for recall")
        parser.add_argument("--users", type=int, help="evaluate a random sample of N users")
        parser.add_argument("--min-likes", type=int, default=10, help="likes to be evaluated")
        parser.add_argument("--holdout", type=float, default=0.2, help="share held out (0.2)")
        parser.add_argument("--seed", type=int, default=0, help="seed of random choices")
        parser.add_argument("--json", type=Path, help="also write the report to this file")
        parser.add_argument(
            "--database", default="default", help="DATABASES alias to read the feed from"
        )
        parser.add_argument(
            "--timeout", type=float, default=3600.0, help="seconds to wait for the pipeline"
        )
        parser.add_argument(
            "--encoder",
            metavar="CLASS:MODEL",
            help="embed with this encoder class and model name instead of the installed "
            "ones (same dimension), to compare models",
        )
        parser.add_argument(
            "--backend",
            choices=BACKENDS,
            help="embed with this ENCODER_BACKEND instead of the installed one, to compare "
            "backends of the model",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        from dnf_django.evaluation.runner import evaluate_feed, resolve_feed

        if (options["items"] is None) != (options["interactions"] is None):
            raise CommandError("--items and --interactions go together")
        if options["min_rating"] is not None and options["items"] is None:
            raise CommandError("--min-rating applies to --interactions files only")
        for name in ("k", "recall_k", "min_likes"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        if options["users"] is not None and options["users"] < 1:
            raise CommandError("--users must be at least 1")
        if options["json"] is not None and not options["json"].parent.is_dir():
            raise CommandError(f"--json: no directory {options['json'].parent}")
        encoder = None
        if options["encoder"] is not None:
            path, _, model = options["encoder"].partition(":")
            if not path or not model:
                raise CommandError(
                    "--encoder must be CLASS:MODEL, "
                    "e.g. dnf_core.encoders.HashingEncoder:hashing-384"
                )
            encoder = (path, model)
        try:
            feed = resolve_feed(options["feed"])
            dataset = None
            if options["items"] is not None:
                dataset = read_dataset(
                    options["items"],
                    options["interactions"],
                    feed.get_setting("text_fields"),
                    min_rating=options["min_rating"],
                )
            report = evaluate_feed(
                feed,
                dataset,
                k=options["k"],
                recall_k=options["recall_k"],
                users=options["users"],
                min_likes=options["min_likes"],
                holdout=options["holdout"],
                source=options["database"],
                seed=options["seed"],
                encoder=encoder,
                backend=options["backend"],
                timeout=options["timeout"],
                progress=not options["no_progress"],
            )
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(report.table())
        if options["json"] is not None:
            options["json"].write_text(json.dumps(report.as_dict(), indent=2) + "\n")
            self.stdout.write(f"report written to {options['json']}")
