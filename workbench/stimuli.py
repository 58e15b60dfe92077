"""Calibrated stimuli as torch tensors.

Every generator takes the sampling rate ``fs`` (Hz), a duration in seconds and a level in
dB SPL, and says in which unit its samples are:

* ``calibration='pa'`` (default): sound pressure in pascals, re 20 uPa;
* ``calibration='fullscale'``: dimensionless, an rms of 1 equals ``dboffset`` dB SPL (AMT
  convention ``dboffset=100``; Moore2016's "full-scale sine = 100 dB SPL" is ``dboffset=103.0103``).

Level convention (as in the AMT reference stimuli): the level is that of the rms of the
steady-state waveform *before* the on/off ramps; ramps are applied after scaling. For SAM
stimuli the rms is that of the modulated signal. Noises are scaled to their exact sample
rms, so every generated stimulus has its nominal level to machine precision.

Samples are computed in float64 and returned in ``dtype`` (default: torch's default dtype).
Random stimuli are deterministic given ``seed`` or a ``torch.Generator`` (drawn on the CPU,
then moved to ``device``, so a seed gives the same noise on every device).
Parameters given as sequences/1-D tensors (frequencies, levels, depths) make a batch:
output ``(batch, time)``; scalars give ``(time,)``.

Every argument is checked: bad input raises ``ValueError``/``TypeError`` naming the argument
and its allowed range, never a NaN or inf sample. Levels lie in :data:`LEVEL_RANGE_DB_SPL`;
one call makes at most :data:`MAX_SAMPLES` samples (all batch items and components together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from workbench._messages import choice as _choice
from workbench._messages import show as _show
from workbench._messages import sndfile_reason as _sndfile_reason
from workbench._validation import check_fs, check_numbers, check_positive, check_signal
from workbench.dsp import hilbert_envelope
from workbench.units import P_REF_PA, db_to_amt, db_to_pa, pa_to_db

LEVEL_RANGE_DB_SPL = (-200.0, 194.0)
"""Allowed stimulus levels (dB SPL). 194 dB SPL is an rms pressure of about one atmosphere,
where sound in air stops being a small linear disturbance; both ends stay finite in float32."""
DBOFFSET_RANGE_DB = (-100.0, 200.0)
"""Allowed ``dboffset`` (dB SPL of a full-scale rms of 1)."""
MAX_SAMPLES = 2**27
"""Most samples one call generates (all batch items, channels and components together):
134 million, e.g. 50 minutes at 44.1 kHz, 1 GB in float64."""
MAX_COMPONENTS = 10_000
"""Most sinusoids in one complex tone."""
MAX_FS_HZ = 10_000_000.0
"""Highest sampling rate a stimulus is made at (10 MHz)."""

_F64 = torch.float64
_CALIBRATIONS = ("pa", "fullscale")
_RAMP_SHAPES = ("cos2", "hann", "linear")


# --------------------------------------------------------------------------- level utilities
def _dtype(dtype) -> torch.dtype:
    """``dtype`` (None: torch's default dtype) if it is float32 or float64."""
    if dtype is None:
        dtype = torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {_show(dtype)}")
    return dtype


def _fs(fs) -> float:
    """Sampling rate in Hz: a number in (0, MAX_FS_HZ]."""
    if (
        hasattr(fs, "item")
        and getattr(fs, "ndim", None) == 0
        and not isinstance(fs, torch.Tensor)
        and not isinstance(fs, bool)
    ):
        fs = fs.item()  # numpy scalars
    fs = check_fs(fs)
    if fs > MAX_FS_HZ:
        raise ValueError(f"fs must be at most {MAX_FS_HZ:g} Hz, got {fs:g}")
    return fs


def _unit_rms(level_db_spl, calibration: str, dboffset: float) -> torch.Tensor:
    """RMS in output units of a level in dB SPL under the given calibration."""
    _choice(calibration, _CALIBRATIONS, "calibration")
    level = check_numbers(level_db_spl, "level_db_spl")
    lo, hi = LEVEL_RANGE_DB_SPL
    if not bool(((level >= lo) & (level <= hi)).all()):
        raise ValueError(f"level_db_spl must lie in [{lo:g}, {hi:g}] dB SPL, got {_show(level_db_spl)}")
    if calibration == "pa":
        return db_to_pa(level)
    if (
        isinstance(dboffset, bool)
        or not isinstance(dboffset, (int, float))
        and not (isinstance(dboffset, torch.Tensor) and dboffset.numel() == 1)
    ):
        raise TypeError(f"dboffset must be a number (dB SPL of a full-scale rms of 1), got {type(dboffset).__name__}")
    dboffset = float(dboffset)
    lo, hi = DBOFFSET_RANGE_DB
    if not lo <= dboffset <= hi:  # NaN fails too
        raise ValueError(f"dboffset must lie in [{lo:g}, {hi:g}] dB SPL (of a full-scale rms of 1), got {dboffset}")
    return db_to_amt(level, dboffset)


def rms(x, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """Root-mean-square along ``dim`` (time by default); integer input is taken as float64.

    Empty input and NaN/inf samples raise ``ValueError``.
    """
    x = torch.as_tensor(x) if isinstance(x, torch.Tensor) else check_numbers(x, "x")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"x must hold real numbers, got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(_F64)
    if isinstance(dim, bool) or not isinstance(dim, int) or not -max(x.dim(), 1) <= dim < max(x.dim(), 1):
        raise ValueError(f"dim must be an integer axis of x (shape {tuple(x.shape)}), got {_show(dim)}")
    if x.dim() == 0 or x.shape[dim] == 0:
        raise ValueError(f"x must hold at least one sample along dim {dim}, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or inf samples")
    out = torch.sqrt(torch.mean(x * x, dim=dim, keepdim=keepdim))
    if not bool(torch.isfinite(out).all()):  # x * x overflowed (e.g. float32 near 1e19): scale first
        peak = x.abs().amax(dim=dim, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
        out = torch.sqrt(torch.mean((x / peak) ** 2, dim=dim, keepdim=True)) * peak
        out = out if keepdim else out.squeeze(dim)
    return out


def level_db_spl(x, calibration: str = "pa", dboffset: float = 100.0) -> torch.Tensor:
    """Level in dB SPL of each signal in ``x`` (rms over the last axis)."""
    x = check_signal(x, "x", min_samples=1, max_dims=8)
    ref = _unit_rms(0.0, calibration, dboffset).to(x.dtype)
    return 20.0 * torch.log10(rms(x) / ref)


def set_level(x, level_db_spl, calibration: str = "pa", dboffset: float = 100.0) -> torch.Tensor:
    """Scale ``x`` so that the rms over its last axis has ``level_db_spl`` dB SPL.

    ``level_db_spl`` broadcasts against the leading dims of ``x``. All-zero signals raise.
    """
    x = check_signal(x, "x", min_samples=1, max_dims=8)
    current = rms(x, keepdim=True)
    if bool((current == 0).any()):
        raise ValueError("x is silent (rms 0): its level cannot be set")
    target = _unit_rms(level_db_spl, calibration, dboffset).to(device=x.device, dtype=x.dtype)
    target = target.unsqueeze(-1) if target.dim() else target
    try:
        shape = torch.broadcast_shapes(target.shape, x.shape)
        _check_size(math.prod(shape), "level_db_spl x the samples of x")
    except RuntimeError:
        raise ValueError(
            f"level_db_spl (shape {tuple(target.shape[:-1])}) must broadcast against the leading "
            f"dims of x {tuple(x.shape[:-1])}"
        ) from None
    return x * target / current


# --------------------------------------------------------------------------- validation helpers
def _n_samples(duration_s, fs: float, name: str = "duration_s") -> int:
    duration_s = check_positive(duration_s, name)
    exact = duration_s * fs
    if not exact <= MAX_SAMPLES:  # also inf
        _check_size(exact, name)
    n = round(exact)
    if n < 1:
        raise ValueError(f"{name} = {duration_s} s is shorter than one sample at fs = {fs:g} Hz")
    _check_size(n, name)
    return int(n)


def _check_size(n_samples, name: str):
    if n_samples > MAX_SAMPLES:
        raise ValueError(
            f"{name} asks for {n_samples:.4g} samples; one call makes at most {MAX_SAMPLES} "
            "(shorten the duration, lower fs or split the batch)"
        )


def _check_int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer in [{low}, {high}], got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value}")
    return value


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def _device(device):
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device must be None, 'cpu', 'cuda', 'cuda:N' or a torch.device, got {_show(device)}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {_show(device)} is not available here (torch.cuda.is_available() is False)")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be a cpu, cuda or mps device, got {_show(device)}")
    return dev


def _param(
    value, name: str, low: float = -math.inf, high: float = math.inf, low_open: bool = False, high_open: bool = False
) -> torch.Tensor:
    """Scalar or 1-D parameter as float64 tensor, checked against [low, high] (open ends)."""
    if isinstance(value, (bool, str, bytes)) or isinstance(value, torch.Tensor) and value.dtype == torch.bool:
        raise TypeError(f"{name} must be a number or a 1-D sequence of numbers, got {type(value).__name__}")
    try:
        t = torch.as_tensor(value, dtype=_F64)
    except Exception:  # noqa: BLE001 - re-raised naming the argument
        raise TypeError(f"{name} must be a number or a 1-D sequence of numbers, got {type(value).__name__}") from None
    if t.dim() > 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence, got shape {tuple(t.shape)}")
    if bool(torch.isnan(t).any()):
        raise ValueError(f"{name} must not be NaN, got {_show(value)}")
    bad = (t <= low if low_open else t < low) | (t >= high if high_open else t > high)
    if bool(bad.any()):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {lo}{low:g}, {high:g}{hi}, got {_show(value)}")
    return t


def _finite(value, name: str) -> torch.Tensor:
    return _param(value, name, -1e12, 1e12)


def _scalar(value, name: str) -> float:
    t = _param(value, name)
    if t.dim():
        raise ValueError(f"{name} must be one number here, got {t.numel()} values")
    return float(t)


def _freq(value, fs: float, name: str) -> torch.Tensor:
    return _param(value, f"{name} (below fs/2)", 0.0, fs / 2, low_open=True, high_open=True)


def _batched(*params: torch.Tensor, n_samples: int = 1, names: str = "") -> tuple[list[torch.Tensor], bool]:
    """Broadcast scalar/1-D parameters to column vectors ``(B, 1)``; flag whether batched.
    ``names``: the parameters' names, for messages."""
    batched = any(p.dim() == 1 for p in params)
    lengths = sorted({p.numel() for p in params if p.dim() == 1} - {1})
    if len(lengths) > 1:
        raise ValueError(f"batched parameters ({names}) must share one length, got {lengths}")
    _check_size(max(lengths, default=1) * n_samples, f"the batch ({names}) x duration_s x fs")
    shaped = torch.broadcast_tensors(*[p.reshape(-1, 1) for p in params])
    return list(shaped), batched


def _time(n: int, fs: float) -> torch.Tensor:
    return torch.arange(n, dtype=_F64) / fs


def _finish(
    x: torch.Tensor,
    level_db_spl,
    batched: bool,
    fs: float,
    ramp_s,
    ramp_shape: str,
    calibration: str,
    dboffset: float,
    dtype,
    device,
    names: str = "",
) -> torch.Tensor:
    """Scale the un-ramped waveform to its level, ramp it, squeeze and cast."""
    dtype = _dtype(dtype)
    device = _device(device)
    _choice(ramp_shape, _RAMP_SHAPES, "ramp_shape")
    ramp_s = check_positive(ramp_s, "ramp_s", allow_zero=True)
    if 2 * ramp_s * fs > x.shape[-1] + 1 or 2 * round(ramp_s * fs) > x.shape[-1]:
        raise ValueError(
            f"ramp_s = {ramp_s} s: two ramps are longer than the signal (duration_s = {x.shape[-1] / fs:g} s)"
        )
    _unit_rms(level_db_spl, calibration, dboffset)  # level, calibration and dboffset checks first
    if bool((rms(x) == 0).any()):
        raise ValueError(
            f"the waveform is silent: duration_s = {x.shape[-1] / fs:g} s ({x.shape[-1]} sample(s) at "
            f"fs = {fs:g} Hz) holds no non-zero sample of it; check duration_s" + (f" and {names}" if names else "")
        )
    x = set_level(x, torch.as_tensor(level_db_spl, dtype=_F64).reshape(-1), calibration, dboffset)
    x = apply_ramp(x, fs, ramp_s, ramp_shape)
    if not batched:
        x = x[0]
    x = x.to(dtype=dtype)
    if not bool(torch.isfinite(x).all()):  # e.g. a huge level in float32
        raise ValueError(
            f"the stimulus overflows {dtype} at level_db_spl = {level_db_spl} (dboffset {dboffset}): "
            "lower the level or use dtype=torch.float64"
        )
    return x.to(device=device)


def _generator(seed, generator) -> torch.Generator | None:
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return generator
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an int in [0, 2**63), got {_show(seed)}")
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- ramps
def ramp_window(n_samples: int, ramp_samples: int, shape: str = "cos2") -> torch.Tensor:
    """On/off gain of length ``n_samples`` with ``ramp_samples``-long ramps (float64).

    ``'cos2'`` (raised cosine): ``sin^2(pi/2 k/R)``, k = 0..R-1, 0 at the first sample and
    reaching 1 at sample R, mirrored at the end (the AMT reference stimuli's ramps).
    ``'hann'``: the two halves of a symmetric Hann window of length 2R (``numpy.hanning``),
    which starts at 0 and reaches 1 - O(1/R^2) at sample R-1. ``'linear'``: k/R.
    """
    _choice(shape, _RAMP_SHAPES, "ramp_shape")
    _check_int(n_samples, "n_samples", 1, MAX_SAMPLES)
    _check_int(ramp_samples, "ramp_samples", 0, MAX_SAMPLES)
    if ramp_samples < 0 or 2 * ramp_samples > n_samples:
        raise ValueError(
            f"two ramps of ramp_samples = {ramp_samples} samples each do not fit n_samples = {n_samples} samples"
        )
    w = torch.ones(n_samples, dtype=_F64)
    if ramp_samples == 0:
        return w
    k = torch.arange(ramp_samples, dtype=_F64)
    if shape == "cos2":
        up = torch.sin(0.5 * math.pi * k / ramp_samples) ** 2
    elif shape == "hann":
        up = 0.5 - 0.5 * torch.cos(2 * math.pi * k / (2 * ramp_samples - 1)) if ramp_samples > 1 else k
    else:
        up = k / ramp_samples
    w[:ramp_samples] = up
    w[n_samples - ramp_samples :] = up.flip(0)
    return w


def apply_ramp(x, fs, ramp_s=0.01, ramp_shape: str = "cos2") -> torch.Tensor:
    """Multiply the last axis of ``x`` by on/off ramps of ``ramp_s`` seconds each."""
    fs = _fs(fs)
    ramp_s = check_positive(ramp_s, "ramp_s", allow_zero=True)
    x = check_signal(x, "x", min_samples=1, max_dims=8)
    n_ramp = round(ramp_s * fs) if 2 * ramp_s * fs <= x.shape[-1] + 1 else x.shape[-1]
    if 2 * n_ramp > x.shape[-1]:
        raise ValueError(
            f"ramp_s = {ramp_s} s: two ramps are longer than the signal x ({x.shape[-1]} samples, "
            f"{x.shape[-1] / fs:g} s at fs = {fs:g} Hz)"
        )
    return x * ramp_window(x.shape[-1], n_ramp, ramp_shape).to(
        device=x.device, dtype=x.dtype if x.is_floating_point() else _F64
    )


# --------------------------------------------------------------------------- deterministic tones
def tone(
    freq_hz,
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    phase_rad=0.0,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """Pure tone ``sin(2 pi f t + phase)`` at ``level_db_spl`` (rms before ramps), t = n/fs.

    ``freq_hz``, ``level_db_spl`` and ``phase_rad`` may be 1-D to build a batch ``(B, T)``.
    """
    fs = _fs(fs)
    n = _n_samples(duration_s, fs)
    (f, lev, ph), batched = _batched(
        _freq(freq_hz, fs, "freq_hz"),
        _param(level_db_spl, "level_db_spl"),
        _finite(phase_rad, "phase_rad"),
        n_samples=n,
        names="freq_hz, level_db_spl, phase_rad",
    )
    x = torch.sin(2 * math.pi * f * _time(n, fs) + ph)
    return _finish(
        x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device, names="freq_hz, phase_rad"
    )


def complex_tone(
    freqs_hz: Sequence[float],
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    component_levels_db=None,
    phases="sine",
    level_per="total",
    seed=None,
    generator=None,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """Sum of sinusoids at ``freqs_hz``; output ``(T,)``.

    ``component_levels_db``: relative levels (dB) of the components (default all 0).
    ``phases``: 'sine', 'cosine', 'schroeder' (Schroeder 1970 low-crest-factor phases),
    'random' (seeded) or a sequence of phases in radians.
    ``level_per``: 'total' (rms of the sum is ``level_db_spl``) or 'component' (the loudest
    component has ``level_db_spl``).
    """
    fs = _fs(fs)
    n = _n_samples(duration_s, fs)
    f = _freq(freqs_hz, fs, "freqs_hz").reshape(-1, 1)
    if f.shape[0] > MAX_COMPONENTS:
        raise ValueError(f"freqs_hz may hold at most {MAX_COMPONENTS} components, got {f.shape[0]}")
    _check_size(f.shape[0] * n, "freqs_hz x duration_s (components x samples)")
    rel = (
        torch.zeros_like(f)
        if component_levels_db is None
        else _param(component_levels_db, "component_levels_db", -200.0, 200.0).reshape(-1, 1)
    )
    if rel.shape != f.shape:
        raise ValueError(f"component_levels_db needs {f.shape[0]} entries (one per frequency), got {rel.shape[0]}")
    k = torch.arange(f.shape[0], dtype=_F64).reshape(-1, 1)
    if isinstance(phases, str):
        _choice(phases, ("sine", "cosine", "schroeder", "random"), "phases")
        ph = {"sine": 0 * k, "cosine": 0 * k + math.pi / 2, "schroeder": math.pi * k * (k + 1) / f.shape[0]}.get(phases)
        if phases == "random":
            ph = 2 * math.pi * torch.rand(f.shape, generator=_generator(seed, generator), dtype=_F64)
    else:
        ph = _finite(phases, "phases").reshape(-1, 1)
        if ph.shape != f.shape:
            raise ValueError(f"phases needs {f.shape[0]} entries, got {ph.shape[0]}")
    _choice(level_per, ("total", "component"), "level_per")
    x = (10 ** (rel / 20) * torch.sin(2 * math.pi * f * _time(n, fs) + ph)).sum(0, keepdim=True)
    lev = _scalar(level_db_spl, "level_db_spl")
    if level_per == "component":  # rms of the loudest component alone = level
        lev = lev + float(pa_to_db(rms(x)) - pa_to_db(10 ** (rel.max() / 20) / math.sqrt(2)))
    return _finish(
        x, lev, False, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device, names="freqs_hz, phases"
    )


def harmonic_complex(f0_hz, duration_s, fs, level_db_spl=60.0, *, harmonics=None, **kwargs) -> torch.Tensor:
    """Harmonic complex tone: components ``h * f0_hz`` for ``h`` in ``harmonics``.

    Default harmonics: all from 1 up to the last below fs/2. Other keywords as ``complex_tone``.
    """
    fs = _fs(fs)
    f0 = _scalar(_freq(f0_hz, fs, "f0_hz"), "f0_hz")
    if harmonics is None:
        ratio = fs / 2 / f0
        count = math.ceil(ratio) - 1 if ratio <= MAX_COMPONENTS + 1 else math.inf
        if count > MAX_COMPONENTS:
            raise ValueError(
                f"f0_hz = {f0:g} Hz has {ratio:.3g} harmonics below fs/2; at most {MAX_COMPONENTS} "
                "are allowed (raise f0_hz or pass harmonics)"
            )
        harmonics = range(1, count + 1)
    h = check_numbers(list(harmonics) if isinstance(harmonics, range) else harmonics, "harmonics")
    if (
        h.dim() != 1
        or not 1 <= h.numel() <= MAX_COMPONENTS
        or not bool(((h >= 1) & (h == h.round()) & (h < 2**31)).all())
    ):
        raise ValueError(f"harmonics must hold 1 to {MAX_COMPONENTS} positive integers, got {_show(harmonics)}")
    if float(h.max()) * f0 >= fs / 2:
        raise ValueError(
            f"harmonics x f0_hz must stay below fs/2 = {fs / 2:g} Hz; harmonic {int(h.max())} of "
            f"{f0:g} Hz is {float(h.max()) * f0:g} Hz"
        )
    return complex_tone((h * f0).tolist(), duration_s, fs, level_db_spl, **kwargs)


def _depth(depth, depth_db) -> torch.Tensor:
    if depth_db is not None:
        if depth is not None:
            raise ValueError("give either depth (m) or depth_db (20 log10 m), not both")
        d = _param(depth_db, "depth_db", high=0.0)
        return 10.0 ** (d / 20.0)
    return _param(1.0 if depth is None else depth, "depth", 0.0, 1.0)


def _modulate(carrier: torch.Tensor, t: torch.Tensor, fm, m, ph) -> torch.Tensor:
    """Sinusoidal AM ``(1 + m sin(2 pi fm t + ph)) carrier(t)`` at the sample times ``t`` (s)."""
    return (1 + m * torch.sin(2 * math.pi * fm * t + ph)) * carrier


def sam_tone(
    carrier_hz,
    mod_rate_hz,
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    depth=None,
    depth_db=None,
    mod_phase_rad=0.0,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """SAM tone ``(1 + m sin(2 pi fm t + phi)) sin(2 pi fc t)``.

    Depth as ``depth`` = m in [0, 1] (default 1) or ``depth_db`` = 20 log10 m <= 0.
    ``level_db_spl`` is the rms of the modulated signal. Carrier, rate, depth and level
    may be 1-D (batch).
    """
    fs = _fs(fs)
    n = _n_samples(duration_s, fs)
    (fc, fm, m, lev, ph), batched = _batched(
        _freq(carrier_hz, fs, "carrier_hz"),
        _freq(mod_rate_hz, fs, "mod_rate_hz"),
        _depth(depth, depth_db),
        _param(level_db_spl, "level_db_spl"),
        _finite(mod_phase_rad, "mod_phase_rad"),
        n_samples=n,
        names="carrier_hz, mod_rate_hz, depth, level_db_spl, mod_phase_rad",
    )
    t = _time(n, fs)
    if bool((fc + fm >= fs / 2).any()):
        raise ValueError(f"carrier_hz + mod_rate_hz must stay below fs/2 = {fs / 2:g} Hz (upper sideband)")
    x = _modulate(torch.sin(2 * math.pi * fc * t), t, fm, m, ph)
    return _finish(
        x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device, names="carrier_hz, mod_rate_hz"
    )


def fm_tone(
    carrier_hz,
    mod_rate_hz,
    freq_deviation_hz,
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """Sinusoidally frequency-modulated tone; instantaneous frequency fc + df sin(2 pi fm t).

    Phase ``2 pi fc t - (df/fm) cos(2 pi fm t)``; fc + df must stay below fs/2.
    """
    fs = _fs(fs)
    n = _n_samples(duration_s, fs)
    (fc, fm, df, lev), batched = _batched(
        _freq(carrier_hz, fs, "carrier_hz"),
        _freq(mod_rate_hz, fs, "mod_rate_hz"),
        _param(freq_deviation_hz, "freq_deviation_hz", 0.0),
        _param(level_db_spl, "level_db_spl"),
        n_samples=n,
        names="carrier_hz, mod_rate_hz, freq_deviation_hz, level_db_spl",
    )
    if bool((fc + df >= fs / 2).any()) or bool((df >= fc).any()):
        raise ValueError("freq_deviation_hz must keep carrier_hz +/- deviation inside (0, fs/2)")
    t = _time(n, fs)
    x = torch.sin(2 * math.pi * fc * t - (df / fm) * torch.cos(2 * math.pi * fm * t))
    return _finish(
        x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device, names="carrier_hz, mod_rate_hz"
    )


# --------------------------------------------------------------------------- noises


def _shape_spectrum(x: torch.Tensor, fs: float, color: str, band_hz) -> torch.Tensor:
    """Colour and band-limit Gaussian noise in the frequency domain (brick-wall band)."""
    n = x.shape[-1]
    f = torch.fft.rfftfreq(n, 1 / fs, dtype=_F64)
    gain = torch.ones_like(f)
    if color == "pink":  # power ~ 1/f: amplitude ~ f^-1/2; DC removed
        gain = torch.where(f > 0, 1 / torch.sqrt(f.clamp_min(1e-12)), torch.zeros_like(f))
    elif color == "brown":
        gain = torch.where(f > 0, 1 / f.clamp_min(1e-12), torch.zeros_like(f))
    if band_hz is not None:
        gain = gain * ((f >= band_hz[0]) & (f <= band_hz[1]))
        if not bool((gain > 0).any()):
            raise ValueError(f"band_hz = {band_hz} holds no FFT bin at this duration and fs")
    return torch.fft.irfft(torch.fft.rfft(x) * gain, n=n)


def noise(
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    color="white",
    band_hz=None,
    low_noise=False,
    batch=None,
    seed=None,
    generator=None,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """Gaussian noise: ``color`` 'white', 'pink' (-3 dB/oct) or 'brown' (-6 dB/oct).

    ``band_hz = (low, high)`` limits it to a pass band (FFT brick wall, 0 <= low < high < fs/2).
    ``low_noise=True`` flattens the Hilbert envelope iteratively (10 rounds of divide-by-
    envelope and re-band-limiting; Kohlrausch et al. 1997 "low-noise noise").
    ``batch``: number of independent tokens (output ``(batch, T)``); ``level_db_spl`` may
    then hold one level per token.
    """
    fs = _fs(fs)
    n = _n_samples(duration_s, fs)
    _choice(color, ("white", "pink", "brown"), "color")
    _check_bool(low_noise, "low_noise")
    if band_hz is not None:
        band = _param(band_hz, "band_hz")
        if band.shape != (2,):
            raise ValueError(f"band_hz must be (low_hz, high_hz) with 0 <= low < high < fs/2, got {_show(band_hz)}")
        lo = float(_param(band[0], "band_hz[0]", 0.0, fs / 2, high_open=True))
        hi = float(_freq(band[1], fs, "band_hz[1]"))
        if lo >= hi:
            raise ValueError(f"band_hz low edge must be below the high edge, got {_show(band_hz)}")
        band_hz = (lo, hi)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a positive int or None, got {_show(batch)}")
    _check_size((batch or 1) * n, "batch x duration_s (samples)")
    lev = _param(level_db_spl, "level_db_spl")
    if lev.numel() not in (1, batch or 1):
        raise ValueError(f"level_db_spl needs 1 or batch = {batch or 1} values, got {lev.numel()}")
    _unit_rms(lev, calibration, dboffset)  # check before the work
    x = torch.randn((batch or 1, n), generator=_generator(seed, generator), dtype=_F64)
    if color != "white" or band_hz is not None:
        x = _shape_spectrum(x, fs, color, band_hz)
    if low_noise:
        for _ in range(10):
            x = _shape_spectrum(x / hilbert_envelope(x).clamp_min(1e-12), fs, color, band_hz)
    lev = lev.expand(x.shape[0])
    return _finish(
        x, lev, batch is not None, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device, names="band_hz"
    )


def noise_carrier(duration_s, fs, *, band_hz=None, batch=None, seed=None, generator=None) -> torch.Tensor:
    """Gaussian noise of unit rms, un-ramped, in float64: a carrier to modulate, gate or scale.

    This is :func:`noise` at 0 dB full scale with ``dboffset=0`` and no ramp, so the caller
    sets the level (and the ramps) after modulating or gating it.

    Parameters
    ----------
    duration_s : float, s
    fs : float, Hz
    band_hz : (float, float), optional
        Pass band ``(low, high)`` in Hz, as in :func:`noise`; None: white.
    batch : int, optional
        Number of independent tokens.
    seed, generator
        Reproducibility, as in :func:`noise`.

    Returns
    -------
    Tensor
        ``(T,)``, or ``(batch, T)`` independent tokens, float64, rms 1 (unitless).

    Examples
    --------
    >>> carrier = noise_carrier(0.1, 8000, batch=2, seed=1)
    >>> carrier.shape, [round(float(r), 6) for r in rms(carrier)]
    (torch.Size([2, 800]), [1.0, 1.0])
    """
    return noise(
        duration_s,
        fs,
        0.0,
        band_hz=band_hz,
        batch=batch,
        seed=seed,
        generator=generator,
        ramp_s=0.0,
        calibration="fullscale",
        dboffset=0.0,
        dtype=_F64,
    )


def sam_noise(
    mod_rate_hz,
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    depth=None,
    depth_db=None,
    mod_phase_rad=0.0,
    band_hz=None,
    seed=None,
    generator=None,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """SAM noise ``(1 + m sin(2 pi fm t + phi)) n(t)``; level = rms of the modulated signal.

    Carrier: white (or ``band_hz`` band-limited) Gaussian noise from ``seed``/``generator``.
    """
    fs = _fs(fs)
    carrier = noise_carrier(duration_s, fs, band_hz=band_hz, seed=seed, generator=generator)
    (fm, m, ph), batched = _batched(
        _freq(mod_rate_hz, fs, "mod_rate_hz"),
        _depth(depth, depth_db),
        _finite(mod_phase_rad, "mod_phase_rad"),
        n_samples=carrier.shape[-1],
        names="mod_rate_hz, depth, mod_phase_rad",
    )
    x = _modulate(carrier, _time(carrier.shape[-1], fs), fm, m, ph)
    lev = _param(level_db_spl, "level_db_spl")
    return _finish(
        x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device, names="mod_rate_hz, band_hz"
    )


def tone_in_noise(
    freq_hz,
    duration_s,
    fs,
    noise_level_db_spl=60.0,
    snr_db=0.0,
    *,
    band_hz=None,
    return_components=False,
    seed=None,
    generator=None,
    ramp_s=0.01,
    ramp_shape="cos2",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
):
    """Tone in Gaussian noise; ``snr_db`` = tone level minus overall noise level (dB).

    Both start and stop together and share the ramps. With ``return_components=True``
    returns ``(mixture, tone, noise)``.
    """
    snr = _param(snr_db, "snr_db", -300.0, 300.0)
    if snr.dim():
        raise ValueError(f"snr_db must be one finite number, got {_show(snr_db)}")
    _check_bool(return_components, "return_components")
    noise_level = _scalar(_param(noise_level_db_spl, "noise_level_db_spl", *LEVEL_RANGE_DB_SPL), "noise_level_db_spl")
    if not LEVEL_RANGE_DB_SPL[0] <= noise_level + float(snr) <= LEVEL_RANGE_DB_SPL[1]:
        raise ValueError(
            f"the tone level noise_level_db_spl + snr_db = {noise_level + float(snr):g} dB SPL must lie in "
            f"{list(LEVEL_RANGE_DB_SPL)}"
        )
    common = dict(
        ramp_s=ramp_s, ramp_shape=ramp_shape, calibration=calibration, dboffset=dboffset, dtype=dtype, device=device
    )
    masker = noise(duration_s, fs, noise_level_db_spl, band_hz=band_hz, seed=seed, generator=generator, **common)
    signal = tone(freq_hz, duration_s, fs, noise_level + float(snr), **common)
    return (signal + masker, signal, masker) if return_components else signal + masker


def clicks(
    rate_hz,
    duration_s,
    fs,
    level_db_spl=60.0,
    *,
    click_duration_s=None,
    polarity="positive",
    calibration="pa",
    dboffset=100.0,
    dtype=None,
    device=None,
) -> torch.Tensor:
    """Periodic rectangular click train (first click at t = 0); one click: ``rate_hz`` <= 1/duration.

    ``level_db_spl`` is the peak-equivalent SPL: the clicks' peak equals that of a sinusoid at
    this level (peak = sqrt(2) * rms). ``click_duration_s`` defaults to one sample;
    ``polarity``: 'positive', 'negative' or 'alternating'.
    """
    fs = _fs(fs)
    n = _n_samples(duration_s, fs)
    rate = _scalar(_freq(rate_hz, fs, "rate_hz"), "rate_hz")
    width = 1 if click_duration_s is None else _n_samples(click_duration_s, fs, "click_duration_s")
    _choice(polarity, ("positive", "negative", "alternating"), "polarity")
    level = _scalar(level_db_spl, "level_db_spl")
    dtype, device = _dtype(dtype), _device(device)
    onsets = torch.round(torch.arange(0, duration_s, 1 / rate, dtype=_F64) * fs).long()
    onsets = onsets[onsets < n]
    if n / fs > 1 / rate and width >= fs / rate:
        raise ValueError(f"click_duration_s must be shorter than the click period 1/rate_hz = {1 / rate:g} s")
    sign = torch.ones(len(onsets), dtype=_F64)
    if polarity == "negative":
        sign = -sign
    elif polarity == "alternating":
        sign[1::2] = -1
    x = torch.zeros(n, dtype=_F64)
    for k in range(width):  # width is a few samples: loop over click width, not over time
        idx = (onsets + k).clamp_max(n - 1)
        x[idx] = sign
    peak = math.sqrt(2) * _unit_rms(level, calibration, dboffset)
    return (x * peak).to(dtype=dtype, device=device)


def silence(duration_s, fs, *, channels=None, dtype=None, device=None) -> torch.Tensor:
    """Zeros of ``duration_s`` (``(T,)`` or ``(channels, T)``)."""
    n = _n_samples(duration_s, _fs(fs))
    if channels is not None:
        _check_int(channels, "channels", 1, 1024)
        _check_size(channels * n, "channels x duration_s (samples)")
    shape = (n,) if channels is None else (channels, n)
    return torch.zeros(shape, dtype=_dtype(dtype), device=_device(device))


# --------------------------------------------------------------------------- sequences and trials
def sequence(signals, fs, gap_s=0.0) -> torch.Tensor:
    """Concatenate signals along time with ``gap_s`` seconds of silence between them.

    ``gap_s`` may be one number or one gap per junction (len(signals) - 1).
    """
    fs = _fs(fs)
    if isinstance(signals, (str, bytes, torch.Tensor)) or not hasattr(signals, "__iter__"):
        raise TypeError(f"signals must be a list of signals (tensors), got {type(signals).__name__}")
    signals = [check_signal(s, f"signals[{i}]", min_samples=1, max_dims=3) for i, s in enumerate(signals)]
    if not signals:
        raise ValueError("signals must hold at least one signal")
    if (
        isinstance(gap_s, (str, bytes))
        or not isinstance(gap_s, (int, float))
        and not (isinstance(gap_s, (list, tuple)) or getattr(gap_s, "ndim", None) == 1)
    ):
        raise TypeError(f"gap_s must be a number or a list of numbers (seconds), got {_show(gap_s)}")
    gaps = [gap_s] * (len(signals) - 1) if isinstance(gap_s, (int, float)) else list(gap_s)
    gaps = [g.item() if hasattr(g, "item") else g for g in gaps]
    if len(gaps) != len(signals) - 1:
        raise ValueError(f"gap_s needs {len(signals) - 1} entries, got {len(gaps)}")
    gaps = [check_positive(g, "gap_s", allow_zero=True) for g in gaps]
    _check_size(
        sum(s.numel() for s in signals) + sum(g * fs for g in gaps) * signals[0][..., 0].numel(),
        "signals and gap_s (samples)",
    )
    parts = [signals[0]]
    for g, s in zip(gaps, signals[1:]):
        n_gap = int(round(g * fs))
        parts += [s.new_zeros(s.shape[:-1] + (n_gap,)), s]
    try:
        return torch.cat(parts, dim=-1)
    except RuntimeError as exc:
        raise ValueError(f"signals must share their leading (channel/batch) shape: {exc}") from None


def nafc_intervals(
    target, reference, n_intervals: int = 3, *, target_interval=None, seed=None, generator=None
) -> tuple[torch.Tensor, int]:
    """Intervals of one n-AFC trial: ``(stack (n_intervals, ...), target_index)``.

    ``reference`` is one tensor (copied into every non-target interval) or a sequence of
    ``n_intervals - 1`` tensors (e.g. independent noise tokens). The target position is
    ``target_interval`` (0-based) or drawn uniformly (seeded). Play with ``sequence``.
    """
    if isinstance(n_intervals, bool) or not isinstance(n_intervals, int) or n_intervals < 2:
        raise ValueError(f"n_intervals must be an int >= 2, got {_show(n_intervals)}")
    if n_intervals > 100:
        raise ValueError(f"n_intervals must be an int in [2, 100], got {n_intervals}")
    refs = list(reference) if isinstance(reference, (list, tuple)) else [reference] * (n_intervals - 1)
    if len(refs) != n_intervals - 1:
        raise ValueError(f"reference needs n_intervals - 1 = {n_intervals - 1} signals, got {len(refs)}")
    if target_interval is None:
        target_interval = int(torch.randint(n_intervals, (1,), generator=_generator(seed, generator)))
    else:
        _check_int(target_interval, "target_interval", 0, n_intervals - 1)
    target = check_signal(target, "target", min_samples=1, max_dims=3)
    refs = [check_signal(r, "reference", min_samples=1, max_dims=3) for r in refs]
    if any(r.shape != target.shape for r in refs):
        raise ValueError(f"reference signals must have the target's shape {tuple(target.shape)}")
    refs.insert(int(target_interval), target)
    return torch.stack(refs), int(target_interval)


# --------------------------------------------------------------------------- binaural
def _fractional_delay(x: torch.Tensor, delay_samples: float) -> torch.Tensor:
    """Delay by a (fractional) number of samples via a linear phase in the FFT domain."""
    n = x.shape[-1]
    f = torch.fft.rfftfreq(n, dtype=_F64)
    return torch.fft.irfft(torch.fft.rfft(x.to(_F64)) * torch.exp(-2j * math.pi * f * delay_samples), n=n)


def dichotic(x, fs, *, itd_s=0.0, ild_db=0.0) -> torch.Tensor:
    """Stereo ``(..., 2, T')`` [left, right] from a mono ``x`` (``(T,)`` or ``(B, T)``).

    ``itd_s`` > 0: the left ear leads (the right ear is delayed by itd_s; negative: the
    left is delayed), fractional delays exact in the FFT domain; the signal is zero-padded by
    ceil(|itd| fs) + 1 samples first so nothing wraps around (T' = T + that padding).
    ``ild_db`` > 0: the left ear is louder; split symmetrically (+ild/2 left, -ild/2 right).
    """
    fs = _fs(fs)
    x = check_signal(x, "x", min_samples=1, max_dims=2)
    itd = _scalar(_param(itd_s, "itd_s", -1.0, 1.0), "itd_s")
    ild = _scalar(_param(ild_db, "ild_db", -120.0, 120.0), "ild_db")
    pad = int(math.ceil(abs(itd) * fs)) + 1 if itd else 0
    xp = torch.nn.functional.pad(x.to(_F64), (0, pad))
    left = xp if itd >= 0 else _fractional_delay(xp, -itd * fs)
    right = xp if itd <= 0 else _fractional_delay(xp, itd * fs)
    out = torch.stack([left * 10 ** (ild / 40), right * 10 ** (-ild / 40)], dim=-2)
    return out.to(x.dtype)


def diotic(x) -> torch.Tensor:
    """Identical signal at both ears: ``(..., 2, T)``."""
    x = check_signal(x, "x", min_samples=1, max_dims=2)
    return torch.stack([x, x], dim=-2)


def stereo(left, right) -> torch.Tensor:
    """Stack two equally long signals to ``(..., 2, T)`` [left, right]."""
    left = check_signal(left, "left", min_samples=1)
    right = check_signal(right, "right", min_samples=1)
    if left.shape != right.shape:
        raise ValueError(f"left {tuple(left.shape)} and right {tuple(right.shape)} must have the same shape")
    return torch.stack([left, right], dim=-2)


# --------------------------------------------------------------------------- WAV files
def _fullscale_per_unit(calibration: str, dboffset: float) -> float:
    """Full-scale file units per output unit (Pa or full scale)."""
    return float(_unit_rms(0.0, "fullscale", dboffset) / _unit_rms(0.0, calibration, dboffset))


def _wav_path(path, name: str = "path"):
    import os
    from pathlib import Path

    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{name} must be a file path (str or pathlib.Path), got {type(path).__name__}")
    return Path(path)


def load_wav(path, *, calibration="pa", dboffset=100.0, dtype=None, device=None) -> tuple[torch.Tensor, float]:
    """Read a WAV/FLAC file; returns ``(x, fs)`` with x ``(T,)`` or ``(channels, T)``.

    File samples are full scale (+-1); an rms of 1 in the file is ``dboffset`` dB SPL. With
    ``calibration='pa'`` they are converted to pascals. A missing file raises
    ``FileNotFoundError``; an unreadable, empty or NaN/inf-holding file ``ValueError``.
    """
    import os

    import soundfile

    path = _wav_path(path)
    dtype, device = _dtype(dtype), _device(device)
    per_unit = _fullscale_per_unit(calibration, dboffset)
    if not path.exists():
        raise FileNotFoundError(f"path {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory, not a sound file")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"path {str(path)!r} is not readable (permission denied)")
    try:
        data, fs = soundfile.read(str(path), dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"path {str(path)!r} is not a readable WAV/FLAC file ({_sndfile_reason(exc)})") from None
    if data.size == 0:
        raise ValueError(f"path {str(path)!r} holds no samples")
    x = torch.from_numpy(data.T.copy())
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"path {str(path)!r} holds NaN or inf samples (a damaged float WAV file)")
    x = x / per_unit
    x = x[0] if x.shape[0] == 1 else x
    x = x.to(dtype=dtype)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(
            f"the samples of {str(path)!r} overflow {dtype} in {calibration} units: use dtype=torch.float64"
        )
    return x.to(device=device), float(fs)


_WAV_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


def save_wav(path, x, fs, *, calibration="pa", dboffset=100.0, subtype="FLOAT") -> None:
    """Write ``x`` (``(T,)`` or ``(channels, T)``) to a WAV (or ``.flac``) file in full-scale units.

    An rms of 1 in the file is ``dboffset`` dB SPL. Integer subtypes ('PCM_16', 'PCM_24')
    would clip beyond +-1 and raise instead; 'FLOAT' keeps any value (WAV only). A missing
    folder raises ``FileNotFoundError``; other problems ``ValueError``/``TypeError``.
    """
    import soundfile

    path = _wav_path(path)
    fs = _fs(fs)
    if fs != int(fs) or not 1 <= fs <= 768_000:
        raise ValueError(f"fs must be a whole number of Hz in [1, 768000] for a sound file, got {fs}")
    fmt = _WAV_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"path must end in one of {tuple(_WAV_FORMATS)}, got {str(path)!r}")
    if not isinstance(subtype, str) or not soundfile.check_format(fmt, subtype):
        allowed = sorted(st for st in soundfile.available_subtypes(fmt) if soundfile.check_format(fmt, st))
        raise ValueError(f"subtype must be one of {allowed} for a {fmt} file, got {_show(subtype)}")
    x = check_signal(x, "x", min_samples=1, max_dims=2).detach().to("cpu", _F64)
    if x.dim() == 2 and not 1 <= x.shape[0] <= 256:
        raise ValueError(f"x must be (T,) or (channels, T) with 1 to 256 channels, got shape {tuple(x.shape)}")
    data = (x * _fullscale_per_unit(calibration, dboffset)).numpy().T
    if subtype.startswith("PCM") and abs(data).max() > 1:
        raise ValueError(
            f"x exceeds full scale ({abs(data).max():.3g}) for subtype {subtype}: raise dboffset or use subtype='FLOAT'"
        )
    if subtype == "FLOAT" and not bool(torch.isfinite(x.float()).all()):
        raise ValueError("x overflows a 32-bit float file at this dboffset: use subtype='DOUBLE'")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of path {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory, not a file name")
    try:
        soundfile.write(str(path), data, int(fs), subtype=subtype, format=fmt)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"could not write {str(path)!r} ({_sndfile_reason(exc)})") from None


__all__ = [
    "P_REF_PA",
    "db_to_pa",
    "pa_to_db",
    "rms",
    "level_db_spl",
    "set_level",
    "ramp_window",
    "apply_ramp",
    "tone",
    "complex_tone",
    "harmonic_complex",
    "sam_tone",
    "fm_tone",
    "noise",
    "noise_carrier",
    "sam_noise",
    "tone_in_noise",
    "clicks",
    "silence",
    "sequence",
    "nafc_intervals",
    "dichotic",
    "diotic",
    "stereo",
    "load_wav",
    "save_wav",
]
