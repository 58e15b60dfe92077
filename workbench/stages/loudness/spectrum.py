"""Short-term spectra of the loudness models: multi-resolution FFT, relevance, ERB integration.

Shapes: signals ``(..., T)``; spectra ``(..., K, F)`` (K frames, F spectral components);
band levels ``(..., K, Z)`` (Z bands on the Cam scale). Intensities are in (20 uPa)^2, so
``10 log10`` gives dB SPL for input in Pa.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from workbench._validation import check_int, check_positive, check_range, check_real_array, describe
from workbench.units import P_REF_PA, hz_to_cam

MAX_N_FFT = 8192  # 4 x the models' 2048 (the DFT bases grow with its square)


class MultiResolutionSpectrum(nn.Module):
    """Short-term power spectrum assembled from several Hann windows, one per band.

    Window ``i`` (0-based) has ``n_fft / 2**i`` samples, a *symmetric* Hann shape (MATLAB
    ``hann``) and sits centred in the ``n_fft`` frame; it supplies the FFT bins from
    ``floor(edge_i / df)`` to ``floor(edge_{i+1} / df)``; a bin on a shared edge is taken
    from the shorter window. Only the needed bins are computed (a direct DFT over each
    window's support, ~0.3 M multiply-adds per frame).

    Parameters
    ----------
    fs : float, Hz
    n_fft : int
        Frame (longest window) in samples, 2048 (64 ms at 32 kHz); or ``n_ffts``, all six.
    hop_length : int
        Frame hop in samples (32: 1 ms).
    band_edges_hz : sequence of float, Hz
        Edges of the bands the windows supply (Glasberg & Moore 2002, Table 1).
    hann_correction_db : float, dB
        Hann window power correction (3.32 dB, Moore et al. 2016); the window-length
        correction ``2**i`` is applied too.
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: ``(..., T)`` Pa -> ``(..., K, F)`` intensities in (20 uPa)^2,
        ``K = (T - n_fft) // hop_length + 1``; component frequencies in ``freqs_hz`` (F,).

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342; Moore et al. (2016).

    Examples
    --------
    >>> spectrum = MultiResolutionSpectrum()
    >>> spectrum(torch.zeros(2, 2048 + 32 * 9, dtype=torch.float64)).shape
    torch.Size([2, 10, 960])
    """

    # the settings a model's ``*_kwargs`` dict passes on to this stage
    KWARGS = ("hop_length", "n_windows", "n_fft", "n_ffts", "band_edges_hz", "hann_correction_db")

    def __init__(
        self,
        fs: float = 32000.0,
        n_fft: int = 2048,
        hop_length: int = 32,
        band_edges_hz=(20.0, 80.0, 500.0, 1250.0, 2540.0, 4050.0, 15000.0),
        hann_correction_db: float = 3.32,
        dtype=torch.float64,
        n_ffts=None,
        n_windows: int | None = None,
    ):
        super().__init__()
        edges_hz = check_real_array(band_edges_hz, "band_edges_hz", "frequencies in Hz")
        if (
            edges_hz.dim() != 1
            or not 2 <= edges_hz.numel() <= 11
            or not bool((edges_hz[0] >= 0) & (edges_hz[1:] > edges_hz[:-1]).all())
        ):
            raise ValueError(
                "band_edges_hz must be 2 to 11 increasing frequencies >= 0 Hz (one band per window), "
                f"got {edges_hz.tolist()}"
            )
        band_edges_hz = edges_hz.tolist()
        n_bands = len(band_edges_hz) - 1
        if n_windows is not None and check_int(n_windows, "n_windows", 1) != n_bands:
            raise ValueError(
                f"n_windows must equal the number of bands len(band_edges_hz) - 1 = {n_bands} "
                f"(one window per band), got {n_windows}"
            )
        if n_ffts is not None:  # window lengths, longest first; each half the previous one
            try:
                items = list(n_ffts) if not isinstance(n_ffts, (str, bytes, dict)) else None
            except TypeError:
                items = None
            if items is None:
                raise TypeError(
                    f"n_ffts must be a sequence of {n_bands} window lengths in samples, got {describe(n_ffts)}"
                )
            n_ffts = [
                check_int(
                    int(n) if isinstance(n, torch.Tensor) and n.dim() == 0 and not n.is_floating_point() else n,
                    "n_ffts[i]",
                    1,
                    MAX_N_FFT,
                )
                for n in items
            ]
            if len(n_ffts) != n_bands or any(n_ffts[i] != n_ffts[0] // 2**i for i in range(n_bands)):
                raise ValueError(
                    f"n_ffts must list {n_bands} window lengths in samples, each half the previous "
                    f"(e.g. [2048, 1024, ..., 64]), got {n_ffts}"
                )
            n_fft = n_ffts[0]
        n_fft = check_int(n_fft, "n_fft", 2**n_bands, MAX_N_FFT)
        hop_length = check_int(hop_length, "hop_length", 1, n_fft)
        hann_correction_db = check_range(hann_correction_db, "hann_correction_db", -60.0, 60.0, "dB")
        self.fs, self.n_fft, self.hop = float(fs), int(n_fft), int(hop_length)
        n_windows = n_bands
        if n_fft % 2 ** (n_windows - 1):
            raise ValueError(f"n_fft must be divisible by 2**(n_windows-1) = {2 ** (n_windows - 1)}, got {n_fft}")
        df = self.fs / n_fft
        edges = [int(math.floor(e / df)) for e in band_edges_hz]
        if edges[-1] > n_fft // 2 - 1:
            raise ValueError(f"band_edges_hz[-1] must be below fs/2 = {self.fs / 2:g} Hz, got {band_edges_hz[-1]}")
        self.windows = []  # (start sample, length) per window
        first_bin = []
        for i in range(n_windows):
            length = n_fft // 2**i
            start = (n_fft - length) // 2
            last = edges[i + 1] - 1 if i < n_windows - 1 else edges[i + 1]
            bins = np.arange(edges[i], last + 1)
            n = np.arange(length)
            hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (length - 1))
            # |2 Y / n_fft|^2 / 2 is the intensity of a sine component; then re p_ref^2.
            scale = 2.0 / n_fft * np.sqrt(10 ** (hann_correction_db / 10) * 2**i / 2) / P_REF_PA
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
            spec = frames[..., start : start + length] @ getattr(self, f"basis{i}")
            parts.append(spec[..., :n_bins] ** 2 + spec[..., n_bins:] ** 2)
        return torch.cat(parts, dim=-1)


def multi_resolution_spectrum(x: torch.Tensor, fs: float = 32000.0, **kwargs) -> torch.Tensor:
    """Short-term power spectrum from several Hann windows (pure form of
    :class:`MultiResolutionSpectrum`; the DFT bases are built on each call).

    Parameters
    ----------
    x : Tensor, Pa
        Signal ``(..., T)``, e.g. ``(B, E, T)``, ``T >= n_fft``.
    fs : float, Hz
        32000 for the models.
    **kwargs
        ``n_fft``, ``hop_length``, ``band_edges_hz``, ``hann_correction_db``, ``n_ffts`` of
        :class:`MultiResolutionSpectrum`.

    Returns
    -------
    Tensor
        ``(..., K, F)`` component intensities, (20 uPa)^2, ``K = (T - n_fft) // hop_length +
        1`` frames (F = 960 components with the defaults).

    See Also
    --------
    MultiResolutionSpectrum : the stage (bases built once; ``freqs_hz`` of the F axis).

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342; Moore et al. (2016), Trends Hear.
    20.

    Examples
    --------
    >>> multi_resolution_spectrum(torch.zeros(2048, dtype=torch.float64)).shape  # one 64 ms frame
    torch.Size([1, 960])
    """
    return MultiResolutionSpectrum(fs, dtype=x.dtype, **kwargs).to(x.device)(x)


def check_relevance(range_db, floor_db, prefix: str) -> tuple[float, float]:
    """Validate the settings of :func:`relevance_mask`.

    Parameters
    ----------
    range_db : float, dB
        Range below the frame maximum that is kept, in (0, 300] (at 0 or below no component
        would be kept and the loudness would be 0).
    floor_db : float, dB SPL
        Floor of the frame maximum, in [-200, 200].
    prefix : str
        Name of the caller's keyword dict, for error messages (e.g. ``'relevance'``).

    Returns
    -------
    (float, float)
        ``(range_db, floor_db)``, validated.

    References
    ----------
    Moore et al. (2016), Trends Hear. 20; AMT 1.4 ``moore2016``.

    Examples
    --------
    >>> check_relevance(60, 30, "relevance")
    (60.0, 30.0)
    """
    range_db = check_positive(range_db, f"{prefix}['range_db'] (dB below the frame maximum)")
    if range_db > 300:
        raise ValueError(f"{prefix}['range_db'] (dB below the frame maximum) must lie in (0, 300], got {range_db:g}")
    return range_db, check_range(floor_db, f"{prefix}['floor_db']", -200.0, 200.0, "dB SPL")


def relevance_mask(
    intensity: torch.Tensor, joint_dim: int | None = None, range_db: float = 60.0, floor_db: float = 30.0
) -> torch.Tensor:
    """The spectral components that enter the excitation: those within ``range_db`` of the frame
    maximum (and above ``floor_db - range_db`` dB SPL).

    Parameters
    ----------
    intensity : Tensor, (20 uPa)^2
        ``(..., K, F)`` component intensities (:func:`multi_resolution_spectrum`).
    joint_dim : int, optional
        An axis (e.g. E, the ear axis) over which the frame maximum is shared, as Moore et
        al. (2016) take it over both ears.
    range_db : float, dB
        Range kept below the frame maximum (60).
    floor_db : float, dB SPL
        The frame maximum is taken as at least this level (30).

    Returns
    -------
    Tensor
        Bool, shape of ``intensity``; not differentiable (a selection).

    References
    ----------
    Moore, Glasberg, Varathanathan & Schlittenlacher (2016), Trends Hear. 20, the components
    that contribute to the excitation; AMT 1.4 ``moore2016`` and ``glasberg2002``.

    Examples
    --------
    >>> relevance_mask(torch.tensor([[1e6, 1e0, 1e-1]]))  # 60, 0 and -10 dB SPL
    tensor([[ True, False, False]])
    """
    peak = intensity.detach().amax(dim=-1, keepdim=True)
    if joint_dim is not None:
        peak = peak.amax(dim=joint_dim, keepdim=True)
    peak = peak.clamp_min(10 ** (floor_db / 10))
    return intensity.detach() > peak * 10 ** (-range_db / 10)


class ERBIntegration(nn.Module):
    """Input level per ERB at the band centres (Glasberg & Moore 2002, Eq. 3; AMT): the
    component intensities within +-``bandwidth_scale``/2 Cam of each centre, summed.

    A diagnostic stage (``'erb_excitation'``): the excitation uses each component's own
    roex-weighted level per ERB (:class:`~workbench.stages.loudness.RoexExcitation`).

    Parameters
    ----------
    component_freqs_hz : array (F,), Hz
    cams : array (Z,), Cam
        Band centres.
    bandwidth_scale : float, ERB
        Width of the summing window.
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(intensity)``: ``(..., F)`` in (20 uPa)^2 -> ``(..., Z)`` dB SPL, ``-inf``
        in bands without a (relevant) component, e.g. most bands for a tone.

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342.

    Examples
    --------
    >>> bands = ERBIntegration([990.0, 1000.0], [15.6])  # both components in the band: +3 dB
    >>> bands(torch.tensor([[1e6, 1e6]], dtype=torch.float64))
    tensor([[63.0103]], dtype=torch.float64)
    """

    def __init__(self, component_freqs_hz, cams, bandwidth_scale: float = 1.0, dtype=torch.float64):
        super().__init__()
        bandwidth_scale = check_positive(bandwidth_scale, "bandwidth_scale (width in ERB)")
        if bandwidth_scale > 10:
            raise ValueError(f"bandwidth_scale (width in ERB) must lie in (0, 10], got {bandwidth_scale:g}")
        self.bandwidth_scale, self.n_erb_bands = float(bandwidth_scale), len(cams)
        cam_of_comp = hz_to_cam(component_freqs_hz)[:, None]
        cams = np.asarray(cams, dtype=np.float64)[None, :]
        half = self.bandwidth_scale / 2
        matrix = ((cam_of_comp >= cams - half) & (cam_of_comp < cams + half)).astype(np.float64)
        self.register_buffer("matrix", torch.as_tensor(matrix, dtype=dtype), persistent=False)

    def forward(self, intensity: torch.Tensor) -> torch.Tensor:
        return 10 * torch.log10(intensity @ self.matrix)


def erb_integration(intensity: torch.Tensor, component_freqs_hz, cams, bandwidth_scale: float = 1.0) -> torch.Tensor:
    """Input level per ERB at the band centres (pure form of :class:`ERBIntegration`).

    Parameters
    ----------
    intensity : Tensor, (20 uPa)^2
        ``(..., F)`` component intensities, e.g. ``(B, K, F)``.
    component_freqs_hz : array_like, Hz
        ``(F,)`` component frequencies.
    cams : array_like, Cam
        ``(Z,)`` band centres.
    bandwidth_scale : float, ERB
        Width of the summing window, in (0, 10] (1).

    Returns
    -------
    Tensor
        ``(..., Z)``, dB SPL; ``-inf`` in bands without a component.

    See Also
    --------
    ERBIntegration : the stage (summing matrix built once).

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342 (Eq. 3).

    Examples
    --------
    >>> erb_integration(torch.tensor([1e6], dtype=torch.float64), [1000.0], [15.6])  # 60 dB SPL at 1 kHz
    tensor([60.], dtype=torch.float64)
    """
    return ERBIntegration(component_freqs_hz, cams, bandwidth_scale, intensity.dtype).to(intensity.device)(intensity)
