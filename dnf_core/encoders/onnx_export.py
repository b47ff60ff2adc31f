"""Export a sentence-transformers BERT model to ONNX from its weights alone, without torch.

The graph is written node by node from ``model.safetensors`` with the ``onnx`` package:
embeddings, the encoder layers (self-attention, feed-forward, post-layer norms, exact
erf GELU) and the last hidden state as output. Pooling (mean over the attention mask)
and L2 normalization stay in :mod:`dnf_core.encoders.onnx`, with NumPy, exactly as
sentence-transformers does them; tokenization uses the model's own ``tokenizer.json``
with its ``max_seq_length``. The int8 file is the fp32 file after ONNX Runtime's
dynamic quantization (int8 weights of every MatMul, activations quantized per call).

Everything here is local: the model folder comes from a package (the bundled
all-MiniLM-L6-v2) or a path, nothing is fetched. Exporting takes seconds, so the
files are made once per weights file and cached (:mod:`dnf_core.encoders.onnx_cache`).
Architectures other than BERT's (``model_type`` "bert") are refused with the reason;
such a model runs on the torch backend.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dnf_core.errors import EncoderError

# Bump when the graph changes: cached files of another version are made again.
EXPORT_VERSION = 1
OPSET = 17  # LayerNormalization
MS = "com.microsoft"  # ONNX Runtime's contrib operators

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


@dataclass(frozen=True)
class ModelFolder:
    """What the encoder needs to know about a sentence-transformers model folder."""

    path: Path
    config: dict[str, Any]
    max_seq_length: int
    pooling: str  # "mean" or "cls"
    normalize: bool
    # sentence_bert_config's do_lower_case: sentence-transformers lowercases the text
    # itself (besides whatever the tokenizer's normalizer does).
    lower_case: bool = False

    @property
    def weights(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def tokenizer(self) -> Path:
        return self.path / "tokenizer.json"


def read_folder(path: str | Path) -> ModelFolder:
    """Read and check a sentence-transformers folder: a BERT transformer, then
    mean or CLS pooling, then (optionally) normalization."""
    folder = Path(path)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise EncoderError(f"{folder}: no readable config.json ({exc})") from exc
    if config.get("model_type") != "bert":
        raise EncoderError(
            f"{folder}: the ONNX backends export BERT models only, this one is "
            f"{config.get('model_type')!r}; use ENCODER_BACKEND='torch' for it"
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise EncoderError(f"{folder}: only absolute position embeddings can be exported")
    if config.get("hidden_act") != "gelu":
        raise EncoderError(f"{folder}: only hidden_act 'gelu' can be exported")
    for name in ("model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            raise EncoderError(f"{folder}: {name} is missing; the ONNX backends need it")
    modules = _json(folder / "modules.json", [])
    types = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    pooling, normalize = "mean", "Normalize" in types
    if "Pooling" in types:
        pool_dir = next(m["path"] for m in modules if m.get("type", "").endswith("Pooling"))
        pool = _json(folder / pool_dir / "config.json", {})
        modes = [k for k, v in pool.items() if k.startswith("pooling_mode") and v]
        if modes == ["pooling_mode_mean_tokens"]:
            pooling = "mean"
        elif modes == ["pooling_mode_cls_token"]:
            pooling = "cls"
        else:
            raise EncoderError(f"{folder}: pooling {modes} is not supported by the ONNX backends")
    extra = set(types) - {"Transformer", "Pooling", "Normalize", ""}
    if extra:
        raise EncoderError(f"{folder}: modules {sorted(extra)} are not supported by ONNX backends")
    st_config = _json(folder / "sentence_bert_config.json", {})
    tokenizer_config = _json(folder / "tokenizer_config.json", {})
    # sentence-transformers truncates at max_seq_length, else at the tokenizer's limit.
    limits = [
        v
        for v in (
            st_config.get("max_seq_length"),
            tokenizer_config.get("model_max_length"),
            config.get("max_position_embeddings"),
        )
        if isinstance(v, int) and v > 0
    ]
    max_seq_length = st_config.get("max_seq_length") or min(limits)
    max_seq_length = min(max_seq_length, config["max_position_embeddings"])
    lower_case = bool(st_config.get("do_lower_case", False))
    return ModelFolder(folder, config, max_seq_length, pooling, normalize, lower_case)


def _json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise EncoderError(f"cannot read {path}: {exc}") from exc


def load_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every tensor of a .safetensors file as a NumPy array (the format is a JSON
    header and raw little-endian data: no torch, no extra package)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    header.pop("__metadata__", None)
    base = 8 + size
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        raw = data[base + start : base + end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array: npt.NDArray[Any] = bits.view(np.float32)
        elif info["dtype"] in _DTYPES:
            array = np.frombuffer(raw, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        else:
            raise EncoderError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        tensors[name] = array.reshape(info["shape"])
    return tensors


def build_graph(
    folder: ModelFolder,
    *,
    outlier_channels: dict[str, npt.NDArray[np.int64]] | None = None,
    expose_inputs: bool = False,
) -> Any:
    """The fp32 ONNX model: (input_ids, attention_mask) -> last_hidden_state.

    ``outlier_channels`` (for the int8 graph; see :func:`find_outliers`): per linear
    layer's input tensor, the few channels whose magnitude dwarfs the others' (BERT's
    [CLS] token carries such a channel in its first layers). Their share of the
    product is computed apart, in fp32, so the int8 product of the rest keeps its
    precision; the fp32 result is the same. ``expose_inputs``: every linear layer's
    input is an output too, to measure those magnitudes.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config = folder.config
    weights = load_safetensors(folder.weights)
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name: str) -> npt.NDArray[np.float32]:
        try:
            return np.ascontiguousarray(weights[prefix + name], dtype=np.float32)
        except KeyError:
            raise EncoderError(f"{folder.weights}: tensor {prefix + name} is missing") from None

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    linear_inputs: list[str] = []
    split_inputs: dict[str, tuple[str, str]] = {}

    def split(x: str, channels: npt.NDArray[np.int64], width: int) -> tuple[str, str]:
        """``x`` without its outlier ``channels`` (zeroed), and those channels alone."""
        if x not in split_inputs:
            keep = np.ones(width, dtype=np.float32)
            keep[channels] = 0.0
            inliers = node("Mul", [x, const(f"{x}.inlier_mask", keep)], f"{x}.inliers")
            picked = const(f"{x}.outlier_channels", channels.astype(np.int64))
            outliers = node("Gather", [x, picked], f"{x}.outliers", axis=2)
            split_inputs[x] = (inliers, outliers)
        return split_inputs[x]

    def project(x: str, name: str, out: str, *, bias: bool = True) -> tuple[str, str]:
        """``x`` times the weight of torch Linear ``name``; the product, and the bias
        (added by the node that takes the product: attention, BiasGelu, SkipLayerNorm)."""
        # torch's Linear stores (out, in); MatMul wants (in, out).
        matrix = w(f"{name}.weight").T.copy()
        bias_name = const(f"{name}.bias", w(f"{name}.bias")) if bias else ""
        if x not in linear_inputs:
            linear_inputs.append(x)
        channels = outlier_channels.get(x) if outlier_channels else None
        if channels is None or not channels.size:
            weight = const(f"{name}.weight_t", matrix)
            return node("MatMul", [x, weight], f"{out}.mm"), bias_name
        # x @ W = x_inliers @ W + x_outliers @ W[outliers]: the second, a thin product
        # kept in fp32 (OUTLIER_SUFFIX), carries the few channels whose magnitude would
        # otherwise set the int8 scale of every other one.
        inliers, outliers = split(x, channels, matrix.shape[0])
        rows = const(f"{name}.outlier_rows", matrix[channels].copy())
        thin = node("MatMul", [outliers, rows], f"{out}{OUTLIER_SUFFIX}")
        weight = const(f"{name}.weight_t", matrix)
        main = node("MatMul", [inliers, weight], f"{out}.mm")
        return node("Add", [main, thin], f"{out}.sum"), bias_name

    def layer_norm(x: str, name: str, out: str) -> str:
        scale = const(f"{name}.weight", w(f"{name}.weight"))
        bias = const(f"{name}.bias", w(f"{name}.bias"))
        return node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    # Embeddings: word + position + token type 0 (single sentences), then LayerNorm.
    words = const("word_embeddings", w("embeddings.word_embeddings.weight"))
    positions = const(
        "position_embeddings",
        w("embeddings.position_embeddings.weight")
        + w("embeddings.token_type_embeddings.weight")[0],
    )
    shape = node("Shape", ["input_ids"], "input_shape")
    length = node(
        "Gather", [shape, const("one", np.asarray([1], dtype=np.int64))], "seq_len", axis=0
    )
    zero = const("zero", np.asarray([0], dtype=np.int64))
    position_rows = node("Slice", [positions, zero, length, zero], "position_rows")
    embedded = node(
        "Add", [node("Gather", [words, "input_ids"], "word_rows", axis=0), position_rows], "emb"
    )
    x = layer_norm(embedded, "embeddings.LayerNorm", "emb_ln")

    # ONNX Runtime's fused kernels (com.microsoft): attention over all heads with the
    # padding mask, bias + exact GELU, bias + residual + LayerNorm. The same arithmetic
    # as BERT's modules, in fewer, faster nodes.
    padding = node("Cast", ["attention_mask"], "key_padding_mask", to=TensorProto.INT32)

    def skip_layer_norm(product: str, bias: str, residual: str, name: str, out: str) -> str:
        scale = const(f"{name}.weight", w(f"{name}.weight"))
        shift = const(f"{name}.bias", w(f"{name}.bias"))
        nodes.append(
            helper.make_node(
                "SkipLayerNormalization",
                [product, residual, scale, shift, bias],
                [out],
                name=out,
                domain=MS,
                epsilon=eps,
            )
        )
        return out

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        projections = [
            project(x, f"{p}.attention.self.{kind}", f"l{i}.{kind}", bias=False)
            for kind in ("query", "key", "value")
        ]
        qkv_bias = const(
            f"l{i}.qkv_bias",
            np.concatenate(
                [w(f"{p}.attention.self.{kind}.bias") for kind in ("query", "key", "value")]
            ),
        )
        context = f"l{i}.ctx.merged"
        nodes.append(
            helper.make_node(
                "MultiHeadAttention",
                [*(product for product, _ in projections), qkv_bias, padding],
                [context],
                name=context,
                domain=MS,
                num_heads=heads,
            )
        )
        attended, attended_bias = project(context, f"{p}.attention.output.dense", f"l{i}.attn")
        x = skip_layer_norm(
            attended, attended_bias, x, f"{p}.attention.output.LayerNorm", f"l{i}.attn_ln"
        )
        up, up_bias = project(x, f"{p}.intermediate.dense", f"l{i}.up")
        # BERT's "gelu" is the exact one: 0.5 * x * (1 + erf(x / sqrt(2))).
        gelu = f"l{i}.gelu"
        nodes.append(helper.make_node("BiasGelu", [up, up_bias], [gelu], name=gelu, domain=MS))
        down, down_bias = project(gelu, f"{p}.output.dense", f"l{i}.down")
        x = skip_layer_norm(down, down_bias, x, f"{p}.output.LayerNorm", f"l{i}.out")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    out_shape: list[str | int | None] = ["batch", "seq", hidden]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, out_shape)]
    if expose_inputs:
        outputs += [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", "seq", f"{n}.width"])
            for n in linear_inputs
        ]
    graph = helper.make_graph(
        nodes,
        "sentence_transformer",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        outputs,
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)],
        producer_name="neural-feed",
        producer_version=str(EXPORT_VERSION),
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


