"""Choose the torch device once, at the top, and pass it down (never a module global)."""

from __future__ import annotations

import torch

from qdemo.errors import QdemoError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N" | "mps"`` into a usable ``torch.device``.

    ``"auto"`` picks CUDA when it is available, else CPU. Asking for CUDA on a machine
    without it is an error rather than a silent fallback.
    """
    if isinstance(spec, torch.device):
        return spec
    spec = str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as exc:  # torch raises RuntimeError for unknown device strings
        raise QdemoError(f"--device {spec!r}: {exc}; use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise QdemoError(f"--device {spec!r}: CUDA is not available on this machine; use --device cpu or auto")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise QdemoError(f"--device {spec!r}: MPS is not available on this machine")
    return dev
