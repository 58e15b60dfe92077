"""Input checks shared by every stage and model.

Bad input raises ``TypeError`` or ``ValueError`` naming the argument and the allowed range;
nothing is allowed to propagate a silent NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_fs(fs, name: str = "fs") -> float:
    """Return ``fs`` as float; reject non-numbers, NaN/inf and values <= 0."""
    if isinstance(fs, bool) or not isinstance(fs, (int, float)):
        raise TypeError(f"{name} must be a positive number in Hz, got {type(fs).__name__}")
    fs = float(fs)
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"{name} must be a finite positive sampling rate in Hz, got {fs}")
    return fs


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float; reject non-finite values and values <= 0 (or < 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    bad = value < 0 if allow_zero else value <= 0
    if not math.isfinite(value) or bad:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {rng}, got {value}")
    return value


def check_frequency_range(flow: float, fhigh: float, fs: float,
                          names: tuple[str, str] = ("flow", "fhigh")) -> tuple[float, float]:
    """Require ``0 < flow < fhigh < fs/2``."""
    lo, hi = names
    flow = check_positive(flow, lo)
    fhigh = check_positive(fhigh, hi)
    if fhigh >= fs / 2:
        raise ValueError(f"{hi} must be below the Nyquist frequency fs/2 = {fs / 2:g} Hz, got {fhigh:g}")
    if flow >= fhigh:
        raise ValueError(f"{lo} must be below {hi} ({fhigh:g} Hz), got {flow:g}")
    return flow, fhigh


def check_int(value, name: str, minimum: int) -> int:
    """Return ``value`` as int; reject non-integers (and bools) and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_kwargs(kwargs: Mapping | None, allowed: Iterable[str], name: str,
                 aliases: Mapping[str, str] | None = None) -> dict:
    """Return a copy of ``kwargs`` with ``aliases`` (e.g. the spec's spellings) renamed to the
    stage's own names; unknown keys (typos) and a setting given twice raise ``TypeError``."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{name} must be a dict or None, got {type(kwargs).__name__}")
    aliases, out = aliases or {}, {}
    for key, value in kwargs.items():
        own = aliases.get(key, key)
        if own in out:
            raise TypeError(f"{name}: {key!r} and {own!r} are the same setting; give one")
        out[own] = value
    allowed = set(allowed)
    unknown = sorted(set(out) - allowed)
    if unknown:
        raise TypeError(f"{name} got unknown key(s) {unknown}; allowed: {sorted(allowed | set(aliases))}")
    return out


def check_choice(value, allowed: Iterable, name: str):
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_signal(x, name: str = "x", *, min_samples: int = 2, max_dims: int = 2,
                 dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """Validate an audio signal and return it as a floating-point tensor.

    Accepts tensors or array-likes with 1..``max_dims`` dims, time last. Rejects integer and
    boolean dtypes (ambiguous calibration), complex input, NaN/inf samples, empty input and
    signals shorter than ``min_samples``. ``dtype``/``device`` convert the result when given.
    The NaN/inf check reads the samples, so it runs on CPU tensors only: on a GPU it would
    synchronise the host with the device in every forward pass (device inputs are checked
    for shape and dtype; NaN in them propagates to the output).
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with the argument's name
            raise TypeError(f"{name} must be a torch.Tensor or array-like of floats: {exc}") from None
    if x.dtype == torch.bool or not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{name} must have a floating-point dtype (float32/float64), got {x.dtype}; "
                        "convert integer PCM with stimuli.load_wav or x.float() / full scale")
    if x.is_complex():
        raise TypeError(f"{name} must be real-valued, got {x.dtype}")
    if x.dim() == 0 or x.dim() > max_dims:
        raise ValueError(f"{name} must have 1 to {max_dims} dims (time last), got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if x.shape[-1] < min_samples:
        raise ValueError(f"{name} is too short: {x.shape[-1]} samples, need at least {min_samples}")
    if x.device.type == "cpu" and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf samples")
    if dtype is not None or device is not None:
        x = x.to(dtype=dtype or x.dtype, device=device or x.device)
    return x


def check_dtype(dtype) -> torch.dtype:
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype


def check_numbers(value, name: str) -> torch.Tensor:
    """Any-shape real numbers as a float64 tensor (no bools, strings, complex; no NaN, which
    is checked for CPU tensors: on a device the check would synchronise with the host)."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}")
    try:
        t = torch.as_tensor(value)
    except Exception:  # noqa: BLE001 - re-raised naming the argument
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}") from None
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    t = t.to(torch.float64)
    if t.device.type == "cpu" and bool(torch.isnan(t).any()):
        raise ValueError(f"{name} must not contain NaN")
    return t