OUTLIER_SUFFIX = ".outliers.mm"
# A channel is an outlier when its largest magnitude on the calibration texts exceeds
# this many times the 90th percentile of all the channels' largest magnitudes.
OUTLIER_RATIO = 3.0
MAX_OUTLIERS = 16


def find_outliers(
    ranges: dict[str, npt.NDArray[np.float32]],
) -> dict[str, npt.NDArray[np.int64]]:
    """The outlier channels of each linear layer's input, from :func:`activation_ranges`."""
    found = {}
    for name, peak in ranges.items():
        threshold = OUTLIER_RATIO * float(np.percentile(peak, 90))
        order = np.argsort(peak)[::-1][:MAX_OUTLIERS]
        found[name] = np.sort(order[peak[order] > threshold]).astype(np.int64)
    return found


def activation_ranges(folder: ModelFolder, texts: list[str]) -> dict[str, npt.NDArray[np.float32]]:
    """Per linear layer input, each channel's largest magnitude over ``texts``."""
    import onnxruntime

    from dnf_core.encoders.onnx import OnnxModel

    model = build_graph(folder, expose_inputs=True)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()][1:]
    probe = OnnxModel(
        session,
        folder.tokenizer,
        max_seq_length=folder.max_seq_length,
        pooling=folder.pooling,
        normalize=folder.normalize,
        lower_case=folder.lower_case,
    )
    ranges: dict[str, npt.NDArray[np.float32]] = {}
    for start in range(0, len(texts), 16):
        encodings = probe.tokenizer.encode_batch([t.strip() for t in texts[start : start + 16]])
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        values = session.run(names, {"input_ids": ids, "attention_mask": mask})
        for name, value in zip(names, values, strict=True):
            real = np.abs(value[mask.astype(bool)])  # tokens, channels: padding left out
            peak = real.max(axis=0)
            ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    return ranges


