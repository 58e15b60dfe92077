"""Outer- and middle-ear FIR filters (headphone + outer ear, middle ear).

Designs follow AMT 1.4 (``headphonefilter``, ``middleearfilter``) from the published tables:
Pralong & Carlile (1996, Fig. 1e: Sennheiser 250 headphone + outer ear gain) and
Lopez-Poveda & Meddis (2001, Fig. 2b: stapes peak velocity at 0 dB SPL, derived from Goode et
al. 1994 displacement data). The FIRs are frequency-sampling designs computed here with
:func:`fir2` (the GNU Octave ``fir2`` algorithm, which generated the AMT reference), so any
sampling rate works. Filtering is an FFT convolution (differentiable in signal and taps).

Models use them differently, so the delay handling is an argument:

* Osses2021 (AMT 1.4 ``osses2021``): each 513-tap FIR is applied causally to the signal with
  zeros appended and the first ``ceil(513/2) = 257`` output samples dropped
  (``drop=257``); the middle-ear output is normalised by its peak gain (``normalize=True``).
* Paulick2024 (AMT 1.6): both FIRs applied causally, no delay compensation (``drop=0``),
  middle ear minimum phase scaled by 1 / 20 uPa (``normalize=False``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from workbench._validation import MAX_FIR_ORDER, check_bool, check_choice, check_fs, check_int
from workbench.dsp import hilbert_transform
from workbench.units import P_REF_PA

# Pralong & Carlile (1996) Fig. 1e: frequency (Hz), linear amplitude gain.
PRALONG1996 = np.array(
    [
        [125.0, 1.0],
        [250.0, 1.0],
        [500.0, 1.0],
        [1000.0, 0.994850557],
        [1237.384651, 0.994850557],
        [1531.120775, 0.994850557],
        [1894.585346, 1.114513162],
        [2002.467159, 1.235743262],
        [2344.330828, 1.867671314],
        [2721.273584, 2.822751493],
        [3001.403462, 2.180544843],
        [3589.453635, 1.442755787],
        [4001.342781, 1.173563859],
        [4441.534834, 1.37016005],
        [5004.212211, 1.599690164],
        [5495.887031, 1.37016005],
        [5997.423738, 1.114513162],
        [6800.526258, 0.648125625],
        [6946.931144, 0.631609176],
        [7995.508928, 0.276505667],
        [8414.866811, 0.084335217],
        [9008.422743, 0.084335217],
    ]
)

# Goode et al. (1994) Fig. 1: stapes peak-to-peak displacement (um) at 104 dB SPL.
_GOODE1994_UM = np.array(
    [
        [400, 0.19953],
        [600, 0.22909],
        [800, 0.21878],
        [1000, 0.15136],
        [1200, 0.10000],
        [1400, 0.07943],
        [1600, 0.05754],
        [1800, 0.04365],
        [2000, 0.03311],
        [2200, 0.02754],
        [2400, 0.02188],
        [2600, 0.01820],
        [2800, 0.01445],
        [3000, 0.01259],
        [3500, 0.00900],
        [4000, 0.00700],
        [4500, 0.00457],
        [5000, 0.00500],
        [5500, 0.00400],
        [6000, 0.00300],
        [6500, 0.00275],
    ]
)
# Lopez-Poveda & Meddis (2001) Fig. 2b points outside Goode's range (m/s at 0 dB SPL).
_LOPEZPOVEDA2001_EXTRAPOLATED = np.array(
    [
        [100, 1.181e-9],
        [200, 2.363e-9],
        [7000, 8.705e-10],
        [7500, 8.000e-10],
        [8000, 7.577e-10],
        [8500, 7.168e-10],
        [9000, 6.781e-10],
        [9500, 6.240e-10],
        [10000, 6.000e-10],
    ]
)


# Jepsen et al. (2008) middle ear: stapes impedance vs frequency (Hz), AMT 'jepsen2008'.
_JEPSEN2008_IMPEDANCE = np.array(
    [
        [50, 48046.39731],
        [100, 24023.19865],
        [200, 12011.59933],
        [400, 6005.799663],
        [600, 3720.406871],
        [800, 2866.404385],
        [1000, 3363.247811],
        [1200, 4379.228921],
        [1400, 4804.639731],
        [1600, 5732.808769],
        [1800, 6228.236688],
        [2000, 7206.959596],
        [2200, 9172.494031],
        [2400, 9554.681282],
        [2600, 10779.64042],
        [2800, 12011.59933],
        [3000, 14013.53255],
        [3500, 16015.46577],
        [4000, 18017.39899],
        [4500, 23852.82136],
        [5000, 21020.29882],
        [5500, 22931.23508],
        [6000, 28027.06509],
        [6500, 28745.70779],
        [7000, 32098.9],
        [7500, 34504.4],
        [8000, 36909.9],
        [8500, 39315.4],
        [9000, 41720.9],
        [9500, 44126.4],
        [10000, 46531.9],
    ]
)


def _lopezpoveda2001_table() -> np.ndarray:
    """Stapes peak velocity (m/s) at 0 dB SPL vs frequency (Hz), as AMT's ``fig2b``/'goode'.

    Displacement -> velocity (x 2 pi f), 104 dB SPL -> 0 dB SPL (linear), peak-to-peak ->
    peak times sqrt(2) (AMT's factor, kept for identical filters).
    """
    f, d_um = _GOODE1994_UM.T
    v = d_um * 1e-6 * 2 * np.pi * f * 10 ** (-104 / 20) * np.sqrt(2)
    ext = _LOPEZPOVEDA2001_EXTRAPOLATED
    return np.concatenate([ext[ext[:, 0] < f[0]], np.stack([f, v], 1), ext[ext[:, 0] > f[-1]]])


def fir2(order: int, freqs, gains, grid_n: int | None = None) -> np.ndarray:
    """Frequency-sampling FIR design with a Hamming window, as GNU Octave's ``fir2``.

    The response is interpolated linearly onto ``grid_n + 1`` uniform points, inverse-FFT'd
    as a zero-phase response, centred at ``order / 2``, truncated to ``order + 1`` taps and
    windowed. Only even orders (odd tap counts) are supported.

    Parameters
    ----------
    order : int
        Even filter order >= 2.
    freqs : array_like
        ``(n,)`` frequencies re Nyquist, increasing strictly from 0 to 1.
    gains : array_like
        ``(n,)`` linear amplitude gains at ``freqs``.
    grid_n : int, optional
        Interpolation grid (rounded up to a power of two; default 512, or ``order + 1`` from
        1023 taps up).

    Returns
    -------
    numpy.ndarray
        ``(order + 1,)`` float64 taps, symmetric (linear phase).

    References
    ----------
    GNU Octave signal package, ``fir2``; AMT 1.4 ``headphonefilter`` and ``middleearfilter``,
    whose FIRs it designs.

    Examples
    --------
    >>> b = fir2(20, [0.0, 0.5, 1.0], [1.0, 1.0, 0.0])
    >>> b.shape, bool(np.allclose(b, b[::-1]))
    ((21,), True)
    """
    if not isinstance(order, int) or order < 2 or order % 2:
        raise ValueError(f"order must be an even integer >= 2, got {order!r}")
    f = np.asarray(freqs, dtype=np.float64)
    m = np.asarray(gains, dtype=np.float64)
    if f.shape != m.shape or f.ndim != 1 or f[0] != 0 or f[-1] != 1 or np.any(np.diff(f) <= 0):
        raise ValueError("freqs must increase strictly from 0 to 1 and match gains in length")
    if grid_n is None:
        grid_n = 512 if order + 1 < 1024 else order + 1
    grid_n = 1 << int(math.ceil(math.log2(grid_n)))
    if 2 * grid_n < order + 1:
        raise ValueError(f"grid_n must be at least half the number of taps ({order + 1}), got {grid_n}")
    grid = np.interp(np.linspace(0.0, 1.0, grid_n + 1), f, m)
    # Real, even spectrum -> real, even impulse response of length 2*grid_n.
    h = np.fft.irfft(grid, 2 * grid_n)
    half = order // 2
    b = np.concatenate([h[-half:], h[: half + 1]])
    return b * np.hamming(order + 1)


def minimum_phase(b: np.ndarray) -> np.ndarray:
    """Minimum-phase FIR with the magnitude response of ``b`` (AMT's 'minimum' middle ear).

    The phase is minus the Hilbert transform of ``log|B|`` on the FFT grid of ``b``
    (:func:`workbench.dsp.hilbert_transform`, as MATLAB ``hilbert``).

    Parameters
    ----------
    b : numpy.ndarray
        ``(L,)`` taps with no zero of ``|B|`` on the grid.

    Returns
    -------
    numpy.ndarray
        ``(L,)`` real float64 taps, the energy at the start.

    References
    ----------
    AMT 1.4 ``middleearfilter(..., 'minimum')``; Oppenheim & Schafer, Discrete-Time Signal
    Processing, 3rd ed. (2010) (the minimum-phase / Hilbert-transform relation).

    Examples
    --------
    >>> b = fir2(20, [0.0, 0.5, 1.0], [1.0, 1.0, 0.0])
    >>> h = minimum_phase(b)
    >>> bool(np.allclose(np.abs(np.fft.fft(h)), np.abs(np.fft.fft(b))))  # same magnitude
    True
    """
    log_mag = np.log(np.abs(np.fft.fft(b)))
    phase = -hilbert_transform(torch.as_tensor(log_mag)).numpy()
    return np.fft.ifft(np.exp(log_mag + 1j * phase)).real


def _table_to_fir2_grid(table: np.ndarray, fs: float, zero_at_nyquist: bool):
    freqs = np.concatenate([[0.0], table[:, 0] * 2 / fs])
    gains = np.concatenate([[0.0], table[:, 1]])
    if zero_at_nyquist:
        freqs, gains = np.append(freqs, 1.0), np.append(gains, 0.0)
    return freqs, gains


def headphone_fir(fs: float, order: int = 512) -> np.ndarray:
    """Headphone + outer-ear FIR (AMT ``headphonefilter``): linear phase, ``order + 1`` taps.

    Designed by :func:`fir2` from Pralong & Carlile's table; gain 0 at DC and Nyquist; at
    ``fs <= 20`` kHz the table stops below Nyquist.

    Parameters
    ----------
    fs : float, Hz
    order : int
        Even FIR order (512).

    Returns
    -------
    numpy.ndarray
        ``(order + 1,)`` float64 taps, dimensionless (pressure gain).

    See Also
    --------
    HeadphoneFilter : the stage that applies it.

    References
    ----------
    Pralong & Carlile (1996), J. Acoust. Soc. Am. 100, 3785-3793; AMT 1.4 ``headphonefilter``.

    Examples
    --------
    >>> headphone_fir(44100).shape
    (513,)
    """
    fs = check_fs(fs)
    order = check_int(order, "order (FIR order)", 2, MAX_FIR_ORDER)
    table = PRALONG1996
    if fs <= 20000:
        table = table[table[:, 0] < fs / 2]
    return fir2(order, *_table_to_fir2_grid(table, fs, zero_at_nyquist=True))


def middle_ear_fir(
    fs: float, order: int = 512, phase_type: str = "minimum", filter_type: str = "lopezpoveda2001"
) -> np.ndarray:
    """Middle-ear FIR (AMT ``middleearfilter``), ``order + 1`` taps.

    'lopezpoveda2001' (AMT default): stapes velocity per Pa (the table / 20 uPa), passband
    about -66.5 dB; above 20 kHz sampling the table is continued every 1 kHz (amplitude / 1.1
    per step) and closed at Nyquist, as AMT does. 'jepsen2008': inverse stapes impedance,
    zero at Nyquist, peak scaled to ``1e-8 10^(104/20)``; AMT keeps it linear phase whatever
    ``phase_type`` says.

    Parameters
    ----------
    fs : float, Hz
    order : int
        Even FIR order (512).
    phase_type : {'minimum', 'zero'}
        Minimum phase (AMT default), or the linear-phase :func:`fir2` design symmetric about
        ``order / 2``.
    filter_type : {'lopezpoveda2001', 'jepsen2008'}

    Returns
    -------
    numpy.ndarray
        ``(order + 1,)`` float64 taps: m/s per Pa ('lopezpoveda2001').

    See Also
    --------
    MiddleEarFilter : the stage that applies it (optionally normalised to 0 dB).

    References
    ----------
    Lopez-Poveda & Meddis (2001), J. Acoust. Soc. Am. 110, 3107-3118; Goode et al. (1994);
    Jepsen, Ewert & Dau (2008), J. Acoust. Soc. Am. 124, 422-438; AMT 1.4 ``middleearfilter``.

    Examples
    --------
    >>> round(peak_gain_db(middle_ear_fir(44100)), 1)
    -66.5
    """
    fs = check_fs(fs)
    order = check_int(order, "order (FIR order)", 2, MAX_FIR_ORDER)
    check_choice(phase_type, ("minimum", "zero"), "phase_type")
    check_choice(filter_type, ("lopezpoveda2001", "jepsen2008"), "filter_type")
    if filter_type == "jepsen2008":
        freq, impedance = _JEPSEN2008_IMPEDANCE.T
        table = np.stack([freq, 1 / impedance], 1)  # stapes velocity ~ 1 / impedance
        if fs <= 20000:
            table = table[table[:, 0] < fs / 2]
        b = fir2(order, *_table_to_fir2_grid(table, fs, zero_at_nyquist=True))
        return b / np.abs(np.fft.fft(b)).max() * 1e-8 * 10 ** (104 / 20)
    table = _lopezpoveda2001_table()
    if fs <= 20000:
        table = table[table[:, 0] < fs / 2]
    else:
        n_ext = int(math.floor((fs / 2 - table[-1, 0]) / 1000))
        ext_f = table[-1, 0] + 1000 * np.arange(1, n_ext + 1)
        ext_v = table[-1, 1] / 1.1 ** np.arange(1, n_ext + 1)
        table = np.concatenate([table, np.stack([ext_f, ext_v], 1)])
    if table[-1, 0] != fs / 2:
        last_v = table[-1, 1] / (1 + (fs / 2 - table[-1, 0]) * 0.1 / 1000)
        table = np.concatenate([table, [[fs / 2, last_v]]])
    b = fir2(order, *_table_to_fir2_grid(table, fs, zero_at_nyquist=False)) / P_REF_PA
    return minimum_phase(b) if phase_type == "minimum" else b


def peak_gain_db(b: np.ndarray, n_freqs: int = 8192) -> float:
    """Peak gain of an FIR in dB, as the maximum of MATLAB ``freqz(b, 1, n_freqs)``.

    Parameters
    ----------
    b : numpy.ndarray
        ``(L,)`` taps, ``L <= 2 n_freqs``.
    n_freqs : int
        Frequencies evaluated on [0, pi).

    Returns
    -------
    float
        ``max 20 log10 |H|``, dB.

    References
    ----------
    Osses & Kohlrausch (2021), J. Acoust. Soc. Am. 149, 3534-3547; AMT 1.4 ``osses2021``
    (its middle ear is normalised by this gain).

    Examples
    --------
    >>> peak_gain_db(np.array([0.5, 0.5]))  # unit gain at DC
    0.0
    """
    if b.size > 2 * n_freqs:
        raise ValueError(f"filter longer than 2*n_freqs = {2 * n_freqs} taps")
    h = np.fft.rfft(b, 2 * n_freqs)[:n_freqs]
    return float(20 * np.log10(np.abs(h).max()))


def fir_filter(x: torch.Tensor, taps: torch.Tensor, drop: int = 0) -> torch.Tensor:
    """Causal FIR filtering along the last axis by FFT convolution; the output keeps the length.

    ``out[n] = sum_k taps[k] x[n + drop - k]`` with ``x`` zero beyond its end: ``drop``
    samples of the filter's delay are removed (AMT's group-delay compensation appends
    ``drop`` zeros, filters and drops the first ``drop`` outputs).

    The convolution runs in float64 and returns ``x``'s dtype: a float32 FFT spreads an error
    of ~1e-7 of the signal's peak over all frequencies, which is 1e-5 to 1e-4 of a weak
    channel's signal after the filterbank (the adaptation loops then pass it on: Paulick2024's
    adaptation stage differed by 4.6e-5 between float32 and float64 from this alone).

    Parameters
    ----------
    x : Tensor
        Signal ``(..., T)``, any units (e.g. ``(B, T)`` Pa).
    taps : Tensor
        ``(L,)``, or ``(..., L)`` broadcasting against ``x``'s leading axes; differentiable.
    drop : int
        Leading output samples removed, ``0 <= drop < L + T``.

    Returns
    -------
    Tensor
        ``(..., T)``, units of ``x`` times those of the taps, ``x``'s dtype.

    See Also
    --------
    FIRFilter : the stage form.

    References
    ----------
    Osses & Kohlrausch (2021), J. Acoust. Soc. Am. 149, 3534-3547; AMT 1.4 ``osses2021``
    (the delay compensation).

    Examples
    --------
    >>> fir_filter(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0]), drop=1)  # delay removed
    tensor([1., 2., 3.])
    """
    n_t, n_taps = x.shape[-1], taps.shape[-1]
    if not 0 <= drop < n_taps + n_t:
        raise ValueError(f"drop must be in [0, {n_taps + n_t}), got {drop}")
    n_fft = _fast_len(n_t + n_taps - 1)
    spec = torch.fft.rfft(x.to(torch.float64), n_fft) * torch.fft.rfft(taps.to(torch.float64), n_fft)
    return torch.fft.irfft(spec, n_fft)[..., drop : drop + n_t].to(x.dtype)


def _fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast FFT length)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


class FIRFilter(nn.Module):
    """Fixed (or learnable) FIR stage (:func:`fir_filter`); output length = input length.

    Parameters
    ----------
    taps : array (L,)
    drop : int
        Leading output samples removed from the zero-padded causal output (delay compensation).
    gain : float
        Scalar applied to the taps.
    learnable : bool
        The taps become an ``nn.Parameter``.
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: ``(..., T)`` -> ``(..., T)``.

    References
    ----------
    Osses & Kohlrausch (2021), J. Acoust. Soc. Am. 149, 3534-3547 (delay compensation, AMT 1.4
    ``osses2021``); Paulick, Relano-Iborra & Dau (2024), Hear. Res. (causal, AMT 1.6).

    Examples
    --------
    >>> FIRFilter(np.array([0.5, 0.5]))(torch.tensor([1.0, 0.0, 0.0]))
    tensor([0.5000, 0.5000, 0.0000])
    """

    def __init__(
        self,
        taps: np.ndarray,
        drop: int = 0,
        gain: float = 1.0,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        t = torch.as_tensor(np.asarray(taps) * gain, dtype=dtype)
        if learnable:
            self.taps = nn.Parameter(t)
        else:
            self.register_buffer("taps", t)
        self.drop = int(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fir_filter(x, self.taps, self.drop)

    def extra_repr(self) -> str:
        return f"n_taps={self.taps.shape[-1]}, drop={self.drop}"


class HeadphoneFilter(FIRFilter):
    """Headphone + outer-ear FIR (Pralong & Carlile 1996 via AMT ``headphonefilter``).

    Parameters
    ----------
    fs : float, Hz
    order : int
        FIR order (512: 513 taps, linear phase).
    delay_compensation : bool
        Drop ``ceil(n_taps/2)`` samples (AMT osses2021); False filters causally (AMT 1.6
        paulick2024).
    learnable, dtype
        As :class:`FIRFilter`.

    Returns
    -------
    Tensor
        ``forward(x)``: ``(..., T)`` -> ``(..., T)``, the input's units.

    References
    ----------
    Pralong & Carlile (1996), J. Acoust. Soc. Am. 100, 3785-3793.

    Examples
    --------
    >>> HeadphoneFilter(44100)(torch.zeros(1, 441)).shape
    torch.Size([1, 441])
    """

    about = "Headphone and outer ear: the sound at the eardrum."

    def __init__(
        self,
        fs: float,
        order: int = 512,
        delay_compensation: bool = True,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        taps = headphone_fir(fs, order)
        super().__init__(
            taps,
            drop=(order + 2) // 2 if check_bool(delay_compensation, "delay_compensation") else 0,
            learnable=learnable,
            dtype=dtype,
        )


class MiddleEarFilter(FIRFilter):
    """Middle-ear FIR (Lopez-Poveda & Meddis 2001, or Jepsen et al. 2008 with
    ``filter_type='jepsen2008'``, via AMT ``middleearfilter``).

    Parameters
    ----------
    fs : float, Hz
    order : int
        FIR order (512).
    phase_type : {'minimum', 'zero'}
    filter_type : {'lopezpoveda2001', 'jepsen2008'}
    normalize : bool
        Divide by the filter's peak gain (AMT osses2021: ``x 10^(66.48/20)`` at 44.1 kHz), so
        the passband is at 0 dB; False keeps AMT's scaling: stapes velocity (m/s) per Pa, i.e.
        the table / 20 uPa (paulick2024).
    delay_compensation : bool
        As :class:`HeadphoneFilter`, except that the linear-phase ``phase_type='zero'``
        design drops exactly its delay ``order/2`` (zero phase).
    learnable, dtype
        As :class:`FIRFilter`.

    Returns
    -------
    Tensor
        ``forward(x)``: ``(..., T)`` Pa (AMT units when ``normalize``) -> ``(..., T)``.

    References
    ----------
    Lopez-Poveda & Meddis (2001), J. Acoust. Soc. Am. 110, 3107-3118; Goode et al. (1994).

    Examples
    --------
    >>> middle_ear = MiddleEarFilter(44100)
    >>> middle_ear(torch.zeros(1, 441)).shape, round(middle_ear.peak_gain_db, 2)  # dB re 1 (m/s)/Pa
    (torch.Size([1, 441]), -66.48)
    """

    about = "Middle-ear transmission to the stapes (a band-pass)."

    def __init__(
        self,
        fs: float,
        order: int = 512,
        phase_type: str = "minimum",
        filter_type: str = "lopezpoveda2001",
        normalize: bool = True,
        delay_compensation: bool = True,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        taps = middle_ear_fir(fs, order, phase_type, filter_type)
        peak_db = peak_gain_db(taps)
        # AMT drops ceil(n_taps/2); the symmetric 'zero' FIR is exactly zero phase with n/2.
        drop = (order + 2) // 2 if phase_type == "minimum" else order // 2
        drop = drop if check_bool(delay_compensation, "delay_compensation") else 0
        super().__init__(
            taps,
            drop=drop,
            gain=10 ** (-peak_db / 20) if check_bool(normalize, "normalize") else 1.0,
            learnable=learnable,
            dtype=dtype,
        )
        self.peak_gain_db = peak_db
