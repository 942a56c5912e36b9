"""Where CPU or GPU is decided: the one place that knows about CuPy.

``backend`` is one of ``"auto"`` (GPU when CuPy and a CUDA device are usable,
else CPU), ``"cpu"`` or ``"gpu"`` (a clear :class:`BackendUnavailable` error
when CuPy or a device is missing). CuPy is imported lazily.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

import numpy

from .errors import BackendUnavailable, InputError

__all__ = ["BACKENDS", "BUDGET_SHARE", "resolve_backend", "gpu_available", "array_module", "free_memory_bytes", "gpu_extra_for", "GPU_EXTRAS"]

#: without a memory budget, the exact TC kernel and a full-batch training step may use this share of the free memory
BUDGET_SHARE = 0.5

BACKENDS = ("auto", "cpu", "gpu")

#: the package extra whose CuPy wheel matches each CUDA major version of torch (pyproject.toml)
GPU_EXTRAS = {13: "gpu", 12: "gpu-cuda12"}


def gpu_extra_for(torch_cuda: str | None) -> str:
    """The extra to install beside a torch built for CUDA ``torch_cuda`` (``torch.version.cuda``, e.g.
    ``"13.2"``): CuPy and torch in one process must use the same CUDA major version. A CPU-only or
    unknown torch gets the default ``gpu``."""
    try:
        major = int(str(torch_cuda).split(".")[0])
    except ValueError:
        return "gpu"
    return GPU_EXTRAS.get(major, "gpu")


def _torch_cuda() -> str | None:
    """``torch.version.cuda`` of the installed torch (None for a CPU build); imports torch (error path only)."""
    try:
        import torch  # noqa: PLC0415  (heavy; only to name the right extra in an error)
    except ImportError:
        return None
    return torch.version.cuda


@functools.lru_cache(maxsize=1)
def _cupy_status() -> tuple[ModuleType | None, str]:
    try:
        import cupy  # noqa: PLC0415  (lazy on purpose)
    except Exception as err:  # ImportError, or a CUDA library failing to load
        return None, f"CuPy is not importable ({type(err).__name__}: {err})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:
        return None, f"no usable CUDA device ({type(err).__name__}: {err})"
    if count < 1:
        return None, "no CUDA device found"
    return cupy, ""


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    return _cupy_status()[0] is not None


def resolve_backend(backend: str = "auto") -> str:
    """Turn ``"auto" | "cpu" | "gpu"`` into the concrete ``"cpu"`` or ``"gpu"``.

    Raises
    ------
    InputError
        ``backend`` is not one of :data:`BACKENDS`.
    BackendUnavailable
        ``"gpu"`` was asked for but CuPy or a CUDA device is missing.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "cpu":
        return "cpu"
    cupy, why = _cupy_status()
    if backend == "gpu" and cupy is None:
        raise BackendUnavailable(
            f"--backend gpu is not usable: {why}",
            hint=f"install the gpu extra (pip install 'topo-graphdb[{gpu_extra_for(_torch_cuda())}]') on a CUDA machine, or use --backend cpu",
        )
    return "gpu" if cupy is not None else "cpu"


def array_module(backend: str) -> ModuleType:
    """NumPy for ``"cpu"``, CuPy for ``"gpu"`` (after :func:`resolve_backend`)."""
    if resolve_backend(backend) == "gpu":
        return _cupy_status()[0]
    return numpy


def free_memory_bytes(backend: str) -> int:
    """Free memory where ``backend`` computes: available RAM, or free GPU memory."""
    if resolve_backend(backend) == "gpu":
        free, _total = _cupy_status()[0].cuda.runtime.memGetInfo()
        return int(free)
    try:
        import psutil  # noqa: PLC0415  (~20-50 ms to import; this module is loaded at every CLI start)

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is a dependency
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
