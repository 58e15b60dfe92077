"""Input checks shared by every stage and model.

Bad input raises ``TypeError`` or ``ValueError`` naming the argument and the allowed range;
nothing is allowed to propagate a silent NaN.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)
MAX_MODEL_FS_HZ = 1e6
"""Highest sampling rate (Hz) the models accept (their filter designs and tables are made
for audio rates; 1 MHz leaves room for any audio interface)."""
MAX_FIR_ORDER = 8192
"""Largest FIR order of the outer/middle-ear designs (AMT: 512)."""
MAX_FILTER_ORDER = 16
"""Largest order accepted for a cascade of identical filter sections (gammatone, IHC
low-pass, high-pass): far beyond any model's (AMT uses 1 to 5), and it bounds the work."""


def describe(value) -> str:
    """A short description of a bad argument for an error message: the value itself for
    numbers and short strings, else its type name (never an object repr)."""
    if isinstance(value, (bool, np.bool_, numbers.Number)) or (isinstance(value, str) and len(value) <= 40):
        return repr(value)
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({value.dtype}, {value.device.type})"
    return type(value).__name__


def _real(value, name: str, what: str) -> float:
    """``value`` as float: Python and numpy real numbers and 0-d real tensors; bools rejected."""
    if isinstance(value, torch.Tensor):
        if value.dim() == 0 and value.dtype != torch.bool and not value.is_complex() and value.device.type != "meta":
            return float(value)
        raise TypeError(f"{name} must be {what} (a number or a 0-d real tensor), got {describe(value)}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    return float(value)


def check_fs(fs, name: str = "fs", maximum: float | None = None) -> float:
    """Return ``fs`` as float (Python or numpy numbers, 0-d tensors); reject other types,
    NaN/inf, values <= 0 and, when given, values above ``maximum``."""
    fs = _real(fs, name, "a positive sampling rate in Hz")
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"{name} must be a finite positive sampling rate in Hz, got {fs}")
    if maximum is not None and fs > maximum:
        raise ValueError(f"{name} must be a sampling rate in (0, {maximum:g}] Hz, got {fs:g}")
    return fs


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float; reject non-finite values and values <= 0 (or < 0)."""
    value = _real(value, name, "a number")
    bad = value < 0 if allow_zero else value <= 0
    if not math.isfinite(value) or bad:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {rng}, got {value}")
    return value


def check_finite(value, name: str) -> float:
    """Return ``value`` as float; reject non-numbers and NaN/inf."""
    value = _real(value, name, "a finite number")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def check_real_array(value, name: str, what: str = "numbers", max_dims: int = 1) -> torch.Tensor:
    """``value`` (a number, a sequence, a numpy array or a tensor of real numbers) as a float64
    CPU tensor with at most ``max_dims`` dims; NaN/inf are rejected too (values only: ranges are
    the caller's)."""
    if isinstance(value, torch.Tensor):
        ok = value.device.type != "meta" and value.dtype != torch.bool and not value.is_complex()
        t = value.detach().to("cpu", torch.float64) if ok else None
    elif isinstance(value, (str, bytes, Mapping, bool, np.bool_)) or value is None:
        t = None
    else:
        try:
            arr = np.asarray(value)
            t = torch.as_tensor(arr, dtype=torch.float64) if arr.dtype.kind in "iuf" else None
        except (TypeError, ValueError, OverflowError):
            t = None
    if t is None:
        raise TypeError(f"{name} must be {what} (a number or a sequence of numbers), got {describe(value)}")
    if t.dim() > max_dims:
        raise ValueError(f"{name} must have at most {max_dims} dim(s), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite {what}, got {t.tolist() if t.numel() <= 8 else 'NaN or inf'}")
    return t


def check_bool(value, name: str) -> bool:
    """Return ``value`` as bool; only ``True``/``False`` (and numpy bools) are accepted, so a
    string such as ``'no'`` is not silently taken as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_frequency_range(
    flow: float, fhigh: float, fs: float, names: tuple[str, str] = ("flow", "fhigh")
) -> tuple[float, float]:
    """Require ``0 < flow < fhigh < fs/2``."""
    lo, hi = names
    flow = check_positive(flow, lo)
    fhigh = check_positive(fhigh, hi)
    if fhigh >= fs / 2:
        raise ValueError(f"{hi} must be below the Nyquist frequency fs/2 = {fs / 2:g} Hz, got {fhigh:g}")
    if flow >= fhigh:
        raise ValueError(f"{lo} must be below {hi} ({fhigh:g} Hz), got {flow:g}")
    return flow, fhigh


def check_int(value, name: str, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as int; reject non-integers (and bools) and values outside
    ``[minimum, maximum]`` (the bound keeps sizes from exhausting memory or time)."""
    rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer {rng}, got {describe(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {rng}, got {value}")
    return int(value)


def check_kwargs(
    kwargs: Mapping | None, allowed: Iterable[str], name: str, aliases: Mapping[str, str] | None = None
) -> dict:
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
    """Return ``value`` if it is one of ``allowed`` (strings or numbers; a bool, an array or
    any other object is never taken for one of them)."""
    allowed = tuple(allowed)
    plain = isinstance(value, (str, numbers.Number)) and not isinstance(value, (bool, np.bool_))
    if not (plain and value in allowed):
        raise ValueError(f"{name} must be one of {allowed}, got {describe(value)}")
    return value


def check_signal(
    x, name: str = "x", *, min_samples: int = 2, max_dims: int = 2, dtype: torch.dtype | None = None, device=None
) -> torch.Tensor:
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
        except Exception:  # noqa: BLE001 - re-raised with the argument's name, without library text
            kind = "a ragged or non-numeric sequence" if isinstance(x, (list, tuple)) else describe(x)
            raise TypeError(f"{name} must be a torch.Tensor or array-like of floats, got {kind}") from None
    if x.dtype == torch.bool or not (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"{name} must have a floating-point dtype (float32/float64), got {x.dtype}; "
            "convert integer PCM with stimuli.load_wav or x.float() / full scale"
        )
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
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"dtype must be torch.float32 or torch.float64, got "
            f"{dtype if isinstance(dtype, torch.dtype) else describe(dtype)}"
        )
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


def check_range(value, name: str, low: float, high: float, unit: str = "", *, open_low: bool = False) -> float:
    """Return ``value`` as float; reject non-numbers and values outside ``[low, high]``
    (``(low, high]`` with ``open_low``)."""
    value = _real(value, name, "a number")
    if not (low < value if open_low else low <= value) or not value <= high:
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]{' ' + unit if unit else ''}"
        raise ValueError(f"{name} must lie in {interval}, got {value:g}")
    return value
