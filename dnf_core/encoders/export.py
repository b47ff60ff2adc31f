"""``python -m dnf_core.encoders.export``: export a model for the ONNX backends, once.

Writes the fp32 and int8 ONNX files of a sentence-transformers model (the bundled
all-MiniLM-L6-v2 by default, or a local folder) to the model cache, after checking
both against the torch backend's vectors. Workers do the same by themselves on first
use; run it ahead to bake the files into an image or a shared volume, or to see the
check's figures. ``manage.py dnf_export_model`` does it for the models your feeds use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dnf_core.encoders.onnx_cache import CACHE_ENV, FILES, model_folder, problem, write_export
from dnf_core.encoders.sentence_transformer import DEFAULT_MODEL_NAME
from dnf_core.errors import NeuralFeedError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dnf_core.encoders.export",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL_NAME,
        help="model name (the bundled one) or a local sentence-transformers folder",
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help=f"cache folder (default: ${CACHE_ENV} or ~/.cache)"
    )
    parser.add_argument(
        "--force", action="store_true", help="export again even if a checked export exists"
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="skip the comparison with the torch backend (a model with no torch at hand)",
    )
    args = parser.parse_args(argv)
    try:
        if not args.force and all(problem(args.model, b, args.cache) is None for b in FILES):
            print(f"{model_folder(args.model, args.cache)} is up to date", file=sys.stderr)
            return 0
        meta = write_export(args.model, args.cache, check=not args.no_check)
    except NeuralFeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(meta["files"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
