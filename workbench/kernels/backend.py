"""Which implementation runs a recursion: numba on CPU, Triton on CUDA, torch as a fallback.

Every kernel family (``iir``, ``adaptation``, ``modfilter``, ``ihc``, ``agc``) takes a
``backend`` argument resolved here:

``'auto'``
    the context override set by :func:`use_backend` if any; else ``'numba'`` for CPU
    tensors and ``'triton'`` for CUDA tensors (``'torch'`` when Triton is not installed).
``'numba'``
    compiled CPU kernels (CPU tensors only).
``'triton'``
    device kernels, one lane per (batch, channel) row, sequential in time, state in
    registers. Meta tensors take this path too (the launchers only allocate outputs), so
    a model's whole device path can be checked for host reads without a GPU. CPU tensors
    are accepted when ``TRITON_INTERPRET=1`` was set before the
    first kernel was loaded: the Triton interpreter then runs the very same kernel code
    with numpy, which is how the device path is tested on machines without a GPU.
``'torch'``
    plain torch reference recursions (a Python loop over samples; slow, any device).

Everything that is not ``'numba'`` is the *device path*: stages use
:func:`uses_device_path` to pick torch ops that keep data on the device (and never sync
with the host) instead of fused CPU kernels.

>>> import torch
>>> resolve_backend(torch.zeros(3))
'numba'
>>> with use_backend("torch"):
...     resolve_backend(torch.zeros(3))
'torch'
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os

import numpy as np
import torch

__all__ = [
    "BACKENDS",
    "resolve_backend",
    "use_backend",
    "uses_device_path",
    "load_triton_kernels",
    "triton_available",
    "interpreting",
    "rows_per_program",
    "device_constant",
    "shape_only",
]

BACKENDS = ("auto", "numba", "triton", "torch")
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("workbench_backend", default=None)


def interpreting() -> bool:
    """True when Triton kernels run in the interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_available() -> bool:
    """True when the ``triton`` package can be imported."""
    try:
        importlib.import_module("triton")
    except ImportError:
        return False
    return True


def load_triton_kernels(family: str):
    """Import ``workbench.kernels.triton_<family>`` (imports triton; only on first use)."""
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # keep FMA contraction, silence 3.9
    return importlib.import_module(f"workbench.kernels.triton_{family}")


def rows_per_program(n_rows: int) -> int:
    """Lanes per Triton program: one warp on a GPU; all rows at once in the interpreter
    (it runs programs one after another, so wide programs are what make it fast)."""
    if interpreting():
        return max(16, min(1 << max(int(n_rows) - 1, 0).bit_length(), 4096))
    return 32


def shape_only(*tensors: torch.Tensor) -> bool:
    """True for tensors without data (``device='meta'``, or fake tensors): kernel launchers
    then only allocate their outputs. A whole model then runs its device path on meta
    tensors without a GPU, which proves that path never mixes devices and never reads data
    on the host (meta tensors raise on ``.item()``, ``bool()``, ``.numpy()`` and on device
    mismatches, as a synchronising CUDA call would stall)."""
    return any(t.is_meta or type(t).__name__ == "FakeTensor" for t in tensors)


_constants: dict = {}


def device_constant(values: np.ndarray, device: torch.device) -> torch.Tensor:
    """A small float64 table as a tensor on ``device``, copied there once and then reused
    (a host-to-device copy inside a forward pass would stall on the host)."""
    key = (np.asarray(values, dtype=np.float64).tobytes(), str(device))
    cached = _constants.get(key)
    if cached is None:
        if len(_constants) > 256:
            _constants.clear()
        cached = _constants[key] = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
    return cached


def _check_name(backend) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    return backend


def resolve_backend(x: torch.Tensor, backend: str = "auto") -> str:
    """The backend that runs a kernel on tensor ``x`` (see the module docstring)."""
    backend = _check_name(backend)
    if backend == "auto":
        backend = _override.get() or "auto"
    if backend == "auto":
        if x.device.type == "cpu":
            return "numba"
        return "triton" if (x.device.type in ("cuda", "meta") and triton_available()) else "torch"
    if backend == "numba" and x.device.type != "cpu":
        raise ValueError(f"backend='numba' runs on CPU tensors only, got a tensor on {x.device.type}")
    if backend == "triton":
        if not triton_available():
            raise ValueError("backend='triton' needs the triton package (pip install triton)")
        if x.device.type == "cpu" and not interpreting():
            raise ValueError(
                "backend='triton' on CPU tensors needs TRITON_INTERPRET=1 in the environment "
                "before workbench loads its kernels"
            )
        if x.device.type not in ("cpu", "cuda", "meta"):
            raise ValueError(f"backend='triton' runs on CUDA tensors, got a tensor on {x.device.type}")
    return backend


def uses_device_path(x: torch.Tensor, backend: str = "auto") -> bool:
    """True when ``x`` is processed by the device path (Triton or torch, not numba)."""
    return resolve_backend(x, backend) != "numba"


@contextlib.contextmanager
def use_backend(backend: str):
    """Within the block, ``backend='auto'`` means ``backend`` for every kernel call.

    ``with use_backend('triton'):`` runs a whole model through its device code path (on CPU
    tensors under ``TRITON_INTERPRET=1``), e.g. to test it against the CPU path.
    """
    token = _override.set(None if _check_name(backend) == "auto" else backend)
    try:
        yield
    finally:
        _override.reset(token)
