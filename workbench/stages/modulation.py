"""Modulation filterbanks (AMT modfilterbank / jepsen2008; King2019).

AMT ``modfilterbank`` (Dau et al. 1997a; Verhey et al. 1999; Jepsen et al. 2008) applied to
each auditory channel ``(batch, channel, time)``:

* optional 1st-order Butterworth 150 Hz low-pass in front of the bank (``lowpass_150_hz``);
* channel 0: 2nd-order Butterworth 2.5 Hz low-pass (mfc = 0), real output;
* band-passes at 5, 10 Hz (5 Hz bandwidth), then ``Q``-spaced above 10 Hz: mfc_k =
  16.67 * (5/3)^k for Q = 2, up to ``min(0.25 fc, max_mfc)`` per auditory channel (so the
  number of filters varies with fc), each a complex frequency-shifted 1st-order low-pass
  ('efilt': pole ``exp(-bw/2) exp(i w0)``, gain ``1 - exp(-bw/2)``, unit gain at mfc)
  whose output carries AMT's gain of 2;
* post-processing (``phase_insensitive``): mfc <= 10 Hz (10 included) -> real part;
  mfc > 10 Hz -> magnitude (the Hilbert envelope), times 1/sqrt(2) with ``attenuation``.

The complex coefficients are essential: with their real parts only each band-pass would
turn into a low-pass. ``filter_type='butterworth'`` (not in AMT) replaces every efilt by a
real 2nd-order Butterworth band-pass with the same centre and bandwidth (unit gain at mfc);
its envelope above 10 Hz is taken from the FFT analytic signal.

References
----------
Dau, Kollmeier & Kohlrausch (1997), J. Acoust. Soc. Am. 102, 2892-2905.
Verhey, Dau & Kollmeier (1999), J. Acoust. Soc. Am. 106, 2733-2745.
Jepsen, Ewert & Dau (2008), J. Acoust. Soc. Am. 124, 422-438.
King, Varnet & Lorenzi (2019), J. Acoust. Soc. Am. 145, 2277-2293.
AMT ``modfilterbank`` and 1.4 ``king2019_modfilterbank``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from workbench._validation import check_bool, check_choice, check_fs, check_int, check_positive
from workbench.dsp import hilbert_envelope
from workbench.kernels.envelope import scaled_envelope_
from workbench.kernels.iir import sosfilt
from workbench.kernels.modfilter import modulation_bandpass_bank
from workbench.stages.filters import butter

MAX_MOD_FILTERS = 1000
MAX_Q = 50.0  # 50: ~230 filters per channel from 10 to 1000 Hz (AMT's Q is 2: 12)
# AMT arg_modfilterbank flag groups: (upper limit at fc/4, 150 Hz low-pass, 1/sqrt(2)).
MODFILTERBANK_PRESETS = {
    "jepsen2008": (True, True, True),
    "dau1997": (False, False, False),
    "verhey1999": (True, False, False),
}


def modulation_center_freqs(
    fc_hz: float, q: float = 2.0, max_mfc: float = 1000.0, upper_limit: bool = True
) -> list[float]:
    """AMT's modulation centre frequencies for one auditory channel, 0 (the low-pass) first.

    5 and 10 Hz (5 Hz wide), then Q-spaced above 10 Hz (``16.67 (5/3)^k`` for Q = 2) up to the
    top mfc.

    Parameters
    ----------
    fc_hz : float, Hz
        Centre frequency of the auditory channel.
    q : float
        Quality factor of the band-passes above 10 Hz (2).
    max_mfc : float, Hz
        Cap of the highest mfc (1000).
    upper_limit : bool
        The top mfc is ``min(0.25 fc_hz, max_mfc)`` (else ``max_mfc``).

    Returns
    -------
    list of float
        The channel's ``M_i`` modulation centre frequencies, Hz, increasing.

    References
    ----------
    Dau et al. (1997); Verhey et al. (1999); Jepsen et al. (2008); AMT ``modfilterbank`` (its
    centre frequencies).

    Examples
    --------
    >>> [round(f, 1) for f in modulation_center_freqs(500.0)]  # top mfc 125 Hz
    [0.0, 5.0, 10.0, 16.7, 27.8, 46.3, 77.2]
    """
    top = min(0.25 * fc_hz, max_mfc) if upper_limit else max_mfc
    bw, start = 5.0, 5.0
    ratio = (1 + 1 / (2 * q)) / (1 - 1 / (2 * q))
    n_low = max(0, math.trunc((min(top, 10.0) - start) / bw))  # MATLAB fix(): toward zero; 5 Hz always
    low = [start + 5.0 * k for k in range(n_low + 1)]
    first_q = (low[-1] + bw / 2) / (1 - 1 / (2 * q))
    n_high = math.trunc(math.log(top / first_q) / math.log(ratio))
    return [0.0] + low + [first_q * ratio**k for k in range(n_high + 1)]


class ModulationFilterbank(nn.Module):
    """AMT ``modfilterbank`` with the jepsen2008 options that AMT's dau1997 uses by default.

    Parameters
    ----------
    fs : float, Hz
    center_freqs_hz : (C,) Hz
        Auditory-channel centre frequencies; they set each channel's top mfc.
    Q : float
        Quality factor of the band-passes above 10 Hz (AMT ``Q_mfb``, 2).
    max_mfc : float, Hz
        Cap of the highest mfc (AMT ``mfc_upper_limit_max``, 1000 Hz; the torch_amt spec's
        150 Hz default is not AMT's).
    preset : {'jepsen2008', 'dau1997', 'verhey1999'}
        AMT flag groups; the three flags below override it when given.
    upper_limit : bool
        Top mfc ``min(0.25 fc, max_mfc)`` (else ``max_mfc`` for every channel).
    lowpass_150_hz : bool
        1st-order 150 Hz low-pass before the bank.
    attenuation : bool
        Multiply envelopes above 10 Hz by 1/sqrt(2).
    phase_insensitive : bool
        Real part <= 10 Hz, envelope above (else the real band-pass outputs).
    filter_type : {'efilt', 'butterworth'}
    learnable : bool
        Centre frequencies and bandwidths of the band-passes and the two low-pass cutoffs
        become ``nn.Parameter`` (shared by all auditory channels).
    dtype : torch.dtype

    Returns
    -------
    list of Tensor
        ``forward(x)``: ``(B, C, T)`` -> ``C`` tensors ``(B, M_i, T)``, the 2.5 Hz low-pass
        first (mfc in ``mfc_per_channel``), in the input's units.

    References
    ----------
    Dau et al. (1997); Jepsen et al. (2008) (the module docstring has the full references).

    Examples
    --------
    >>> bank = ModulationFilterbank(16000, [500.0, 4000.0])
    >>> [o.shape[1] for o in bank(torch.zeros(1, 2, 1600))]
    [7, 12]
    """

    about = "Each channel's envelope split into modulation-frequency bands."
    KWARGS = (
        "Q",
        "max_mfc",
        "filter_type",
        "preset",
        "upper_limit",
        "lowpass_150_hz",
        "attenuation",
        "phase_insensitive",
    )

    def __init__(
        self,
        fs: float,
        center_freqs_hz,
        Q: float = 2.0,
        max_mfc: float = 1000.0,
        preset: str = "jepsen2008",
        upper_limit: bool | None = None,
        lowpass_150_hz: bool | None = None,
        attenuation: bool | None = None,
        phase_insensitive: bool = True,
        filter_type: str = "efilt",
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.fs = check_fs(fs)
        check_choice(preset, tuple(MODFILTERBANK_PRESETS), "preset")
        self.filter_type = check_choice(filter_type, ("efilt", "butterworth"), "filter_type")
        Q = check_positive(Q, "Q")
        if not 0.5 < Q <= MAX_Q:  # Q bounds the number of filters: ~ Q ln(max_mfc / 10 Hz)
            raise ValueError(f"Q must be finite and > 0.5 (at most {MAX_Q:g}), got {Q:g}")
        max_mfc = check_positive(max_mfc, "max_mfc")
        if not max_mfc < self.fs / 2:
            raise ValueError(f"max_mfc must lie in (0, fs/2 = {self.fs / 2:g}) Hz, got {max_mfc:g}")
        defaults = MODFILTERBANK_PRESETS[preset]
        flag = lambda value, name, default: default if value is None else check_bool(value, name)  # noqa: E731
        self.upper_limit = flag(upper_limit, "upper_limit", defaults[0])
        self.lowpass_150_hz = flag(lowpass_150_hz, "lowpass_150_hz", defaults[1])
        self.attenuation = flag(attenuation, "attenuation", defaults[2])
        self.phase_insensitive = check_bool(phase_insensitive, "phase_insensitive")
        self.Q = float(Q)
        fc = torch.as_tensor(center_freqs_hz, dtype=torch.float64).reshape(-1)
        self.mfc_per_channel = [
            torch.tensor(modulation_center_freqs(float(f), Q, max_mfc, self.upper_limit), dtype=torch.float64)
            for f in fc
        ]
        longest = max(self.mfc_per_channel, key=len)
        band_mfc = longest[1:]
        band_bw = torch.where(band_mfc < 10, torch.full_like(band_mfc, 5.0), band_mfc / Q)
        # Which band-pass (index into band_mfc) feeds which auditory channel, flattened.
        chan, band = [], []
        for c, m in enumerate(self.mfc_per_channel):
            chan += [c] * (len(m) - 1)
            band += list(range(len(m) - 1))
        self.register_buffer("_row_channel", torch.tensor(chan, dtype=torch.long), persistent=False)
        self.register_buffer("_row_band", torch.tensor(band, dtype=torch.long), persistent=False)
        self._band_is_envelope = [float(m) > 10 for m in band_mfc]
        self._row_is_envelope = [self._band_is_envelope[k] for k in band]
        params = {
            "mfc_hz": band_mfc,
            "bandwidth_hz": band_bw,
            "lowpass_cutoff_hz": torch.tensor(2.5, dtype=torch.float64),
            "prefilter_cutoff_hz": torch.tensor(150.0, dtype=torch.float64),
        }
        for name, value in params.items():
            if learnable:
                setattr(self, name, nn.Parameter(value.to(dtype)))
            else:
                self.register_buffer(name, value.to(dtype))
        self.learnable = bool(learnable)
        # Output layout (host-side tables, fixed at construction) and its device copies.
        counts = self.num_mod_channels
        self._lp_rows = np.cumsum([0] + counts[:-1])
        self._band_rows = np.setdiff1d(np.arange(sum(counts)), self._lp_rows)
        self._row_channel_np, self._row_band_np = np.array(chan, dtype=np.int64), np.array(band, dtype=np.int64)
        envelope = np.array(self._band_is_envelope, dtype=bool) & self.phase_insensitive
        self._band_factor, self._band_mode = np.where(envelope, self._gain, 1.0), envelope.astype(np.int64)
        for name, rows in (("_lp_rows_t", self._lp_rows), ("_band_rows_t", self._band_rows)):
            self.register_buffer(name, torch.as_tensor(rows, dtype=torch.long), persistent=False)
        self.register_buffer(
            "_row_envelope", torch.tensor(self._row_is_envelope, dtype=torch.bool)[:, None], persistent=False
        )
        # Fixed filters are designed once here; learnable ones in forward (gradients reach them).
        for name, sos in self._designs(dtype).items():
            self.register_buffer(name, None if learnable else sos, persistent=False)

    def _designs(self, dtype) -> dict:
        """Second-order sections of the 150 Hz prefilter (model dtype), the 2.5 Hz low-pass
        (float64: its poles sit ~3e-4 inside the unit circle, where float32 direct-form
        coefficients move them far off) and, for 'butterworth', the band-passes (float64)."""
        designs = {
            "_prefilter_sos": butter(1, self.prefilter_cutoff_hz.to(dtype), self.fs, dtype=dtype),
            "_lowpass_sos": butter(2, self.lowpass_cutoff_hz.double(), self.fs),
        }
        if self.filter_type == "butterworth":
            mfc, bw = self.mfc_hz.double(), self.bandwidth_hz.double()
            low = torch.sqrt(bw * bw / 4 + mfc * mfc) - bw / 2  # edges with geometric centre mfc
            designs["_band_sos"] = butter(1, torch.stack([low, low + bw], -1), self.fs, "bandpass")
        else:
            designs["_band_sos"] = None
        return designs

    def _sos(self, name: str, dtype) -> torch.Tensor:
        fixed = getattr(self, name)
        return fixed if fixed is not None else self._designs(dtype)[name]

    @property
    def mfc(self) -> torch.Tensor:
        """Modulation centre frequencies of the channel with the most filters (AMT's ``mfc``)."""
        return max(self.mfc_per_channel, key=len)

    @property
    def num_mod_channels(self) -> list[int]:
        return [len(m) for m in self.mfc_per_channel]

    def efilt_poles(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Band-pass poles ``rho e^{i theta}`` and gains of AMT's efilt (including its x2), in
        float64 (1 - rho is ~4e-4: float32 would cost 1e-4 relative accuracy): ``(rho,
        theta, gain)``, each ``(n_bands,)`` in the order of ``mfc_hz``; band k is
        ``y[t] = gain[k] x[t] + rho[k] e^{i theta[k]} y[t-1]`` (complex)."""
        rho = torch.exp(-math.pi * self.bandwidth_hz.double() / self.fs)  # exp(-bw_rad / 2)
        theta = 2 * math.pi * self.mfc_hz.double() / self.fs
        return rho, theta, 2 * (1 - rho)

    def _butterworth_bands(self, x: torch.Tensor) -> torch.Tensor:
        """Real Butterworth band-pass outputs (unit gain at mfc), post-processed, rows x time."""
        sos = self._sos("_band_sos", x.dtype)  # (n_bands, 1, 6)
        bands = sosfilt(sos[self._row_band], x.double().index_select(1, self._row_channel)).to(x.dtype)
        if not self.phase_insensitive or not any(self._row_is_envelope):
            return bands
        return torch.where(self._row_envelope, self._gain * hilbert_envelope(bands), bands)

    @property
    def _gain(self) -> float:
        return 1 / math.sqrt(2) if self.attenuation else 1.0

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 3 or x.shape[1] != len(self.mfc_per_channel):
            raise ValueError(f"x must be (batch, {len(self.mfc_per_channel)}, time), got {tuple(x.shape)}")
        dtype = x.dtype
        if self.lowpass_150_hz:
            x = sosfilt(self._sos("_prefilter_sos", dtype).to(dtype), x)
        lowpassed = sosfilt(self._sos("_lowpass_sos", dtype), x.double()).to(dtype)
        counts = self.num_mod_channels
        if self.filter_type == "efilt":
            rho, theta, gain = self.efilt_poles()
            if not self.phase_insensitive:
                gain = gain / 2  # AMT returns the plain band-pass outputs (x2 undone)
            out = modulation_bandpass_bank(
                x,
                lowpassed,
                rho,
                theta,
                gain,
                self._row_channel_np,
                self._row_band_np,
                self._band_rows,
                self._lp_rows,
                self._band_factor,
                self._band_mode,
                sum(counts),
            )
        else:
            out = x.new_zeros(x.shape[0], sum(counts), x.shape[2])
            out = out.index_copy(1, self._band_rows_t, self._butterworth_bands(x))
            out = out.index_copy(1, self._lp_rows_t, lowpassed)
        return list(out.split(counts, dim=1))

    def extra_repr(self) -> str:
        return (
            f"fs={self.fs:g}, Q={self.Q:g}, filter_type={self.filter_type!r}, "
            f"upper_limit={self.upper_limit}, lowpass_150_hz={self.lowpass_150_hz}, "
            f"attenuation={self.attenuation}"
        )


def modulation_filterbank(x: torch.Tensor, fs: float, center_freqs_hz, **kwargs) -> list[torch.Tensor]:
    """AMT's modulation filterbank as a function (pure form of :class:`ModulationFilterbank`;
    the filters are designed on each call).

    Parameters
    ----------
    x : Tensor
        Envelopes ``(B, C, T)``, e.g. the adaptation output in MU.
    fs : float, Hz
    center_freqs_hz : array_like, Hz
        ``(C,)`` centre frequencies of the auditory channels (they set each channel's top mfc).
    **kwargs
        ``Q``, ``max_mfc``, ``preset``, ``upper_limit``, ``lowpass_150_hz``, ``attenuation``,
        ``phase_insensitive``, ``filter_type``, ``learnable`` of :class:`ModulationFilterbank`.

    Returns
    -------
    list of Tensor
        ``C`` tensors ``(B, M_i, T)``, the 2.5 Hz low-pass first, the input's units.

    See Also
    --------
    ModulationFilterbank : the stage (filters designed once; ``mfc_per_channel``).

    References
    ----------
    Dau et al. (1997); Verhey et al. (1999); Jepsen et al. (2008); AMT ``modfilterbank``.

    Examples
    --------
    >>> out = modulation_filterbank(torch.zeros(1, 2, 800), 16000, [500.0, 1000.0])
    >>> [o.shape for o in out]
    [torch.Size([1, 7, 800]), torch.Size([1, 9, 800])]
    """
    return ModulationFilterbank(fs, center_freqs_hz, dtype=x.dtype, **kwargs).to(x.device)(x)


# =========================================================================== King et al. (2019)
# AMT 1.4 ``king2019_modfilterbank``: 2nd-order Butterworth band-passes (Q = 1 by default,
# log-spaced mfc), run here as two second-order sections each, in float64: AMT's single 4th-order
# direct-form filter is ill-conditioned at audio rates (its 2 Hz band is 3.6 % off the exact
# response at 44.1 kHz, and unstable in float32). Above ``phase_insens_cut`` Hz the output is
# replaced by its Hilbert envelope scaled to the band's rms (AMT's phase insensitivity).


def king2019_mfc(
    mflow: float = 2.0, mfhigh: float = 150.0, n_mod: int | None = None, q_factor: float = 1.0
) -> torch.Tensor:
    """King et al.'s modulation centre frequencies: log-spaced from ``mflow``.

    Without ``n_mod`` the ratio between neighbours is ``(sqrt(4Q^2+1)+1)/(sqrt(4Q^2+1)-1)``
    (adjacent filters meet at their -3 dB edges) and the last mfc is the largest <= ``mfhigh``
    (2, 5.24, 13.7, 35.9, 94.0 Hz for Q = 1); with ``n_mod``, ``n_mod`` values from ``mflow``
    to ``mfhigh`` inclusive.

    Parameters
    ----------
    mflow : float, Hz
        Lowest mfc, >= 0.1 Hz (2).
    mfhigh : float, Hz
        Upper limit, above ``mflow`` (150).
    n_mod : int, optional
        Number of filters (AMT ``modbank_nmod``).
    q_factor : float
        Quality factor in [0.1, 50] (AMT ``modbank_qfactor``, 1).

    Returns
    -------
    Tensor
        ``(M,)`` float64 centre frequencies, Hz.

    References
    ----------
    King et al. (2019); AMT 1.4 ``king2019_modfilterbank`` (its centre frequencies).

    Examples
    --------
    >>> king2019_mfc(n_mod=3)
    tensor([  2.0000,  17.3205, 150.0000], dtype=torch.float64)
    """
    mflow, mfhigh = check_positive(mflow, "mflow"), check_positive(mfhigh, "mfhigh")
    q_factor = check_positive(q_factor, "modbank_qfactor")
    if not 0.1 <= q_factor <= MAX_Q:
        raise ValueError(f"modbank_qfactor must lie in [0.1, {MAX_Q:g}], got {q_factor:g}")
    if mflow < 0.1:  # the band-passes would sit closer to DC than float64 designs resolve
        raise ValueError(f"mflow must be >= 0.1 Hz, got {mflow:g}")
    if mflow >= mfhigh:
        raise ValueError(f"mflow must be below mfhigh ({mfhigh:g} Hz), got {mflow:g}")
    lo, hi = math.log(mflow), math.log(mfhigh)
    if n_mod is None:
        r = math.sqrt(4 * q_factor**2 + 1)
        step = math.log((r + 1) / (r - 1))
        # MATLAB colon lo:step:hi (with its tolerance on the last point).
        n = int(math.floor((hi - lo) / step + 1e-10)) + 1
        if n > MAX_MOD_FILTERS:
            raise ValueError(
                f"mflow = {mflow:g} to mfhigh = {mfhigh:g} Hz at modbank_qfactor = {q_factor:g} gives "
                f"{n} filters, more than {MAX_MOD_FILTERS}: narrow the range or lower the Q"
            )
        logs = lo + step * torch.arange(n, dtype=torch.float64)
    else:
        n_mod = check_int(n_mod, "modbank_nmod (an integer or None)", 1, MAX_MOD_FILTERS)
        logs = torch.linspace(lo, hi, n_mod, dtype=torch.float64)
    return torch.exp(logs)


def king2019_modfilterbank(
    x: torch.Tensor, sos: torch.Tensor, mfc, phase_insens_cut: float | None = 10.0
) -> torch.Tensor:
    """King et al.'s modulation filterbank on designed sections (pure form of
    :class:`King2019ModulationFilterbank`).

    Bands with ``mfc > phase_insens_cut`` become ``|hilbert(y)| rms(y) / rms(|hilbert(y)|)``
    (factor 1 for silent bands, as AMT); ``None`` keeps every band's waveform. The recursion
    always runs in float64: poles ~1e-4 from the unit circle (2 Hz at 44.1 kHz) leave float32
    sections with errors of order one.

    Parameters
    ----------
    x : Tensor
        Envelopes ``(..., T)``, usually ``(B, C, T)``, any units.
    sos : Tensor
        ``(M, n, 6)`` band-pass sections (:attr:`King2019ModulationFilterbank.sos`).
    mfc : Tensor or array_like, Hz
        ``(M,)`` centre frequencies, ascending; read on the host.
    phase_insens_cut : float or None, Hz
        Above it a band's output is its scaled Hilbert envelope (10).

    Returns
    -------
    Tensor
        ``(..., M, T)``, the input's units and dtype.

    See Also
    --------
    King2019ModulationFilterbank : designs the sections (and the optional 150 Hz low-pass).

    References
    ----------
    King et al. (2019); AMT 1.4 ``king2019_modfilterbank``.

    Examples
    --------
    >>> bank = King2019ModulationFilterbank(8000)
    >>> king2019_modfilterbank(torch.zeros(1, 3, 800), bank.sos, bank.mfc).shape
    torch.Size([1, 3, 5, 800])
    """
    y = sosfilt(sos.double(), x.unsqueeze(-2), out_dtype=x.dtype)  # float64 recursion
    if phase_insens_cut is None:
        return y
    values = mfc.detach().cpu().tolist() if isinstance(mfc, torch.Tensor) else np.ravel(mfc).tolist()
    hi = [k for k, f in enumerate(values) if f > phase_insens_cut]
    if not hi:
        return y
    y_hi = y[..., hi[0] :, :]  # the mfc ascend: the envelope bands are the last ones
    if y.device.type == "cpu" and not (torch.is_grad_enabled() and y.requires_grad):
        # no gradient: the FFTs, then one fused pass (workbench.kernels.envelope), in place
        n = y.shape[-1]
        spec = torch.fft.rfft(y_hi)
        spec[..., 0] = 0
        if n % 2 == 0:
            spec[..., -1] = 0
        h = torch.fft.irfft(spec.mul_(-1j), n)
        y[..., hi[0] :, :] = scaled_envelope_(y_hi.contiguous(), h)  # works on contiguous rows
        return y
    env = hilbert_envelope(y_hi)
    tiny = torch.finfo(y.dtype).tiny
    rms = lambda v: v.pow(2).mean(-1, keepdim=True).clamp_min(tiny).sqrt()  # noqa: E731
    scale = rms(y_hi) / rms(env)  # -> 1 for silent bands, with finite gradients
    return torch.cat([y[..., : hi[0], :], env * scale], -2)


class King2019ModulationFilterbank(nn.Module):
    """King et al. (2019) modulation filterbank (AMT 1.4 ``king2019_modfilterbank``), the
    pure form :func:`king2019_modfilterbank`.

    Parameters
    ----------
    fs : float, Hz
    mflow, mfhigh : float, Hz
        Lowest and highest modulation centre frequency (:func:`king2019_mfc`).
    n_mod : int, optional
        Number of filters (None: spaced by ``q_factor``).
    q_factor : float
        Quality factor (1); band edges follow from it.
    lowpass_150_hz : bool
        1st-order 150 Hz Butterworth low-pass first (AMT default off; model arg ``lp_150hz``).
    phase_insens_cut : float or None, Hz
        Above it a band's output is its Hilbert envelope (10 Hz; None: never).
    learnable : bool
        The log centre frequencies become a parameter.
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: ``(B, C, T)`` -> ``(B, C, M, T)``; attributes ``mfc`` (Hz) and
        ``sos`` ``(M, 2, 6)``.

    References
    ----------
    King et al. (2019) (the module docstring has the full reference).

    Examples
    --------
    >>> bank = King2019ModulationFilterbank(8000)
    >>> bank(torch.zeros(1, 3, 800)).shape
    torch.Size([1, 3, 5, 800])
    """

    about = "Each channel's envelope split into log-spaced modulation bands (Q = 1)."

    def __init__(
        self,
        fs: float,
        mflow: float = 2.0,
        mfhigh: float = 150.0,
        n_mod: int | None = None,
        q_factor: float = 1.0,
        lowpass_150_hz: bool = False,
        phase_insens_cut: float | None = 10.0,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.fs = check_positive(fs, "fs")
        mfc = king2019_mfc(mflow, mfhigh, n_mod, q_factor)
        if float(mfc[-1]) * (math.sqrt(4 + 1 / q_factor**2) + 1 / q_factor) / 2 >= fs / 2:
            raise ValueError(f"mfhigh ({mfhigh:g} Hz) puts a band edge above fs/2 = {fs / 2:g} Hz")
        self.q_factor = float(q_factor)
        self.phase_insens_cut = (
            None
            if phase_insens_cut is None
            else check_positive(phase_insens_cut, "phase_insens_cut (Hz, or None)", allow_zero=True)
        )
        if check_bool(lowpass_150_hz, "lp_150hz (lowpass_150_hz)") and not 150.0 < self.fs / 2:
            raise ValueError(f"lp_150hz (the 150 Hz low-pass) needs fs > 300 Hz, got fs = {self.fs:g}")
        log_mfc = torch.log(mfc).to(dtype)
        if learnable:
            self.log_mfc = nn.Parameter(log_mfc)
        else:
            self.register_buffer("log_mfc", log_mfc)
        # which bands become envelopes is fixed at construction (host numbers, no device read)
        self._mfc_hz = mfc.tolist()
        self.register_buffer("lp_sos", butter(1, 150.0, self.fs, "low") if lowpass_150_hz else None)
        self.register_buffer("_fixed_sos", None if learnable else self._design(), persistent=False)

    @property
    def mfc(self) -> torch.Tensor:
        return self.log_mfc.exp()

    def _design(self) -> torch.Tensor:
        mfc, q = self.mfc.double(), self.q_factor
        centre = mfc * math.sqrt(4 + 1 / q**2) / 2  # edges centre -/+ mfc/(2Q), as AMT
        return butter(2, torch.stack([centre - mfc / (2 * q), centre + mfc / (2 * q)], -1), self.fs, "bandpass")

    @property
    def sos(self) -> torch.Tensor:
        """Sections ``(n_mod, 2, 6)``, float64, on the module's device (designed and run in
        double precision; designed once unless the centre frequencies are learnable)."""
        return self._fixed_sos if self._fixed_sos is not None else self._design()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lp_sos is not None:  # 1st-order 150 Hz lowpass (AMT 'LP_150_Hz'), float64
            x = sosfilt(self.lp_sos.double(), x, out_dtype=x.dtype)
        return king2019_modfilterbank(x, self.sos, self._mfc_hz, self.phase_insens_cut)

    def extra_repr(self) -> str:
        mfc = ", ".join(f"{f:.3g}" for f in self.mfc.tolist())
        return f"fs={self.fs:g}, mfc=[{mfc}], Q={self.q_factor:g}"
