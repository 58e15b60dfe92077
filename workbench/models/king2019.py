"""King, Varnet & Lorenzi (2019) modulation model, as AMT 1.4 ``king2019``.

Stages: gammatone filterbank (1-ERB spaced, all-pole complex, AMT ``auditoryfilterbank``)
-> broken-stick (or power-law) compression -> IHC envelope ('king2019': half-wave
rectification + 1st-order 1 kHz lowpass) -> "adaptation" as a Butterworth high-pass (3 Hz,
order 1) -> optional 1st-order 150 Hz lowpass -> King2019 modulation filterbank (2nd-order
Butterworth band-passes, Q = 1, 2-150 Hz; Hilbert envelope above 10 Hz) -> optional FFT
resampling to ``subfs``.

Calibration: amplitude 1 = ``dboffset`` dB SPL (default 100, AMT's documented convention;
AMT's code default is 93.98 = Pa). The compression knee is in dB SPL re that calibration.

Differences from AMT, on purpose: the modulation band-passes run as float64 second-order
sections (AMT's 4th-order direct form is ill-conditioned at audio rates: 3.6 % error in its
2 Hz band at 44.1 kHz, unstable in float32), and ``subfs`` defaults to None (keep ``fs``;
AMT's default is 16 kHz).
"""

from __future__ import annotations

import math

import torch

from workbench._validation import (
    MAX_FILTER_ORDER,
    check_bool,
    check_choice,
    check_int,
    check_kwargs,
    check_positive,
    check_range,
)
from workbench.models.base import AuditoryModel, StageInfo, amt_unit
from workbench.models.dau1997 import GAMMATONE_ALIASES
from workbench.stages.adaptation import HighpassAdaptation
from workbench.stages.compression import Compression
from workbench.stages.erb import erbspacebw
from workbench.stages.gammatone import GammatoneFilterbank
from workbench.stages.ihc import IHCEnvelope
from workbench.stages.modulation import King2019ModulationFilterbank
from workbench.stages.resample import resample_fft, resampled_length
from workbench.units import erb_number_to_hz, hz_to_erb_number


def basef_range(basef: float) -> tuple[float, float]:
    """AMT's analysis range around a base frequency: 2 ERB below and above it.

    Parameters
    ----------
    basef : float, Hz
        Base frequency (King2019's ``basef``).

    Returns
    -------
    (int, int)
        ``(flow, fhigh)``, Hz: ``basef -/+ 2`` ERB numbers, floored and ceiled to whole Hz;
        the 1-ERB grid between them has 5 channels.

    References
    ----------
    King et al. (2019); AMT 1.4 ``king2019`` (the ``basef`` option).

    Examples
    --------
    >>> basef_range(1000.0)
    (761, 1297)
    """
    erb = float(hz_to_erb_number(basef))
    return (math.floor(float(erb_number_to_hz(erb - 2))), math.ceil(float(erb_number_to_hz(erb + 2))))


