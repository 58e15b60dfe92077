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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from workbench._validation import check_choice, check_dtype, check_fs, check_positive, check_signal
from workbench.dsp import hilbert_envelope
from workbench.units import P_REF_PA, db_to_amt, db_to_pa, pa_to_db

_F64 = torch.float64
_CALIBRATIONS = ("pa", "fullscale")
_RAMP_SHAPES = ("cos2", "hann", "linear")


# --------------------------------------------------------------------------- level utilities
def _unit_rms(level_db_spl, calibration: str, dboffset: float) -> torch.Tensor:
    """RMS in output units of a level in dB SPL under the given calibration."""
    check_choice(calibration, _CALIBRATIONS, "calibration")
    level = torch.as_tensor(level_db_spl, dtype=_F64)
    if not bool(torch.isfinite(level).all()):
        raise ValueError(f"level_db_spl must be finite, got {level_db_spl}")
    if calibration == "pa":
        return db_to_pa(level)
    dboffset = float(dboffset)
    if not math.isfinite(dboffset):
        raise ValueError(f"dboffset must be finite (dB SPL of an rms of 1), got {dboffset}")
    return db_to_amt(level, dboffset)


def rms(x, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """Root-mean-square along ``dim`` (time by default)."""
    x = torch.as_tensor(x)
    return torch.sqrt(torch.mean(x * x, dim=dim, keepdim=keepdim))


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
    return x * (target.unsqueeze(-1) if target.dim() else target) / current


# --------------------------------------------------------------------------- validation helpers
def _n_samples(duration_s, fs: float, name: str = "duration_s") -> int:
    duration_s = check_positive(duration_s, name)
    n = int(round(duration_s * fs))
    if n < 1:
        raise ValueError(f"{name} = {duration_s} s is shorter than one sample at fs = {fs:g} Hz")
    return n


def _param(value, name: str, low: float = -math.inf, high: float = math.inf,
           low_open: bool = False, high_open: bool = False) -> torch.Tensor:
    """Scalar or 1-D parameter as float64 tensor, checked against [low, high] (open ends)."""
    try:
        t = torch.as_tensor(value, dtype=_F64)
    except Exception:  # noqa: BLE001 - re-raised naming the argument
        raise TypeError(f"{name} must be a number or a 1-D sequence of numbers, got {value!r}") from None
    if t.dim() > 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence, got shape {tuple(t.shape)}")
    if bool(torch.isnan(t).any()):
        raise ValueError(f"{name} must not be NaN, got {value}")
    bad = (t <= low if low_open else t < low) | (t >= high if high_open else t > high)
    if bool(bad.any()):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {lo}{low:g}, {high:g}{hi}, got {value}")
    return t


def _freq(value, fs: float, name: str) -> torch.Tensor:
    return _param(value, name, 0.0, fs / 2, low_open=True, high_open=True)


def _batched(*params: torch.Tensor) -> tuple[list[torch.Tensor], bool]:
    """Broadcast scalar/1-D parameters to column vectors ``(B, 1)``; flag whether batched."""
    batched = any(p.dim() == 1 for p in params)
    lengths = sorted({p.numel() for p in params if p.dim() == 1} - {1})
    if len(lengths) > 1:
        raise ValueError(f"batched parameters (1-D frequencies, levels, depths ...) must share one length, "
                         f"got {lengths}")
    shaped = torch.broadcast_tensors(*[p.reshape(-1, 1) for p in params])
    return list(shaped), batched


def _time(n: int, fs: float) -> torch.Tensor:
    return torch.arange(n, dtype=_F64) / fs


def _finish(x: torch.Tensor, level_db_spl, batched: bool, fs: float, ramp_s, ramp_shape: str,
            calibration: str, dboffset: float, dtype, device) -> torch.Tensor:
    """Scale the un-ramped waveform to its level, ramp it, squeeze and cast."""
    x = set_level(x, torch.as_tensor(level_db_spl, dtype=_F64).reshape(-1), calibration, dboffset)
    x = apply_ramp(x, fs, ramp_s, ramp_shape)
    if not batched:
        x = x[0]
    return x.to(dtype=check_dtype(dtype or torch.get_default_dtype()), device=device)


def _generator(seed, generator) -> torch.Generator | None:
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return generator
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- ramps
def ramp_window(n_samples: int, ramp_samples: int, shape: str = "cos2") -> torch.Tensor:
    """On/off gain of length ``n_samples`` with ``ramp_samples``-long ramps (float64).

    ``'cos2'`` (raised cosine): ``sin^2(pi/2 k/R)``, k = 0..R-1, 0 at the first sample and
    reaching 1 at sample R, mirrored at the end (the AMT reference stimuli's ramps).
    ``'hann'``: the two halves of a symmetric Hann window of length 2R (``numpy.hanning``),
    which starts at 0 and reaches 1 - O(1/R^2) at sample R-1. ``'linear'``: k/R.
    """
    check_choice(shape, _RAMP_SHAPES, "ramp_shape")
    if ramp_samples < 0 or 2 * ramp_samples > n_samples:
        raise ValueError(f"ramps of {ramp_samples} samples each do not fit a {n_samples}-sample signal")
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
    w[n_samples - ramp_samples:] = up.flip(0)
    return w


def apply_ramp(x, fs, ramp_s=0.01, ramp_shape: str = "cos2") -> torch.Tensor:
    """Multiply the last axis of ``x`` by on/off ramps of ``ramp_s`` seconds each."""
    fs = check_fs(fs)
    ramp_s = check_positive(ramp_s, "ramp_s", allow_zero=True)
    x = torch.as_tensor(x)
    n_ramp = int(round(ramp_s * fs))
    if 2 * n_ramp > x.shape[-1]:
        raise ValueError(f"ramp_s = {ramp_s} s: two ramps are longer than the signal ({x.shape[-1] / fs:g} s)")
    dtype = x.dtype if x.is_floating_point() else _F64
    return x * ramp_window(x.shape[-1], n_ramp, ramp_shape).to(device=x.device, dtype=dtype)


# --------------------------------------------------------------------------- deterministic tones
def tone(freq_hz, duration_s, fs, level_db_spl=60.0, *, phase_rad=0.0, ramp_s=0.01, ramp_shape="cos2",
         calibration="pa", dboffset=100.0, dtype=None, device=None) -> torch.Tensor:
    """Pure tone ``sin(2 pi f t + phase)`` at ``level_db_spl`` (rms before ramps), t = n/fs.

    ``freq_hz``, ``level_db_spl`` and ``phase_rad`` may be 1-D to build a batch ``(B, T)``.
    """
    fs = check_fs(fs)
    n = _n_samples(duration_s, fs)
    (f, lev, ph), batched = _batched(_freq(freq_hz, fs, "freq_hz"), _param(level_db_spl, "level_db_spl"),
                                     _param(phase_rad, "phase_rad"))
    x = torch.sin(2 * math.pi * f * _time(n, fs) + ph)
    return _finish(x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device)


def complex_tone(freqs_hz: Sequence[float], duration_s, fs, level_db_spl=60.0, *, component_levels_db=None,
                 phases="sine", level_per="total", seed=None, generator=None, ramp_s=0.01, ramp_shape="cos2",
                 calibration="pa", dboffset=100.0, dtype=None, device=None) -> torch.Tensor:
    """Sum of sinusoids at ``freqs_hz``; output ``(T,)``.

    ``component_levels_db``: relative levels (dB) of the components (default all 0).
    ``phases``: 'sine', 'cosine', 'schroeder' (Schroeder 1970 low-crest-factor phases),
    'random' (seeded) or a sequence of phases in radians.
    ``level_per``: 'total' (rms of the sum is ``level_db_spl``) or 'component' (the loudest
    component has ``level_db_spl``).
    """
    fs = check_fs(fs)
    n = _n_samples(duration_s, fs)
    f = _freq(freqs_hz, fs, "freqs_hz").reshape(-1, 1)
    rel = (torch.zeros_like(f) if component_levels_db is None
           else _param(component_levels_db, "component_levels_db").reshape(-1, 1))
    if rel.shape != f.shape:
        raise ValueError(f"component_levels_db needs {f.shape[0]} entries (one per frequency), got {rel.shape[0]}")
    k = torch.arange(f.shape[0], dtype=_F64).reshape(-1, 1)
    if isinstance(phases, str):
        check_choice(phases, ("sine", "cosine", "schroeder", "random"), "phases")
        ph = {"sine": 0 * k, "cosine": 0 * k + math.pi / 2,
              "schroeder": math.pi * k * (k + 1) / f.shape[0]}.get(phases)
        if phases == "random":
            ph = 2 * math.pi * torch.rand(f.shape, generator=_generator(seed, generator), dtype=_F64)
    else:
        ph = _param(phases, "phases").reshape(-1, 1)
        if ph.shape != f.shape:
            raise ValueError(f"phases needs {f.shape[0]} entries, got {ph.shape[0]}")
    check_choice(level_per, ("total", "component"), "level_per")
    x = (10 ** (rel / 20) * torch.sin(2 * math.pi * f * _time(n, fs) + ph)).sum(0, keepdim=True)
    lev = float(level_db_spl)
    if level_per == "component":  # rms of the loudest component alone = level
        lev = lev + float(pa_to_db(rms(x)) - pa_to_db(10 ** (rel.max() / 20) / math.sqrt(2)))
    return _finish(x, lev, False, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device)


def harmonic_complex(f0_hz, duration_s, fs, level_db_spl=60.0, *, harmonics=None, **kwargs) -> torch.Tensor:
    """Harmonic complex tone: components ``h * f0_hz`` for ``h`` in ``harmonics``.

    Default harmonics: all from 1 up to the last below fs/2. Other keywords as ``complex_tone``.
    """
    fs = check_fs(fs)
    f0 = float(_freq(f0_hz, fs, "f0_hz"))
    if harmonics is None:
        harmonics = range(1, int(math.ceil(fs / 2 / f0)))
    h = [int(v) for v in harmonics]
    if not h or min(h) < 1:
        raise ValueError(f"harmonics must be positive integers, got {list(harmonics)}")
    return complex_tone([v * f0 for v in h], duration_s, fs, level_db_spl, **kwargs)


def _depth(depth, depth_db) -> torch.Tensor:
    if depth_db is not None:
        if depth is not None:
            raise ValueError("give either depth (m) or depth_db (20 log10 m), not both")
        d = _param(depth_db, "depth_db", high=0.0)
        return 10.0 ** (d / 20.0)
    return _param(1.0 if depth is None else depth, "depth", 0.0, 1.0)


def sam_tone(carrier_hz, mod_rate_hz, duration_s, fs, level_db_spl=60.0, *, depth=None, depth_db=None,
             mod_phase_rad=0.0, ramp_s=0.01, ramp_shape="cos2", calibration="pa", dboffset=100.0,
             dtype=None, device=None) -> torch.Tensor:
    """SAM tone ``(1 + m sin(2 pi fm t + phi)) sin(2 pi fc t)``.

    Depth as ``depth`` = m in [0, 1] (default 1) or ``depth_db`` = 20 log10 m <= 0.
    ``level_db_spl`` is the rms of the modulated signal. Carrier, rate, depth and level
    may be 1-D (batch).
    """
    fs = check_fs(fs)
    n = _n_samples(duration_s, fs)
    (fc, fm, m, lev, ph), batched = _batched(
        _freq(carrier_hz, fs, "carrier_hz"), _freq(mod_rate_hz, fs, "mod_rate_hz"), _depth(depth, depth_db),
        _param(level_db_spl, "level_db_spl"), _param(mod_phase_rad, "mod_phase_rad"))
    t = _time(n, fs)
    if bool((fc + fm >= fs / 2).any()):
        raise ValueError(f"carrier_hz + mod_rate_hz must stay below fs/2 = {fs / 2:g} Hz (upper sideband)")
    x = (1 + m * torch.sin(2 * math.pi * fm * t + ph)) * torch.sin(2 * math.pi * fc * t)
    return _finish(x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device)


def fm_tone(carrier_hz, mod_rate_hz, freq_deviation_hz, duration_s, fs, level_db_spl=60.0, *,
            ramp_s=0.01, ramp_shape="cos2", calibration="pa", dboffset=100.0, dtype=None,
            device=None) -> torch.Tensor:
    """Sinusoidally frequency-modulated tone; instantaneous frequency fc + df sin(2 pi fm t).

    Phase ``2 pi fc t - (df/fm) cos(2 pi fm t)``; fc + df must stay below fs/2.
    """
    fs = check_fs(fs)
    n = _n_samples(duration_s, fs)
    (fc, fm, df, lev), batched = _batched(
        _freq(carrier_hz, fs, "carrier_hz"), _freq(mod_rate_hz, fs, "mod_rate_hz"),
        _param(freq_deviation_hz, "freq_deviation_hz", 0.0), _param(level_db_spl, "level_db_spl"))
    if bool((fc + df >= fs / 2).any()) or bool((df >= fc).any()):
        raise ValueError("freq_deviation_hz must keep carrier_hz +/- deviation inside (0, fs/2)")
    t = _time(n, fs)
    x = torch.sin(2 * math.pi * fc * t - (df / fm) * torch.cos(2 * math.pi * fm * t))
    return _finish(x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device)


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


def noise(duration_s, fs, level_db_spl=60.0, *, color="white", band_hz=None, low_noise=False, batch=None,
          seed=None, generator=None, ramp_s=0.01, ramp_shape="cos2", calibration="pa", dboffset=100.0,
          dtype=None, device=None) -> torch.Tensor:
    """Gaussian noise: ``color`` 'white', 'pink' (-3 dB/oct) or 'brown' (-6 dB/oct).

    ``band_hz = (low, high)`` limits it to a pass band (FFT brick wall, 0 <= low < high < fs/2).
    ``low_noise=True`` flattens the Hilbert envelope iteratively (10 rounds of divide-by-
    envelope and re-band-limiting; Kohlrausch et al. 1997 "low-noise noise").
    ``batch``: number of independent tokens (output ``(batch, T)``); ``level_db_spl`` may
    then hold one level per token.
    """
    fs = check_fs(fs)
    n = _n_samples(duration_s, fs)
    check_choice(color, ("white", "pink", "brown"), "color")
    if band_hz is not None:
        if len(band_hz) != 2:
            raise ValueError(f"band_hz must be (low_hz, high_hz), got {band_hz}")
        lo = float(_param(band_hz[0], "band_hz[0]", 0.0, fs / 2, high_open=True))
        hi = float(_freq(band_hz[1], fs, "band_hz[1]"))
        if lo >= hi:
            raise ValueError(f"band_hz low edge must be below the high edge, got {band_hz}")
        band_hz = (lo, hi)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a positive int or None, got {batch!r}")
    x = torch.randn((batch or 1, n), generator=_generator(seed, generator), dtype=_F64)
    if color != "white" or band_hz is not None:
        x = _shape_spectrum(x, fs, color, band_hz)
    if low_noise:
        for _ in range(10):
            x = _shape_spectrum(x / hilbert_envelope(x).clamp_min(1e-12), fs, color, band_hz)
    lev = _param(level_db_spl, "level_db_spl")
    if lev.numel() not in (1, x.shape[0]):
        raise ValueError(f"level_db_spl needs 1 or batch = {x.shape[0]} values, got {lev.numel()}")
    lev = lev.expand(x.shape[0])
    return _finish(x, lev, batch is not None, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device)


def sam_noise(mod_rate_hz, duration_s, fs, level_db_spl=60.0, *, depth=None, depth_db=None, mod_phase_rad=0.0,
              band_hz=None, seed=None, generator=None, ramp_s=0.01, ramp_shape="cos2", calibration="pa",
              dboffset=100.0, dtype=None, device=None) -> torch.Tensor:
    """SAM noise ``(1 + m sin(2 pi fm t + phi)) n(t)``; level = rms of the modulated signal.

    Carrier: white (or ``band_hz`` band-limited) Gaussian noise from ``seed``/``generator``.
    """
    fs = check_fs(fs)
    carrier = noise(duration_s, fs, 0.0, band_hz=band_hz, seed=seed, generator=generator, ramp_s=0.0,
                    calibration="fullscale", dboffset=0.0, dtype=_F64)
    (fm, m, ph), batched = _batched(_freq(mod_rate_hz, fs, "mod_rate_hz"), _depth(depth, depth_db),
                                    _param(mod_phase_rad, "mod_phase_rad"))
    x = (1 + m * torch.sin(2 * math.pi * fm * _time(carrier.shape[-1], fs) + ph)) * carrier
    lev = _param(level_db_spl, "level_db_spl")
    return _finish(x, lev, batched, fs, ramp_s, ramp_shape, calibration, dboffset, dtype, device)


def tone_in_noise(freq_hz, duration_s, fs, noise_level_db_spl=60.0, snr_db=0.0, *, band_hz=None,
                  return_components=False, seed=None, generator=None, ramp_s=0.01, ramp_shape="cos2",
                  calibration="pa", dboffset=100.0, dtype=None, device=None):
    """Tone in Gaussian noise; ``snr_db`` = tone level minus overall noise level (dB).

    Both start and stop together and share the ramps. With ``return_components=True``
    returns ``(mixture, tone, noise)``.
    """
    snr = _param(snr_db, "snr_db")
    if not bool(torch.isfinite(snr).all()) or snr.dim():
        raise ValueError(f"snr_db must be a finite number, got {snr_db}")
    common = dict(ramp_s=ramp_s, ramp_shape=ramp_shape, calibration=calibration, dboffset=dboffset,
                  dtype=dtype, device=device)
    masker = noise(duration_s, fs, noise_level_db_spl, band_hz=band_hz, seed=seed, generator=generator, **common)
    signal = tone(freq_hz, duration_s, fs, float(noise_level_db_spl) + float(snr), **common)
    return (signal + masker, signal, masker) if return_components else signal + masker


def clicks(rate_hz, duration_s, fs, level_db_spl=60.0, *, click_duration_s=None, polarity="positive",
           calibration="pa", dboffset=100.0, dtype=None, device=None) -> torch.Tensor:
    """Periodic rectangular click train (first click at t = 0); one click: ``rate_hz`` <= 1/duration.

    ``level_db_spl`` is the peak-equivalent SPL: the clicks' peak equals that of a sinusoid at
    this level (peak = sqrt(2) * rms). ``click_duration_s`` defaults to one sample;
    ``polarity``: 'positive', 'negative' or 'alternating'.
    """
    fs = check_fs(fs)
    n = _n_samples(duration_s, fs)
    rate = float(_freq(rate_hz, fs, "rate_hz"))
    width = 1 if click_duration_s is None else _n_samples(click_duration_s, fs, "click_duration_s")
    check_choice(polarity, ("positive", "negative", "alternating"), "polarity")
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
    peak = math.sqrt(2) * _unit_rms(_param(level_db_spl, "level_db_spl"), calibration, dboffset)
    return (x * peak).to(dtype=check_dtype(dtype or torch.get_default_dtype()), device=device)


def silence(duration_s, fs, *, channels=None, dtype=None, device=None) -> torch.Tensor:
    """Zeros of ``duration_s`` (``(T,)`` or ``(channels, T)``)."""
    n = _n_samples(duration_s, check_fs(fs))
    shape = (n,) if channels is None else (int(channels), n)
    return torch.zeros(shape, dtype=check_dtype(dtype or torch.get_default_dtype()), device=device)


# --------------------------------------------------------------------------- sequences and trials
def sequence(signals, fs, gap_s=0.0) -> torch.Tensor:
    """Concatenate signals along time with ``gap_s`` seconds of silence between them.

    ``gap_s`` may be one number or one gap per junction (len(signals) - 1).
    """
    fs = check_fs(fs)
    signals = [check_signal(s, f"signals[{i}]", min_samples=1, max_dims=3) for i, s in enumerate(signals)]
    if not signals:
        raise ValueError("signals must hold at least one signal")
    gaps = [gap_s] * (len(signals) - 1) if isinstance(gap_s, (int, float)) else list(gap_s)
    if len(gaps) != len(signals) - 1:
        raise ValueError(f"gap_s needs {len(signals) - 1} entries, got {len(gaps)}")
    parts = [signals[0]]
    for g, s in zip(gaps, signals[1:]):
        n_gap = int(round(check_positive(g, "gap_s", allow_zero=True) * fs))
        parts += [s.new_zeros(s.shape[:-1] + (n_gap,)), s]
    try:
        return torch.cat(parts, dim=-1)
    except RuntimeError as exc:
        raise ValueError(f"signals must share their leading (channel/batch) shape: {exc}") from None


def nafc_intervals(target, reference, n_intervals: int = 3, *, target_interval=None, seed=None,
                   generator=None) -> tuple[torch.Tensor, int]:
    """Intervals of one n-AFC trial: ``(stack (n_intervals, ...), target_index)``.

    ``reference`` is one tensor (copied into every non-target interval) or a sequence of
    ``n_intervals - 1`` tensors (e.g. independent noise tokens). The target position is
    ``target_interval`` (0-based) or drawn uniformly (seeded). Play with ``sequence``.
    """
    if isinstance(n_intervals, bool) or not isinstance(n_intervals, int) or n_intervals < 2:
        raise ValueError(f"n_intervals must be an int >= 2, got {n_intervals!r}")
    refs = list(reference) if isinstance(reference, (list, tuple)) else [reference] * (n_intervals - 1)
    if len(refs) != n_intervals - 1:
        raise ValueError(f"reference needs n_intervals - 1 = {n_intervals - 1} signals, got {len(refs)}")
    if target_interval is None:
        target_interval = int(torch.randint(n_intervals, (1,), generator=_generator(seed, generator)))
    elif not 0 <= int(target_interval) < n_intervals:
        raise ValueError(f"target_interval must be in [0, {n_intervals - 1}], got {target_interval}")
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
    fs = check_fs(fs)
    x = check_signal(x, "x", min_samples=1, max_dims=2)
    itd = float(_param(itd_s, "itd_s"))
    ild = float(_param(ild_db, "ild_db"))
    if not (math.isfinite(itd) and math.isfinite(ild)):
        raise ValueError("itd_s and ild_db must be finite")
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


def load_wav(path, *, calibration="pa", dboffset=100.0, dtype=None, device=None) -> tuple[torch.Tensor, float]:
    """Read a WAV/FLAC file; returns ``(x, fs)`` with x ``(T,)`` or ``(channels, T)``.

    File samples are full scale (+-1); an rms of 1 in the file is ``dboffset`` dB SPL. With
    ``calibration='pa'`` they are converted to pascals.
    """
    import soundfile

    data, fs = soundfile.read(str(path), dtype="float64", always_2d=True)
    x = torch.from_numpy(data.T.copy()) / _fullscale_per_unit(calibration, dboffset)
    x = x[0] if x.shape[0] == 1 else x
    return x.to(dtype=check_dtype(dtype or torch.get_default_dtype()), device=device), float(fs)


def save_wav(path, x, fs, *, calibration="pa", dboffset=100.0, subtype="FLOAT") -> None:
    """Write ``x`` (``(T,)`` or ``(channels, T)``) to a WAV file in full-scale units.

    An rms of 1 in the file is ``dboffset`` dB SPL. Integer subtypes ('PCM_16', 'PCM_24')
    would clip beyond +-1 and raise instead; 'FLOAT' keeps any value.
    """
    import soundfile

    fs = check_fs(fs)
    if fs != int(fs):
        raise ValueError(f"fs must be a whole number of Hz for a WAV file, got {fs}")
    x = check_signal(x, "x", min_samples=1, max_dims=2).detach().to("cpu", _F64)
    data = (x * _fullscale_per_unit(calibration, dboffset)).numpy().T
    if subtype.startswith("PCM") and abs(data).max() > 1:
        raise ValueError(f"x exceeds full scale ({abs(data).max():.3g}) for subtype {subtype}: "
                         "raise dboffset or use subtype='FLOAT'")
    soundfile.write(str(path), data, int(fs), subtype=subtype)


__all__ = ["P_REF_PA", "db_to_pa", "pa_to_db", "rms", "level_db_spl", "set_level", "ramp_window", "apply_ramp",
           "tone", "complex_tone", "harmonic_complex", "sam_tone", "fm_tone", "noise", "sam_noise",
           "tone_in_noise", "clicks", "silence", "sequence", "nafc_intervals", "dichotic", "diotic", "stereo",
           "load_wav", "save_wav"]
