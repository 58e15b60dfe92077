"""Dau, Kollmeier & Kohlrausch (1997) modulation-filterbank model, as AMT 1.4 ``dau1997``.

Stages (AMT defaults ``afb_dau1997``, ``ihc_dau1996``, ``adt_dau1997``, ``mfb_jepsen2008``):
1-ERB 4th-order all-pole complex gammatone filterbank (basef 1000 Hz: 30 channels, 107.7 ..
7469.7 Hz for 80..8000 Hz), half-wave rectification + 1st-order 1 kHz low-pass, five
adaptation loops (tau 5/50/129/253/500 ms, limit 10, floor 0 dB SPL), modulation filterbank
(150 Hz pre-low-pass, 2.5 Hz low-pass, band-passes up to min(fc/4, 1000 Hz), x2 gain,
envelope x 1/sqrt(2) above 10 Hz).

Calibration: input in AMT units with dboffset 100, i.e. an rms of 1 is 100 dB SPL
(``x = pressure_pa / 2``, up to the 20 uPa reference: 1 Pa rms = 93.98 dB SPL).

Where the torch_amt documentation (the API spec) differs, AMT wins: 30 channels (not 31)
for 80..8000 Hz (flow 50: 31, not 35; fhigh 16000: 36, not 39; the spec's "fully custom"
example: 29, not 43), the top modulation filter is min(fc/4, 1000 Hz) (not 150 Hz), and the
number of modulation filters grows with fc (4 at 107.7 Hz .. 12 above ~4 kHz), so the first
channel has 4 (not 13) and the last 12 (not 8). ``distribute_gradients`` is a no-op (the
modulation parameters are shared tensors), and the parameter count with ``learnable=True``
is 90, not 15234.
"""

from __future__ import annotations

import torch

from workbench._validation import check_frequency_range, check_kwargs, check_positive
from workbench.models.base import AuditoryModel, StageInfo, amt_unit
from workbench.stages.adaptation import AdaptLoop
from workbench.stages.erb import erbspacebw
from workbench.stages.gammatone import GammatoneFilterbank
from workbench.stages.ihc import IHCEnvelope
from workbench.stages.modulation import ModulationFilterbank

GAMMATONE_ALIASES = {"n": "order", "betamul": "bandwidth_factor"}  # the spec's spellings