class King2019(AuditoryModel):
    """King et al. (2019) model; see the module docstring and the spec's ``King2019`` section.

    Parameters
    ----------
    fs : float, Hz
    flow, fhigh : float, Hz
        Range of the 1-ERB channel grid; ``basef`` (Hz) overrides them with AMT's
        basef -/+ 2 ERB (5 channels).
    compression_type, compression_n, compression_knee_db
        :class:`~workbench.stages.compression.Compression` ('brokenstick' or 'power'; the
        exponent, one per channel allowed; the knee in dB SPL).
    dboffset : float, dB SPL
        Calibration: an rms of 1 is ``dboffset`` dB SPL (100).
    adt_hp_fc, adt_hp_order
        Cutoff (Hz) and order of the high-pass "adaptation".
    mflow, mfhigh, modbank_nmod, modbank_qfactor, lp_150hz
        :class:`~workbench.stages.modulation.King2019ModulationFilterbank` settings.
    subfs : float, Hz, optional
        Output rate (FFT resampling; None keeps ``fs``).
    learnable : bool
        Gammatone centre frequencies and bandwidths, compression exponent, IHC cutoff,
        high-pass cutoff and modulation centre frequencies become parameters.
    return_stages : bool
    dtype : torch.dtype
    filterbank_kwargs, compression_kwargs, ihc_kwargs, adaptation_kwargs, modulation_kwargs : dict
        Stage settings: ``order`` (spec ``n``), ``bandwidth_factor`` (``betamul``); ``n``,
        ``knee_db``; ``cutoff_hz``, ``filter_order``; ``cutoff_hz`` (spec ``fc``), ``order``;
        ``phase_insens_cut`` (Hz, 10; None = no envelope).

    Returns
    -------
    Tensor
        ``forward(x)``, ``x`` ``(B, T)`` or ``(T,)`` in full scale at ``dboffset``:
        ``(B, T', C, M)``, ``T' = round(T subfs / fs)`` with ``subfs``; with ``return_stages``
        also the stage dict (:attr:`stage_info`).

    References
    ----------
    King, Varnet & Lorenzi (2019), J. Acoust. Soc. Am. 145, 2277-2293; AMT 1.4 ``king2019``.

    Examples
    --------
    >>> model = King2019(16000, basef=1000.0)
    >>> model(torch.zeros(1, 1600)).shape
    torch.Size([1, 1600, 5, 5])
    """

    input_unit = "amt"

    def __init__(
        self,
        fs,
        flow=80.0,
        fhigh=8000.0,
        basef=None,
        compression_type="brokenstick",
        compression_n=0.3,
        compression_knee_db=30.0,
        dboffset=100.0,
        adt_hp_fc=3.0,
        adt_hp_order=1,
        mflow=2.0,
        mfhigh=150.0,
        modbank_nmod=None,
        modbank_qfactor=1.0,
        lp_150hz=False,
        subfs=None,
        learnable=False,
        return_stages=False,
        dtype=torch.float32,
        filterbank_kwargs=None,
        compression_kwargs=None,
        ihc_kwargs=None,
        adaptation_kwargs=None,
        modulation_kwargs=None,
    ):
        super().__init__()
        self.fs = fs = self._check_settings(fs, learnable, return_stages, dtype)
        learnable, dtype = self.learnable, self.dtype
        flow, fhigh = check_positive(flow, "flow"), check_positive(fhigh, "fhigh")  # checked even if basef rules
        if basef is not None:
            basef = check_positive(basef, "basef")
            if basef >= fs / 2:
                raise ValueError(f"basef must lie in (0, fs/2 = {fs / 2:g}) Hz, got {basef:g}")
            flow, fhigh = basef_range(basef)
            if flow < 1:
                raise ValueError(
                    f"basef must be at least {float(erb_number_to_hz(2.0)) + 1:.0f} Hz: the analysis "
                    f"range starts 2 ERB below it (basef - 2 ERB = {flow:g} Hz), got {basef:g}"
                )
            # not in AMT: keep basef + 2 ERB 0.1 % below Nyquist, where the gammatone
            # filterbank needs every centre frequency (fc < fs/2)
            fhigh = min(fhigh, fs / 2 * 0.999)
        flow, fhigh = check_positive(flow, "flow"), check_positive(fhigh, "fhigh")
        if not flow < fhigh <= fs / 2:
            raise ValueError(f"need 0 < flow < fhigh <= fs/2 = {fs / 2:g} Hz, got flow={flow:g}, fhigh={fhigh:g}")
        if subfs is not None:
            subfs = check_positive(subfs, "subfs")
            if subfs > fs:
                raise ValueError(f"subfs must be <= fs = {fs:g} Hz (downsampling only), got {subfs:g}")
        check_choice(compression_type, ("brokenstick", "power"), "compression_type")
        self.flow, self.fhigh, self.basef, self.subfs = flow, fhigh, basef, subfs
        self.dboffset = check_range(dboffset, "dboffset (dB SPL of an rms of 1)", 0.0, 200.0, open_low=True)
        self.compression_type = compression_type
        check_bool(lp_150hz, "lp_150hz")
        common = dict(learnable=learnable, dtype=dtype)

        fb_kw = check_kwargs(filterbank_kwargs, ("order", "bandwidth_factor"), "filterbank_kwargs", GAMMATONE_ALIASES)
        fc = erbspacebw(flow, fhigh, 1.0, basef)
        self.filterbank = GammatoneFilterbank(fs, fc, **{**common, **fb_kw})
        comp_kw = {
            "n": compression_n,
            "knee_db": compression_knee_db,
            **check_kwargs(compression_kwargs, ("n", "knee_db"), "compression_kwargs"),
        }
        self.compression = Compression(compression_type, dboffset=dboffset, **comp_kw, **common)
        if self.compression.n.numel() not in (1, self.filterbank.num_channels):
            raise ValueError(
                f"compression_n must be one number or one per channel ({self.filterbank.num_channels} "
                f"channels), got {self.compression.n.numel()} values"
            )
        ihc_kw = check_kwargs(ihc_kwargs, ("cutoff_hz", "filter_order"), "ihc_kwargs")
        self.ihc = IHCEnvelope(fs, "king2019", **{**common, **ihc_kw})
        given = check_kwargs(
            adaptation_kwargs, HighpassAdaptation.KWARGS, "adaptation_kwargs", HighpassAdaptation.ALIASES
        )
        adt_kw = {"cutoff_hz": adt_hp_fc, "order": adt_hp_order, **given}
        name = lambda key, arg: f"adaptation_kwargs['{key}']" if key in given else arg  # noqa: E731
        cutoff = check_positive(adt_kw["cutoff_hz"], name("cutoff_hz", "adt_hp_fc"))
        if cutoff >= fs / 2:
            raise ValueError(
                f"{name('cutoff_hz', 'adt_hp_fc')} (high-pass cutoff) must lie in (0, fs/2 = "
                f"{fs / 2:g}) Hz, got {cutoff:g}"
            )
        adt_kw["order"] = check_int(adt_kw["order"], name("order", "adt_hp_order"), 1, MAX_FILTER_ORDER)
        self.adaptation_filter = HighpassAdaptation(fs, **adt_kw, learnable=learnable)
        mod_kw = check_kwargs(modulation_kwargs, ("phase_insens_cut",), "modulation_kwargs")
        self.modulation_filterbank = King2019ModulationFilterbank(
            fs, mflow, mfhigh, modbank_nmod, modbank_qfactor, lp_150hz, **mod_kw, **common
        )

    @property
    def center_freqs_hz(self) -> torch.Tensor:
        return self.filterbank.center_freqs_hz.detach()

    @property
    def mfc(self) -> torch.Tensor:
        return self.modulation_filterbank.mfc.detach()

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        fs, unit = self.fs, amt_unit(self.dboffset)
        return {
            "gtone_response": StageInfo("gammatone filterbank output", unit, "BCT", fs, self.filterbank.about),
            "compressed_response": StageInfo("compressed filterbank output", unit, "BCT", fs, self.compression.about),
            "ihc": StageInfo("inner-hair-cell envelope", unit, "BCT", fs, self.ihc.about),
            "adapted_response": StageInfo(
                "high-passed envelope (adaptation)", unit, "BCT", fs, self.adaptation_filter.about
            ),
            "output": StageInfo(
                "modulation filterbank output", unit, "BCMT", self.subfs or fs, self.modulation_filterbank.about
            ),
        }

    def _run(self, x: torch.Tensor):
        stages = {"gtone_response": self.filterbank(x.to(self.dtype))}
        stages["compressed_response"] = self.compression(stages["gtone_response"])
        stages["ihc"] = self.ihc(stages["compressed_response"])
        stages["adapted_response"] = self.adaptation_filter(stages["ihc"])
        out = self.modulation_filterbank(stages["adapted_response"])  # (B, C, M, T)
        if self.subfs is not None and self.subfs != self.fs:
            out = resample_fft(out, resampled_length(out.shape[-1], self.fs, self.subfs))
        return out.permute(0, 3, 1, 2), stages

    def to_representation(self, output):
        return super().to_representation(output.permute(0, 2, 3, 1))  # (B, T, C, M) -> (B, C, M, T)

    def extra_repr(self) -> str:
        return (
            f"fs={self.fs:g}, channels={self.num_channels} ({float(self.fc[0]):.0f}-"
            f"{float(self.fc[-1]):.0f} Hz), compression={self.compression_type}, "
            f"n_mod={self.mfc.numel()}, subfs={self.subfs}"
        )