def export_fp32(folder: ModelFolder, target: Path) -> Path:
    """Write the fp32 graph to ``target``."""
    import onnx

    onnx.save_model(build_graph(folder), str(target))
    return target


# Texts whose activations locate the outlier channels (find_outliers). They come from
# the model's structure (the [CLS] token, a few fixed dimensions), so a handful of
# varied texts finds them; none of these is among the probes the export is checked on.
CALIBRATION: tuple[str, ...] = (
    "The Shawshank Redemption (1994) Crime, Drama prison, friendship, hope",
    "Pulp Fiction (1994) Comedy, Crime, Drama, Thriller nonlinear, quentin tarantino",
    "Spirited Away (2001) Adventure, Animation, Fantasy studio ghibli, miyazaki",
    "Alien (1979) Horror, Sci-Fi space, creature, ridley scott",
    "Casablanca (1942) Drama, Romance, War classic, bogart",
    "How to bake sourdough bread at home with a simple starter",
    "The central bank raised interest rates by a quarter of a point on Tuesday.",
    "Quarterly earnings beat expectations despite supply chain problems",
    "A beginner's guide to training for a first marathon",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Why is the sky blue?",
    "Le Fabuleux Destin d'Amélie Poulain (2001) Comédie, Romance",
    "Das Boot (1981) Action, Drama, War submarine",
    "python asyncio event loop tutorial",
    "Breaking: storm closes schools across the region",
    "I loved this film, the soundtrack was amazing and the ending made me cry!",
    "1, 2, 3, 4: counting games for toddlers",
    "Top 10 hiking trails in the Alps for summer 2024",
    "Documentary (2010) Documentary nature, wildlife, ocean",
    "(no title) () ,,,",
)


def export_int8(folder: ModelFolder, target: Path) -> Path:
    """The int8 graph: outlier channels found on :data:`CALIBRATION` and kept apart in
    fp32, then ONNX Runtime's dynamic quantization of every other MatMul with a weight
    (int8 weights per output channel, activations quantized per call)."""
    import onnx

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise EncoderError(
            "onnxruntime is not installed: pip install 'neural-feed[worker]'"
        ) from exc
    outliers = find_outliers(activation_ranges(folder, list(CALIBRATION)))
    graph = build_graph(folder, outlier_channels=outliers)
    thin = [n.name for n in graph.graph.node if n.name.endswith(OUTLIER_SUFFIX)]
    source = target.with_name(f"{target.stem}.unquantized.onnx")
    onnx.save_model(graph, str(source))
    # The quantizer advises "pre-processing" through the root logger: not for this graph.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=thin,
            # Shape inference cannot type the outputs of contrib operators.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
        source.unlink(missing_ok=True)
    return target
