"""The torch backend's vectors that an ONNX export is checked against.

An export is used only once its vectors, computed by the same code the encoder runs
(tokenizer, graph, pooling, normalization), match the torch backend's on probe texts
chosen to exercise that code: short and long texts, a text past ``max_seq_length``
(truncation), case, accents, other scripts, punctuation, surrounding white space.

Where torch and sentence-transformers are installed, the torch vectors are computed
there and then. For the bundled model, its torch vectors also ship with neural-feed
(``reference_vectors/``, written by ``python -m dnf_core.encoders.reference --write``
and held equal to a live run by the test suite), so a worker without torch checks
its own export. A user's model without torch at hand cannot be checked: export it
where torch is installed, or pass ``--no-check`` knowingly.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from dnf_core.encoders.base import Matrix
from dnf_core.errors import EncoderError

HERE = Path(__file__).resolve().parent / "reference_vectors"

_LONG = " ".join(
    f"Chapter {i}: the crew of the starship argues about the map, the weather and "
    f"whether the {i}th moon was ever real."
    for i in range(1, 30)
)

PROBES: tuple[str, ...] = (
    "Toy Story (1995) Adventure, Animation, Children, Comedy, Fantasy pixar, fun",
    "Heat (1995) Action, Crime, Thriller",
    "a cat",
    "A CAT",
    "   leading and trailing white space   ",
    "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001) Comedy, Romance",
    "Crouching Tiger, Hidden Dragon (Wo hu cang long) (2000) 卧虎藏龙 Action, Drama",
    "Город (2019) Драма",
    "!!! ??? ... --- ;;;",
    "12 Angry Men (1957) Drama 1957 jury",
    "quantum physics and the philosophy of measurement",
    "Star Wars: Episode IV - A New Hope (1977) Action, Adventure, Sci-Fi classic, space",
    "x",
    "The Lord of the Rings: The Fellowship of the Ring (2001) Adventure, Fantasy "
    "tolkien, epic, beautifully filmed, fantasy world, magic, wizards, based on a book",
    _LONG,
    _LONG[: len(_LONG) // 3],
)


def reference_file(model_name: str) -> Path:
    from dnf_core.encoders.onnx_cache import folder_name

    return HERE / f"{folder_name(model_name)}.json"


def shipped_reference(model_name: str, weights_sha256: str) -> Matrix | None:
    """The shipped torch vectors of the probes, if they were made from these weights."""
    path = reference_file(model_name)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("weights_sha256") != weights_sha256 or data.get("texts") != list(PROBES):
        return None
    raw = base64.b64decode(data["vectors_f32_le"])
    return np.frombuffer(raw, dtype="<f4").reshape(len(PROBES), -1).astype(np.float32)


def torch_vectors(source: str) -> Matrix | None:
    """The probes' vectors from the torch backend, or None where it is not installed."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return None
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source, device="cpu")
    vectors = model.encode(
        list(PROBES), batch_size=16, convert_to_numpy=True, normalize_embeddings=True
    )
    return np.asarray(vectors, dtype=np.float32)


def compare_with_torch(
    model_name: str, folder: Any, onnx_file: Path, meta: dict[str, Any]
) -> dict[str, Any]:
    """Cosines of ``onnx_file``'s probe vectors to the torch backend's: the minimum,
    the mean and what they were compared with."""
    from dnf_core.encoders.onnx import OnnxModel

    reference = shipped_reference(model_name, meta["weights_sha256"])
    against = f"shipped torch vectors ({reference_file(model_name).name})"
    if reference is None:
        reference = torch_vectors(str(folder.path))
        against = "the torch backend, computed now"
    if reference is None:
        raise EncoderError(
            f"cannot check the ONNX export of {model_name!r}: torch is not installed here "
            "and neural-feed ships no reference vectors for these weights. Export it where "
            "neural-feed[worker-torch] is installed and copy the folder, or pass --no-check"
        )
    model = OnnxModel.load(
        onnx_file,
        folder.tokenizer,
        max_seq_length=folder.max_seq_length,
        pooling=folder.pooling,
        normalize=folder.normalize,
        intra_op_threads=1,
        lower_case=folder.lower_case,
    )
    ours = model.encode(list(PROBES))
    cosines = (ours * reference).sum(axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1)
    )
    return {
        "min_cosine": float(cosines.min()),
        "mean_cosine": float(cosines.mean()),
        "probes": len(PROBES),
        "checked_against": against,
    }


def write_reference(model_name: str) -> Path:
    """Compute the probes' torch vectors for ``model_name`` and write them to ship."""
    from dnf_core.encoders.onnx_cache import sha256_of
    from dnf_core.encoders.sentence_transformer import resolve_model

    source = resolve_model(model_name)
    vectors = torch_vectors(source)
    if vectors is None:
        raise EncoderError("writing reference vectors needs sentence-transformers (torch)")
    path = reference_file(model_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "model_name": model_name,
        "weights_sha256": sha256_of(Path(source) / "model.safetensors"),
        "made_by": "sentence-transformers on torch, normalize_embeddings=True",
        "texts": list(PROBES),
        "vectors_f32_le": base64.b64encode(vectors.astype("<f4").tobytes()).decode(),
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dnf_core.encoders.reference",
        description="Write the torch backend's vectors of the probe texts, to ship.",
    )
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--write", action="store_true", required=True)
    args = parser.parse_args(argv)
    print(write_reference(args.model), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
