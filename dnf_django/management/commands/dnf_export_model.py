"""``manage.py dnf_export_model``: export the feeds' models for the ONNX backends, once."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_core.encoders.backends import TORCH, has_backends
from dnf_core.encoders.onnx_cache import FILES, cache_root, model_folder, problem, write_export
from dnf_core.errors import NeuralFeedError
from dnf_django.registry import registered_feeds


class Command(BaseCommand):
    help = (
        "Export the model of every feed on an ONNX backend (ENCODER_BACKEND 'onnx' or "
        "'onnx-int8') to ONNX from its installed weights, fp32 and int8, check both "
        "against the torch backend's vectors and cache them ($DNF_MODEL_CACHE, else "
        "~/.cache/neural-feed/onnx). Workers do it on first use by themselves; run it "
        "ahead to bake the files into an image or a shared volume. Nothing is fetched."
    )
    # E010 reports exactly the state this command resolves.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model",
            action="append",
            help="a model name or local folder (default: the models the feeds use)",
        )
        parser.add_argument("--force", action="store_true", help="export again")
        parser.add_argument(
            "--no-check",
            action="store_true",
            help="skip the comparison with the torch backend (a model with no torch at hand)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        models = options["model"] or sorted(
            {
                spec.model_name
                for spec in (feed.get_spec() for feed in registered_feeds())
                if has_backends(spec.encoder) and spec.encoder_backend != TORCH
            }
        )
        if not models:
            self.stdout.write("no feed runs on an ONNX backend; nothing to export")
            return
        for model in models:
            folder = model_folder(model)
            if not options["force"] and all(problem(model, b) is None for b in FILES):
                self.stdout.write(f"{model}: {folder} is up to date")
                continue
            try:
                meta = write_export(model, check=not options["no_check"], quiet=True)
            except NeuralFeedError as exc:
                raise CommandError(f"{model}: {exc}") from exc
            self.stdout.write(f"{model}: exported to {folder}")
            self.stdout.write(json.dumps(meta["files"], indent=2))
        self.stdout.write(f"cache: {cache_root()}")