class Dau1997(AuditoryModel):
    """Dau et al. (1997) auditory model (AMT ``dau1997``), batched and differentiable.

    Parameters
    ----------
    fs : float, Hz
    flow, fhigh : float, Hz
        Range of the auditory-filter centre frequencies (0 < flow < fhigh < fs/2).
    learnable : bool
        Gammatone centre frequencies and bandwidths, the IHC cutoff, the adaptation time
        constants and the modulation filters' centre frequencies, bandwidths and low-pass
        cutoffs become ``nn.Parameter``.
    return_stages : bool
        Also return ``{'filterbank', 'ihc', 'adaptation'}``, each ``(B, C, T)``.
    dtype : torch.dtype
        float32 or float64 (parameters and computation).
    filterbank_kwargs : dict
        ``order`` (spec ``n``, 4), ``bandwidth_factor`` (spec ``betamul``, ERB, 1.01859 for
        order 4), ``erb_scale`` (channel spacing in ERB, AMT ``bwmul``, 1), ``basef``
        (1000 Hz, a channel sits there; ``None`` or outside [flow, fhigh]: a centred grid).
    ihc_kwargs : dict
        :class:`~workbench.stages.ihc.IHCEnvelope` ``method``, ``cutoff_hz``, ``filter_order``.
    adaptation_kwargs : dict
        :class:`~workbench.stages.adaptation.AdaptLoop` ``tau_s`` (spec ``tau``), ``limit``,
        ``min_spl_db`` (spec ``minspl``, 0 dB SPL) or ``min_level``, ``preset``, ``backend``.
    modulation_kwargs : dict
        :class:`~workbench.stages.modulation.ModulationFilterbank` ``Q`` (2), ``max_mfc``
        (1000 Hz), ``filter_type``, ``preset`` ('jepsen2008'), ``upper_limit``,
        ``lowpass_150_hz``, ``attenuation``, ``phase_insensitive``.

    Returns
    -------
    list of Tensor
        ``forward(x)``, ``x`` ``(B, T)`` or ``(T,)`` in AMT full scale (module docstring):
        ``num_channels`` tensors ``(B, M_i, T)`` in MU (the adaptation output scale), M_i
        modulation filters of channel i, the 2.5 Hz low-pass first; with
        ``return_stages``, also the stage dict (:attr:`stage_info`). Attributes ``fc``
        ``(C,)`` Hz (float64), ``mfc``, ``mfc_per_channel`` (Hz).

    References
    ----------
    Dau, Kollmeier & Kohlrausch (1997), J. Acoust. Soc. Am. 102, 2892-2905; AMT 1.4 ``dau1997``.

    Examples
    --------
    >>> model = Dau1997(fs=16000, fhigh=4000)
    >>> out = model(torch.zeros(2, 1600))
    >>> len(out) == model.num_channels, out[0].shape
    (True, torch.Size([2, 4, 1600]))
    """

    input_unit, dboffset = "amt", 100.0

    def __init__(
        self,
        fs: float,
        flow: float = 80.0,
        fhigh: float = 8000.0,
        learnable: bool = False,
        return_stages: bool = False,
        dtype: torch.dtype = torch.float32,
        filterbank_kwargs: dict | None = None,
        ihc_kwargs: dict | None = None,
        adaptation_kwargs: dict | None = None,
        modulation_kwargs: dict | None = None,
    ):
        super().__init__()
        self.fs = self._check_settings(fs, learnable, return_stages, dtype)
        self.flow, self.fhigh = check_frequency_range(flow, fhigh, self.fs)
        fb = check_kwargs(
            filterbank_kwargs,
            ("order", "bandwidth_factor", "erb_scale", "basef"),
            "filterbank_kwargs",
            GAMMATONE_ALIASES,
        )
        ihc = check_kwargs(ihc_kwargs, ("method", "cutoff_hz", "filter_order"), "ihc_kwargs")
        adt = check_kwargs(adaptation_kwargs, AdaptLoop.KWARGS, "adaptation_kwargs", AdaptLoop.ALIASES)
        mfb = check_kwargs(modulation_kwargs, ModulationFilterbank.KWARGS, "modulation_kwargs")

        basef = fb.get("basef", 1000.0)
        if basef is not None:
            basef = check_positive(basef, "filterbank_kwargs['basef'] (Hz, or None)")
            if not self.flow <= basef <= self.fhigh:
                basef = None  # AMT requires flow <= basef <= fhigh; fall back to a centred grid
        spacing = check_positive(fb.get("erb_scale", 1.0), "filterbank_kwargs['erb_scale']")
        fc = erbspacebw(self.flow, self.fhigh, spacing, basef, bw_name="filterbank_kwargs['erb_scale']")
        common = dict(learnable=learnable, dtype=dtype)
        self.filterbank = GammatoneFilterbank(
            self.fs, fc, order=fb.get("order", 4), bandwidth_factor=fb.get("bandwidth_factor"), **common
        )
        self.ihc = IHCEnvelope(self.fs, **ihc, **common)
        self.adaptation = AdaptLoop(self.fs, **adt, **common)
        self.modulation = ModulationFilterbank(self.fs, fc, **mfb, **common)
        self.register_buffer("center_freqs_hz", fc.to(torch.float64), persistent=False)

    @property
    def mfc(self) -> torch.Tensor:
        """Modulation centre frequencies (Hz) of the channel with the most filters (AMT's mfc)."""
        return self.modulation.mfc

    @property
    def mfc_per_channel(self) -> list[torch.Tensor]:
        """Modulation centre frequencies (Hz) of each auditory channel, 0 (the low-pass) first."""
        return self.modulation.mfc_per_channel

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        fs, unit = self.fs, amt_unit(self.dboffset)
        return {
            "filterbank": StageInfo("gammatone filterbank output", unit, "BCT", fs, self.filterbank.about),
            "ihc": StageInfo("inner-hair-cell envelope", unit, "BCT", fs, self.ihc.about),
            "adaptation": StageInfo(
                "adapted envelope (adaptation loops)", "MU", "BCT", fs, self.adaptation.about + " MU: model units."
            ),
            "output": StageInfo("modulation filterbank output", "MU", "BCMT", fs, self.modulation.about),
        }

    def _run(self, x: torch.Tensor):
        stages = {"filterbank": self.filterbank(x.to(self.dtype))}
        stages["ihc"] = self.ihc(stages["filterbank"])
        stages["adaptation"] = self.adaptation(stages["ihc"])
        return self.modulation(stages["adaptation"]), stages

    def distribute_gradients(self) -> None:
        """No-op, kept for API compatibility: every modulation filter parameter is a single
        shared tensor, so autograd already accumulates the gradients of all channels using it."""

    def extra_repr(self) -> str:
        return (
            f"fs={self.fs:g}, flow={self.flow:g}, fhigh={self.fhigh:g}, "
            f"num_channels={self.num_channels}, learnable={self.learnable}"
        )
