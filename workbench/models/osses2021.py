"""Osses & Kohlrausch (2021) monaural model, as AMT 1.4 ``osses2021``.

Dau1997's chain with an outer/middle-ear front end and other defaults (AMT
``afb_osses2021``, ``ihc_breebaart2001``, ``adt_osses2021``, ``mfb_jepsen2008``):

1. headphone + outer-ear FIR (Pralong & Carlile 1996, AMT ``headphonefilter``, 513 taps);
2. middle-ear FIR (Lopez-Poveda & Meddis 2001, AMT ``middleearfilter``, 513 taps, minimum
   phase), its output normalised by the filter's peak gain (x 10^(66.48/20) at 44.1 kHz).
   Each FIR runs causally on the signal with 257 zeros appended and the first 257 output
   samples dropped (AMT's group-delay compensation), so the output keeps the input length;
3. 1-ERB gammatone filterbank centred in 80..8000 Hz (no ``basef``: 31 channels,
   86.9..7819 Hz);
4. IHC 'breebaart2001' (half-wave rectification + five 1st-order 2 kHz low-passes);
5. adaptation loops, preset 'osses2021' (limit 5);
6. modulation filterbank as Dau1997 (jepsen2008 options).

Calibration as Dau1997: AMT units with dboffset 100 (rms 1 = 100 dB SPL).

Where the torch_amt documentation (the API spec) differs, AMT wins: the middle ear is
Lopez-Poveda & Meddis (2001), not Jepsen et al. (2008) (``middleear_kwargs={'filter_type':
'jepsen2008'}`` selects it). ``phase_type='zero'`` (not in AMT's osses2021) uses the linear
phase middle-ear FIR (AMT ``middleearfilter(..., 'zero')``) with exactly its 256-sample delay
removed, i.e. zero phase, instead of filtfilt (which would square the magnitude response);
the headphone FIR is AMT's in both cases.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from workbench._validation import check_choice, check_kwargs
from workbench.models.base import StageInfo, amt_unit
from workbench.models.dau1997 import Dau1997
from workbench.stages.ears import HeadphoneFilter, MiddleEarFilter


def _with_defaults(kwargs, name: str, **defaults) -> dict:
    """``kwargs`` (a dict or None; keys are checked by Dau1997) over Osses2021's defaults."""
    keys = kwargs.keys() if isinstance(kwargs, Mapping) else ()
    return {**defaults, **check_kwargs(kwargs, keys, name)}


class Osses2021(Dau1997):
    """Osses et al. (2021) auditory model (AMT ``osses2021``), batched and differentiable.

    Parameters
    ----------
    fs, flow, fhigh, learnable, return_stages, dtype
        As :class:`~workbench.models.dau1997.Dau1997`.
    filterbank_kwargs, ihc_kwargs, adaptation_kwargs, modulation_kwargs
        As :class:`~workbench.models.dau1997.Dau1997`, with AMT's osses2021 defaults: no
        ``basef`` (centred 1-ERB grid), IHC 'breebaart2001', adaptation preset 'osses2021'.
    phase_type : {'minimum', 'zero'}
        Middle-ear FIR phase.
    headphone_kwargs : dict
        ``order`` (FIR order, 512), ``delay_compensation`` (True).
    middleear_kwargs : dict
        ``order``, ``filter_type`` ('lopezpoveda2001' or 'jepsen2008'), ``normalize`` (divide
        by the peak gain, True), ``delay_compensation``.

    Returns
    -------
    list of Tensor
        ``forward(x)``, ``x`` ``(B, T)`` or ``(T,)`` in AMT full scale: as Dau1997's; the stage
        dict adds 'headphone' and 'middleear' ``(B, T)`` in front.

    References
    ----------
    Osses & Kohlrausch (2021), J. Acoust. Soc. Am. 149, 3534-3547; AMT 1.4 ``osses2021``.

    Examples
    --------
    >>> model = Osses2021(fs=16000, fhigh=4000, return_stages=True)
    >>> out, stages = model(torch.zeros(1600))
    >>> list(stages)[:2], out[0].shape
    (['headphone', 'middleear'], torch.Size([4, 1600]))
    """

    def __init__(
        self,
        fs: float,
        flow: float = 80.0,
        fhigh: float = 8000.0,
        phase_type: str = "minimum",
        learnable: bool = False,
        return_stages: bool = False,
        dtype: torch.dtype = torch.float32,
        headphone_kwargs: dict | None = None,
        middleear_kwargs: dict | None = None,
        filterbank_kwargs: dict | None = None,
        ihc_kwargs: dict | None = None,
        adaptation_kwargs: dict | None = None,
        modulation_kwargs: dict | None = None,
    ):
        check_choice(phase_type, ("minimum", "zero"), "phase_type")
        hp = check_kwargs(headphone_kwargs, ("order", "delay_compensation"), "headphone_kwargs")
        me = check_kwargs(
            middleear_kwargs, ("order", "filter_type", "normalize", "delay_compensation"), "middleear_kwargs"
        )
        super().__init__(
            fs,
            flow,
            fhigh,
            learnable=learnable,
            return_stages=return_stages,
            dtype=dtype,
            filterbank_kwargs=_with_defaults(filterbank_kwargs, "filterbank_kwargs", basef=None),
            ihc_kwargs=_with_defaults(ihc_kwargs, "ihc_kwargs", method="breebaart2001"),
            adaptation_kwargs=_with_defaults(adaptation_kwargs, "adaptation_kwargs", preset="osses2021"),
            modulation_kwargs=modulation_kwargs,
        )
        self.phase_type = phase_type
        common = dict(learnable=learnable, dtype=self.dtype)
        self.headphone = HeadphoneFilter(self.fs, **hp, **common)
        self.middleear = MiddleEarFilter(self.fs, phase_type=phase_type, **me, **common)

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        unit = amt_unit(self.dboffset)
        return {
            "headphone": StageInfo(
                "sound at the eardrum (headphone + outer ear)", unit, "BT", self.fs, self.headphone.about
            ),
            "middleear": StageInfo("middle-ear output", unit, "BT", self.fs, self.middleear.about),
            **super().stage_info,
        }

    def _run(self, x: torch.Tensor):
        headphone = self.headphone(x.to(self.dtype))
        middleear = self.middleear(headphone)
        out, stages = super()._run(middleear)
        return out, {"headphone": headphone, "middleear": middleear, **stages}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, phase_type={self.phase_type!r}"
