"""Loudness-model stages shared by Glasberg2002 and Moore2016.

One implementation of each stage, configured by constants (see the two model files):

0. :func:`loudness_ear_fir` / :func:`fir_zero_phase` - outer + middle ear as one zero-phase
   FIR (Moore et al. 2016 free-field filter, or designed from the ANSI S3.4-2007 tables).
1. :class:`MultiResolutionSpectrum` - frames of ``n_fft`` samples every ``hop`` samples; six
   centred symmetric Hann windows (64 ... 2 ms at 32 kHz), each supplying the components of
   one frequency band (Glasberg & Moore 2002, Table 1). Component intensities are in
   (20 uPa)^2 units, i.e. ``10 log10`` gives dB SPL, for input in Pa.
2. :func:`relevance_mask` - components more than 60 dB below the frame's largest component
   (and below -30 dB SPL) are dropped (Moore et al. 2016).
3. :class:`RoexExcitation` - excitation on an ERB-rate (Cam) grid from rounded-exponential
   filters whose lower slope depends on the input level per ERB at each component
   (Moore, Glasberg & Baer 1997; ANSI S3.4-2007).
4. :class:`SpecificLoudness` - ANSI S3.4-2007 specific loudness (three level regimes).
5. :func:`workbench.kernels.agc.agc` - short- and long-term attack/release AGCs.
6. :func:`binaural_inhibition` - Moore et al. (2016) binaural inhibition.

ERB-rate here is Moore's formula, ``Cam = 21.366 log10(4.368e-3 f + 1)`` with bandwidth
``ERB = 24.673 (4.368e-3 f + 1)`` (Glasberg & Moore 1990 as written in the loudness papers;
it differs in the 4th digit from :mod:`workbench.stages.erb`, so it is kept local).

Shapes: signals ``(..., T)``; spectra ``(..., frames, components)``; excitation and
specific loudness ``(..., frames, bands)``.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources

import numpy as np
import torch
from torch import nn

from workbench.kernels.agc import agc
from workbench.kernels.excitation import roex_lower

__all__ = [
    "P_REF_PA", "loudness_ear_fir", "fir_zero_phase", "loudness_erb_hz", "hz_to_cam", "cam_to_hz", "ansi_tables",
    "MultiResolutionSpectrum", "relevance_mask", "RoexExcitation", "SpecificLoudness",
    "binaural_inhibition", "agc", "LoudnessLevelTable", "loudness_level_table", "scalar_parameter",
]

P_REF_PA = 20e-6  # reference sound pressure of dB SPL


def loudness_erb_hz(f):
    """ERB (Hz) at frequency ``f`` (Hz): 24.673 (4.368e-3 f + 1)."""
    return 24.673 * (4.368e-3 * f + 1.0)


def hz_to_cam(f):
    """ERB-rate (Cam) of frequency ``f`` (Hz)."""
    return 21.366 * np.log10(4.368e-3 * np.asarray(f, dtype=np.float64) + 1.0)


def cam_to_hz(cam):
    """Frequency (Hz) of ERB-rate ``cam``."""
    return (10.0 ** (np.asarray(cam, dtype=np.float64) / 21.366) - 1.0) / 4.368e-3


@functools.lru_cache(maxsize=1)
def ansi_tables() -> dict:
    """ANSI S3.4-2007 tables (transfer functions, threshold, G->alpha, G->A) from package data."""
    text = resources.files("workbench").joinpath("data/ansi_s34_2007.json").read_text()
    return {k: (np.asarray(v, dtype=np.float64) if isinstance(v, list) else v)
            for k, v in json.loads(text).items()}


# --------------------------------------------------------------------------- outer + middle ear
@functools.lru_cache(maxsize=None)
def loudness_ear_fir(kind: str = "moore2016_free", fs: float = 32000.0, n_taps: int = 4097) -> np.ndarray:
    """Outer+middle-ear FIR of the loudness models (symmetric, delay ``(n_taps-1)/2``).

    ``kind``: ``'moore2016_free'`` - the 4097-tap free-field filter of Moore et al. (2016)
    (Cambridge ``ff_32000.mat``, shipped as package data; fs must be 32 kHz);
    ``'ansi2007_free'`` / ``'ansi2007_diffuse'`` / ``'ansi1997_free'`` - designed here from the
    ANSI S3.4-2007 outer-ear (free or diffuse field) and middle-ear tables: the summed dB
    response (pchip on 20 Hz..fs/2, held below 20 Hz) is the amplitude ``10^(dB/20)`` of a
    window-method FIR (``scipy.signal.firwin2``, Hamming).
    """
    if kind == "moore2016_free":
        if fs != 32000:
            raise ValueError(f"the Moore2016 ear filter exists for fs = 32000 Hz only, got {fs}")
        data = resources.files("workbench").joinpath("data/moore2016_ff_32000.npz")
        with data.open("rb") as fh:
            return np.load(fh)["coefficients"]
    from scipy.interpolate import PchipInterpolator
    from scipy.signal import firwin2

    field = {"ansi2007_free": ("free", "2007"), "ansi2007_diffuse": ("diffuse", "2007"),
             "ansi1997_free": ("free", "1997")}
    if kind not in field:
        raise ValueError(f"kind must be one of {('moore2016_free', *field)}, got {kind!r}")
    t = ansi_tables()
    freqs = np.linspace(0.0, fs / 2, 4097)
    ff = np.clip(freqs, 20.0, None)
    db = (PchipInterpolator(t["outer_ear_freqs_hz"], t[f"outer_ear_{field[kind][0]}_db"])(ff)
          + PchipInterpolator(t["middle_ear_freqs_hz"], t[f"middle_ear_{field[kind][1]}_db"])(ff))
    return firwin2(n_taps, freqs, 10 ** (db / 20), fs=fs)


def fir_zero_phase(x: torch.Tensor, fir) -> torch.Tensor:
    """Full convolution of ``x`` ``(..., T)`` with a symmetric FIR of odd length ``L``, with
    ``(L-1)/4`` samples trimmed at each end (as Moore et al. 2016): output ``(..., T + (L-1)/2)``
    whose sample ``n`` corresponds to input sample ``n - (L-1)/4``. FFT-based, differentiable."""
    h = torch.as_tensor(fir, dtype=x.dtype, device=x.device)
    n_full = x.shape[-1] + h.numel() - 1
    n_fft = 1 << (n_full - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(h, n_fft), n_fft)
    trim = (h.numel() - 1) // 4
    return y[..., trim:n_full - trim]


# --------------------------------------------------------------------------- spectrum
class MultiResolutionSpectrum(nn.Module):
    """Short-term power spectrum assembled from several Hann windows (one per band).

    Window ``i`` (0-based) has ``n_fft / 2**i`` samples, a *symmetric* Hann shape (MATLAB
    ``hann``) and sits centred in the ``n_fft`` frame; it supplies the FFT bins from
    ``floor(edge_i / df)`` to ``floor(edge_{i+1} / df)``; a bin on a shared edge is taken
    from the shorter window. Intensities carry the Hann correction ``hann_correction_db``
    (3.32 dB, Moore et al. 2016) and the window-length correction ``2**i``.

    Input ``(..., T)`` in Pa; output ``(..., n_frames, n_components)`` in (20 uPa)^2 with
    ``n_frames = (T - n_fft) // hop + 1``. Only the needed bins are computed (a direct DFT
    over each window's support), so the cost is ~0.3 M multiply-adds per frame.
    """

    def __init__(self, fs: float = 32000.0, n_fft: int = 2048, hop: int = 32,
                 band_edges_hz=(20.0, 80.0, 500.0, 1250.0, 2540.0, 4050.0, 15000.0),
                 hann_correction_db: float = 3.32, dtype=torch.float64):
        super().__init__()
        self.fs, self.n_fft, self.hop = float(fs), int(n_fft), int(hop)
        n_windows = len(band_edges_hz) - 1
        if n_fft % 2 ** (n_windows - 1):
            raise ValueError(f"n_fft ({n_fft}) must be divisible by 2**(n_windows-1) = {2 ** (n_windows - 1)}")
        df = self.fs / n_fft
        edges = [int(math.floor(e / df)) for e in band_edges_hz]
        if edges[-1] > n_fft // 2 - 1:
            raise ValueError(f"highest band edge must be below fs/2, got {band_edges_hz[-1]} Hz")
        self.windows = []  # (start sample, length) per window
        first_bin = []
        for i in range(n_windows):
            length = n_fft // 2 ** i
            start = (n_fft - length) // 2
            last = edges[i + 1] - 1 if i < n_windows - 1 else edges[i + 1]
            bins = np.arange(edges[i], last + 1)
            n = np.arange(length)
            hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (length - 1))
            # |2 Y / n_fft|^2 / 2 is the intensity of a sine component; then re p_ref^2.
            scale = 2.0 / n_fft * np.sqrt(10 ** (hann_correction_db / 10) * 2 ** i / 2) / P_REF_PA
            phase = 2 * np.pi * np.outer(start + n, bins) / n_fft
            basis = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1) * (hann * scale)[:, None]
            self.register_buffer(f"basis{i}", torch.as_tensor(basis, dtype=dtype), persistent=False)
            self.windows.append((start, length, len(bins)))
            first_bin.append(bins)
        bins = np.concatenate(first_bin)
        self.register_buffer("freqs_hz", torch.as_tensor(bins * df, dtype=dtype), persistent=False)

    @property
    def n_components(self) -> int:
        return self.freqs_hz.numel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.unfold(-1, self.n_fft, self.hop)  # (..., F, n_fft) view
        parts = []
        for i, (start, length, n_bins) in enumerate(self.windows):
            spec = frames[..., start:start + length] @ getattr(self, f"basis{i}")
            parts.append(spec[..., :n_bins] ** 2 + spec[..., n_bins:] ** 2)
        return torch.cat(parts, dim=-1)


def relevance_mask(intensity: torch.Tensor, joint_dim: int | None = None, range_db: float = 60.0,
                   floor_db: float = 30.0) -> torch.Tensor:
    """Components kept for the excitation: above (frame max - ``range_db``) and above
    (``floor_db`` - ``range_db``) dB SPL. ``joint_dim`` (e.g. the ear axis) shares the frame
    maximum across that dim (Moore et al. 2016 take it over both ears)."""
    peak = intensity.detach().amax(dim=-1, keepdim=True)
    if joint_dim is not None:
        peak = peak.amax(dim=joint_dim, keepdim=True)
    peak = peak.clamp_min(10 ** (floor_db / 10))
    return intensity.detach() > peak * 10 ** (-range_db / 10)


# --------------------------------------------------------------------------- excitation
class RoexExcitation(nn.Module):
    """Excitation pattern from discrete components (Moore et al. 1997; ANSI S3.4-2007).

    For each band centre ``fc`` (``cams`` on the Cam scale) and component ``f`` with
    ``g = (f - fc)/fc``: weight ``(1 + p|g|) exp(-p|g|)``, zero for ``g > 4``. Upper side
    (``f >= fc``): ``p = 4 fc / ERB(fc)``; lower side: ``p = p_u - level_slope (p_u / p_1000)
    (X - 51)``, where ``X`` is the input level per ERB at the component (the component
    intensities weighted by each component's own symmetric roex filter).

    ``forward(intensity, mask)``: intensity ``(..., K)`` for the components at
    ``component_freqs_hz`` (``mask`` drops components); returns the excitation
    ``(..., n_bands)`` in (20 uPa)^2 units (``10 log10`` -> dB SPL). The upper side and the
    input levels are fixed matrices (matmul); the level-dependent lower side is evaluated on
    the (component, band) pairs with ``f < fc`` only (:mod:`workbench.kernels.excitation`).
    """

    def __init__(self, component_freqs_hz, cams=None, level_slope: float = 0.35,
                 pivot_level_db: float = 51.0, dtype=torch.float64):
        super().__init__()
        f = np.asarray(component_freqs_hz, dtype=np.float64)
        cams = np.arange(1.75, 39.0 + 1e-9, 0.25) if cams is None else np.asarray(cams, dtype=np.float64)
        fc = cam_to_hz(cams)
        p_of = lambda freq: 4 * freq / loudness_erb_hz(freq)  # noqa: E731
        self.cams = cams
        self.level_slope, self.pivot_level_db = level_slope / p_of(1000.0), pivot_level_db
        # input level per ERB: X_j = sum_i W(p_i, (f_j - f_i)/f_i) I_i, g <= 4
        g_in = (f[None, :] - f[:, None]) / f[:, None]
        m_in = np.where(g_in <= 4, (1 + p_of(f)[:, None] * np.abs(g_in)) * np.exp(-p_of(f)[:, None] * np.abs(g_in)), 0.0)
        g = (f[:, None] - fc[None, :]) / fc[None, :]  # (K, C)
        pu_g = p_of(fc)[None, :] * np.abs(g)
        upper = (f[:, None] >= fc[None, :]) & (g <= 4)
        w_up = np.where(upper, (1 + pu_g) * np.exp(-pu_g), 0.0)
        self.register_buffer("freqs_hz", torch.as_tensor(f, dtype=dtype), persistent=False)
        self.register_buffer("center_freqs_hz", torch.as_tensor(fc, dtype=dtype), persistent=False)
        # weights below 1e-30 (far skirts) are set to 0: negligible next to the on-frequency
        # weight 1, and they would be float32 denormals (slow arithmetic)
        m_in[m_in < 1e-30], w_up[w_up < 1e-30] = 0.0, 0.0
        self.register_buffer("input_matrix", torch.as_tensor(m_in, dtype=dtype), persistent=False)
        self.register_buffer("upper_matrix", torch.as_tensor(w_up, dtype=dtype), persistent=False)
        self.register_buffer("p_upper", torch.as_tensor(p_of(fc), dtype=dtype), persistent=False)
        self.register_buffer("p_per_hz", torch.as_tensor(p_of(fc) / fc, dtype=dtype), persistent=False)

    def forward(self, intensity: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            intensity = torch.where(mask, intensity, torch.zeros((), dtype=intensity.dtype, device=intensity.device))
        freqs, m_in, w_up = self.freqs_hz, self.input_matrix, self.upper_matrix
        used = (intensity.detach() != 0).reshape(-1, intensity.shape[-1]).any(0)
        if not bool(used.any()):  # silence: no component anywhere (keeps the autograd graph)
            return intensity @ torch.zeros_like(w_up)
        if int(used.sum()) < 3 * used.numel() // 4:  # sparse (tonal) input: drop never-present components
            idx = torch.nonzero(used).squeeze(1)
            intensity, freqs, m_in, w_up = intensity[..., idx], freqs[idx], m_in[idx][:, idx], w_up[idx]
        level_in = intensity @ m_in
        present = intensity > 0
        one = torch.ones((), dtype=level_in.dtype, device=level_in.device)
        level_db = 10 * torch.log10(torch.where(present, level_in, one))
        # lower-slope factor p_l / p_u per component (1 where the component is absent)
        slope = torch.where(present, 1 - self.level_slope * (level_db - self.pivot_level_db), one)
        lower = roex_lower(intensity, slope, freqs, self.p_upper, self.p_per_hz, self.center_freqs_hz)
        return intensity @ w_up + lower


# --------------------------------------------------------------------------- specific loudness
def _interp_linear_clamped(x, xp, fp):
    return np.interp(x, xp, fp)  # np.interp holds the end values outside the table


class SpecificLoudness(nn.Module):
    """ANSI S3.4-2007 specific loudness (sone/Cam) from excitation (in (20 uPa)^2 units).

    ``N' = C ((G E + A)^alpha - A^alpha)`` for ``E_thrq < E < 1e10``; times
    ``(2 E / (E + E_thrq))^1.5`` at and below threshold; ``C (E / 1.0707)^0.2`` from 1e10 up.
    ``E_thrq(f)``: the excitation threshold table (linear interpolation, constant
    ``threshold_db_above_500`` from 500 Hz), ``G = E_thrq(500) / E_thrq(f)``,
    ``alpha(G)`` by linear interpolation (clamped) and ``A(G)`` by pchip *with*
    extrapolation (MATLAB ``interp1`` behaviour; the lowest band lies just outside the table).

    Presets: Moore et al. (2016) binaural model ``C = 0.0631``, threshold 3.63 dB;
    ANSI S3.4-2007 / Glasberg & Moore (2002, revised) ``C = 0.046871``, threshold 3.73 dB.
    ``C`` is a parameter when ``learnable``.
    """

    def __init__(self, center_freqs_hz, C: float = 0.0631, threshold_db_above_500: float = 3.63,
                 learnable: bool = False, dtype=torch.float64):
        super().__init__()
        from scipy.interpolate import PchipInterpolator

        t = ansi_tables()
        fc = np.asarray(center_freqs_hz, dtype=np.float64)
        tf, tq = t["threshold_excitation_freqs_hz"], t["threshold_excitation_db"].copy()
        tq[tf >= 500] = threshold_db_above_500
        thr_db = np.where(fc < 500, _interp_linear_clamped(fc, tf, tq), threshold_db_above_500)
        gain_db = threshold_db_above_500 - thr_db
        alpha = _interp_linear_clamped(gain_db, t["gain_to_alpha_gain_db"], t["gain_to_alpha"])
        a = PchipInterpolator(t["gain_to_a_gain_db"], t["gain_to_a"], extrapolate=True)(gain_db)
        as_t = lambda v: torch.as_tensor(v, dtype=dtype)  # noqa: E731
        self.register_buffer("threshold", as_t(10 ** (thr_db / 10)), persistent=False)
        self.register_buffer("gain", as_t(10 ** (gain_db / 10)), persistent=False)
        self.register_buffer("alpha", as_t(alpha), persistent=False)
        self.register_buffer("a", as_t(a), persistent=False)
        if learnable:
            self.C = nn.Parameter(as_t(C))
        else:
            self.register_buffer("C", as_t(C), persistent=False)

    def forward(self, excitation: torch.Tensor) -> torch.Tensor:
        # below -100 dB SPL the specific loudness (~1e-27) is set to 0: the same to all
        # digits that matter, and float32 would otherwise crawl through denormal numbers
        audible = excitation > 1e-10
        e = excitation.clamp_min(1e-10)
        mid = (self.gain * e + self.a) ** self.alpha - self.a ** self.alpha
        low = (2 * e / (e + self.threshold)) ** 1.5 * mid
        high = (e.clamp_min(1e10) / 1.0707) ** 0.2
        out = torch.where(e >= 1e10, high, torch.where(e > self.threshold, mid, low))
        return self.C * torch.where(audible, out, torch.zeros((), dtype=out.dtype, device=out.device))


# --------------------------------------------------------------------------- binaural
def binaural_inhibition(spec_left: torch.Tensor, spec_right: torch.Tensor, p: float = 1.5978,
                        smoothing: float = 0.08, cam_step: float = 0.25, half_width_cam: float = 18.0):
    """Moore et al. (2016) binaural inhibition of specific loudness ``(..., bands)``.

    Each ear's specific loudness is smoothed across bands with ``exp(-(smoothing g)^2)``,
    ``g = -18:0.25:18`` Cam (normalised, centred), then inhibited by the other ear:
    ``N_L / (2 / (1 + sech(S_R / S_L)^p))``. Returns the inhibited specific loudness of both
    ears (the loudness of an ear is their sum times ``cam_step``).
    """
    g = torch.arange(-half_width_cam, half_width_cam + cam_step / 2, cam_step,
                     dtype=spec_left.dtype, device=spec_left.device)
    kernel = torch.exp(-(smoothing * g) ** 2)
    kernel = kernel / kernel.sum()
    n, half = spec_left.shape[-1], (kernel.numel() - 1) // 2
    idx = torch.arange(n, device=g.device)
    lag = idx[:, None] - idx[None, :] + half  # Toeplitz: 'same' convolution
    smooth = torch.where((lag >= 0) & (lag < kernel.numel()), kernel[lag.clamp(0, kernel.numel() - 1)],
                         torch.zeros((), dtype=kernel.dtype, device=kernel.device))
    sl = spec_left @ smooth + 1e-13
    sr = spec_right @ smooth + 1e-13

    def inhibition(ratio):  # 2 / (1 + sech(ratio)^p), sech via exp(-r) for large ratios
        e = torch.exp(-ratio)
        return 2 / (1 + (2 * e / (1 + e * e)) ** p)

    return spec_left / inhibition(sr / sl), spec_right / inhibition(sl / sr)


# --------------------------------------------------------------------------- phon scale
class LoudnessLevelTable(nn.Module):
    """Loudness (sone) <-> loudness level (phon) of the ANSI S3.4-2007 stationary model.

    The loudness level is the level of the equally loud 1 kHz tone (free field). The table
    is computed as ANSI's Table 7 is: one component at 1 kHz (0 dB ear transfer there),
    ANSI constants (C = 0.046871, threshold 3.73 dB), ``binaural_factor`` x the monaural
    loudness (2: binaural/diotic, 1: one ear). It reproduces Table 7 (40 phon = 0.997 sone,
    60 phon = 4.166, 80 phon = 15.98). Conversions interpolate linearly in (phon, log sone)
    on a 0.05 phon grid from 0 to 140 phon; differentiable.
    """

    def __init__(self, binaural_factor: float = 2.0):
        super().__init__()
        levels = np.arange(0.0, 140.01, 0.05)
        one = RoexExcitation([1000.0])
        ansi = SpecificLoudness(one.center_freqs_hz.numpy(), C=0.046871, threshold_db_above_500=3.73)
        with torch.no_grad():
            exc = one(torch.as_tensor(10 ** (levels / 10))[:, None])
            sone = (binaural_factor * 0.25 * ansi(exc).sum(-1)).numpy()
        keep = np.concatenate([[True], np.diff(sone) > 0]) & (sone > 0)
        self.register_buffer("phon", torch.as_tensor(levels[keep]), persistent=False)
        self.register_buffer("log_sone", torch.as_tensor(np.log(sone[keep])), persistent=False)

    @staticmethod
    def _interp(x, xp, fp):
        i = torch.searchsorted(xp, x.detach().contiguous()).clamp(1, xp.numel() - 1)
        x0, x1, y0, y1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def sone_to_phon(self, sone: torch.Tensor) -> torch.Tensor:
        sone = torch.as_tensor(sone)
        sone = sone if sone.is_floating_point() else sone.double()
        xp, fp = self.log_sone.to(sone), self.phon.to(sone)
        tiny = torch.exp(xp[0])
        log_s = torch.log(torch.where(sone > tiny, sone, tiny))
        return torch.where(sone > tiny, self._interp(log_s, xp, fp), fp[0])

    def phon_to_sone(self, phon: torch.Tensor) -> torch.Tensor:
        phon = torch.as_tensor(phon)
        phon = phon if phon.is_floating_point() else phon.double()
        xp, fp = self.phon.to(phon), self.log_sone.to(phon)
        return torch.exp(self._interp(phon.clamp(xp[0], xp[-1]), xp, fp))


@functools.lru_cache(maxsize=4)
def loudness_level_table(binaural_factor: float = 2.0) -> LoudnessLevelTable:
    """Shared (cached) :class:`LoudnessLevelTable`."""
    return LoudnessLevelTable(binaural_factor)


# --------------------------------------------------------------------------- helpers
def scalar_parameter(value: float, learnable: bool, dtype=torch.float64):
    """A model constant as a scalar tensor, or an ``nn.Parameter`` when ``learnable``."""
    t = torch.tensor(float(value), dtype=dtype)
    return nn.Parameter(t) if learnable else t



def resample_signal(x, fs_in: float, fs_out: float = 32000.0) -> torch.Tensor:
    """Resample ``x`` ``(..., T)`` from ``fs_in`` to ``fs_out`` (polyphase, MATLAB-style).

    Uses :func:`workbench.stages.resample.resample_poly` when available (differentiable),
    otherwise ``scipy.signal.resample_poly`` (not differentiable)."""
    from fractions import Fraction

    x = torch.as_tensor(x)
    ratio = Fraction(float(fs_out) / float(fs_in)).limit_denominator(10000)
    if ratio == 1:
        return x
    try:
        from workbench.stages.resample import resample_poly

        return resample_poly(x, ratio.numerator, ratio.denominator)
    except (ImportError, TypeError):  # not available (yet) or another signature
        pass
    from scipy.signal import resample_poly as scipy_resample

    y = scipy_resample(x.detach().cpu().numpy(), ratio.numerator, ratio.denominator, axis=-1)
    return torch.as_tensor(y, dtype=x.dtype, device=x.device)


def warn_if_too_loud(x: torch.Tensor, name: str = "audio", max_db_spl: float = 140.0) -> None:
    """Warn when any channel's rms level (input in Pa) exceeds ``max_db_spl``."""
    import warnings

    rms = x.detach().pow(2).mean(-1).sqrt().max()
    if rms > P_REF_PA * 10 ** (max_db_spl / 20):
        level = 20 * math.log10(float(rms) / P_REF_PA)
        warnings.warn(f"{name} reaches {level:.1f} dB SPL (rms, input taken in Pa), above the "
                      f"{max_db_spl:g} dB SPL range of the loudness tables; results extrapolate",
                      stacklevel=3)


def erb_integration_matrix(component_freqs_hz, cams) -> np.ndarray:
    """``(K, C)`` 0/1 matrix summing the components within +-0.5 Cam of each band centre
    (the input level per ERB at the band centres, Glasberg & Moore 2002 Eq. 3 / AMT)."""
    cam_of_comp = hz_to_cam(component_freqs_hz)[:, None]
    cams = np.asarray(cams, dtype=np.float64)[None, :]
    return ((cam_of_comp >= cams - 0.5) & (cam_of_comp < cams + 0.5)).astype(np.float64)


def cam_grid(erb_lower: float = 1.75, erb_upper: float = 39.0, erb_step: float = 0.25) -> np.ndarray:
    """Band centres on the Cam scale: ``erb_lower:erb_step:erb_upper`` (MATLAB colon)."""
    n = int(math.floor((erb_upper - erb_lower) / erb_step + 1e-9)) + 1
    return erb_lower + erb_step * np.arange(n)
