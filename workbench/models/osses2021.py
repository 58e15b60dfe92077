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

from workbench._validation import check_choice, check_kwargs, check_signal
from workbench.models.dau1997 import Dau1997
from workbench.stages.ears import HeadphoneFilter, MiddleEarFilter


def _with_defaults(kwargs, name: str, **defaults) -> dict:
    """``kwargs`` (a dict or None; keys are checked by Dau1997) over Osses2021's defaults."""
    keys = kwargs.keys() if isinstance(kwargs, Mapping) else ()
    return {**defaults, **check_kwargs(kwargs, keys, name)}


class Osses2021(Dau1997):
    """Osses et al. (2021) auditory model (AMT ``osses2021``), batched and differentiable.

    Parameters as :class:`~workbench.models.dau1997.Dau1997`, plus
    ``phase_type`` ('minimum' or 'zero': middle-ear FIR phase), ``headphone_kwargs``
    (``order``: FIR order, 512; ``delay_compensation``: True) and ``middleear_kwargs``
    (``order``, ``filter_type``: 'lopezpoveda2001' or 'jepsen2008', ``normalize``: divide
    by the peak gain, True; ``delay_compensation``).
    Defaults differ from Dau1997 as AMT's: no ``basef`` (centred 1-ERB grid), IHC
    'breebaart2001', adaptation preset 'osses2021'.

    Input ``(T,)`` or ``(B, T)``; output: list of ``num_channels`` tensors ``(B, M_i, T)``.
    ``return_stages=True`` also returns 'headphone', 'middleear' ``(B, T)`` and 'filterbank',
    'ihc', 'adaptation' ``(B, F, T)``.
    """

    def __init__(self, fs: float, flow: float = 80.0, fhigh: float = 8000.0,
                 phase_type: str = "minimum", learnable: bool = False, return_stages: bool = False,
                 dtype: torch.dtype = torch.float32, headphone_kwargs: dict | None = None,
                 middleear_kwargs: dict | None = None, filterbank_kwargs: dict | None = None,
                 ihc_kwargs: dict | None = None, adaptation_kwargs: dict | None = None,
                 modulation_kwargs: dict | None = None):
        check_choice(phase_type, ("minimum", "zero"), "phase_type")
        hp = check_kwargs(headphone_kwargs, ("order", "delay_compensation"), "headphone_kwargs")
        me = check_kwargs(middleear_kwargs,
                          ("order", "filter_type", "normalize", "delay_compensation"),
                          "middleear_kwargs")
        super().__init__(
            fs, flow, fhigh, learnable=learnable, return_stages=return_stages, dtype=dtype,
            filterbank_kwargs=_with_defaults(filterbank_kwargs, "filterbank_kwargs", basef=None),
            ihc_kwargs=_with_defaults(ihc_kwargs, "ihc_kwargs", method="breebaart2001"),
            adaptation_kwargs=_with_defaults(adaptation_kwargs, "adaptation_kwargs",
                                             preset="osses2021"),
            modulation_kwargs=modulation_kwargs)
        self.phase_type = phase_type
        common = dict(learnable=learnable, dtype=self.dtype)
        self.headphone = HeadphoneFilter(self.fs, **hp, **common)
        self.middleear = MiddleEarFilter(self.fs, phase_type=phase_type, **me, **common)

    def forward(self, x):
        x = check_signal(x, "x", min_samples=2, max_dims=2, dtype=self.dtype)
        headphone = self.headphone(x)
        middleear = self.middleear(headphone)
        result = super().forward(middleear)
        if not self.return_stages:
            return result
        out, stages = result
        return out, {"headphone": headphone, "middleear": middleear, **stages}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, phase_type={self.phase_type!r}"
