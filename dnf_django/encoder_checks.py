"""System checks of the encoder backends: an ONNX backend needs its checked export."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core.checks import CheckMessage, Error, register

from dnf_core.encoders.backends import TORCH, has_backends
from dnf_core.encoders.onnx_cache import unusable

EXPORT_COMMAND = "python manage.py dnf_export_model"


@register()
def check_encoder_exports(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each ONNX backend in use can run its model here: exported and checked already,
    or exportable on first use (weights, exporter and a torch reference at hand).

    Only where ONNX Runtime is installed, so in a worker's environment: a web process
    never encodes, and what a worker's machine holds is not visible from here.
    """
    from dnf_django.checks import _compiled

    compiled, problems = _compiled()
    if problems or importlib.util.find_spec("onnxruntime") is None:
        return []
    messages: list[CheckMessage] = []
    seen: set[tuple[str, str]] = set()
    for _, spec in compiled:
        key = (spec.model_name, spec.encoder_backend)
        if spec.encoder_backend == TORCH or not has_backends(spec.encoder) or key in seen:
            continue
        seen.add(key)
        reason = unusable(spec.model_name, spec.encoder_backend)
        if reason is not None:
            messages.append(
                Error(
                    f"feed {spec.feed_id!r}: the {spec.encoder_backend} backend cannot run "
                    f"{spec.model_name!r} here: {reason}",
                    hint=(
                        f"export it where it can be: {EXPORT_COMMAND} (docs/settings.md, "
                        "ENCODER_BACKEND), or set ENCODER_BACKEND = 'torch'"
                    ),
                    id="dnf_django.E010",
                )
            )
    return messages
