# The neural-feed worker (relay + Dramatiq actors). No Django inside: it reads feed
# specs from Postgres. Install a CPU build of PyTorch first to keep the image small.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY dnf_core dnf_core
COPY dnf_django dnf_django
COPY workers workers
COPY sql sql
RUN pip install --no-cache-dir ".[worker]"
ENV HF_HUB_OFFLINE=1
CMD ["dnf-worker"]
