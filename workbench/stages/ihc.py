"""Inner-hair-cell envelope stages (dau1996, breebaart2001, king2019, paulick2024).

AMT ``ihcenvelope``: half-wave rectification followed by ``n`` cascaded 1st-order
Butterworth low-passes (bilinear transform, MATLAB ``butter(1, fc/(fs/2))``):

=================  ==========  ========  ================================================
method             cutoff Hz   order n   note
=================  ==========  ========  ================================================
``dau1996``        1000        1         Dau et al. (1996a); default of dau1997
``breebaart2001``  2000        5         5 x 2 kHz = 770 Hz overall (Breebaart 2001)
``king2019``       1000        1         AMT 1.4 code (its help text says 1500 Hz; the code
                                         and the reference run use 1000 Hz)
``lindemann1986``  800         1         Lindemann (1986)
=================  ==========  ========  ================================================
"""

from __future__ import annotations

import torch
from torch import nn

from workbench._validation import check_choice, check_fs
from workbench.kernels.iir import lfilter
from workbench.stages.filters import first_order_lowpass

IHC_METHODS = {
    "dau1996": (1000.0, 1),
    "breebaart2001": (2000.0, 5),
    "king2019": (1000.0, 1),
    "lindemann1986": (800.0, 1),
}


def ihc_envelope(x: torch.Tensor, fs: float, cutoff_hz=1000.0, filter_order: int = 1) -> torch.Tensor:
    """Half-wave rectify ``x`` ``(..., T)`` and low-pass it ``filter_order`` times (1st order)."""
    b, a = first_order_lowpass(torch.as_tensor(cutoff_hz, dtype=x.dtype, device=x.device), fs, dtype=x.dtype)
    y = torch.relu(x)
    for _ in range(filter_order):
        y = lfilter(b, a, y)
    return y


class IHCEnvelope(nn.Module):
    """Envelope extraction of the inner hair cells (AMT ``ihcenvelope``).

    Parameters
    ----------
    fs : sampling rate in Hz.
    method : 'dau1996' (default), 'breebaart2001', 'king2019' or 'lindemann1986'.
    cutoff_hz, filter_order : override the method's low-pass cutoff / number of cascaded
        1st-order low-passes.
    learnable : the cutoff becomes an ``nn.Parameter``.

    Input and output ``(..., channel, time)``, same units.
    """

    def __init__(self, fs: float, method: str = "dau1996", cutoff_hz: float | None = None,
                 filter_order: int | None = None, learnable: bool = False, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.fs = check_fs(fs)
        self.method = check_choice(method, tuple(IHC_METHODS), "method")
        default_cutoff, default_order = IHC_METHODS[method]
        cutoff = float(default_cutoff if cutoff_hz is None else cutoff_hz)
        if not 0 < cutoff < self.fs / 2:
            raise ValueError(f"cutoff_hz must lie in (0, fs/2 = {self.fs / 2:g}) Hz, got {cutoff}")
        self.filter_order = int(default_order if filter_order is None else filter_order)
        if self.filter_order < 1:
            raise ValueError(f"filter_order must be >= 1, got {filter_order}")
        cutoff = torch.tensor(cutoff, dtype=dtype)
        if learnable:
            self.cutoff_hz = nn.Parameter(cutoff)
        else:
            self.register_buffer("cutoff_hz", cutoff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ihc_envelope(x, self.fs, self.cutoff_hz.to(x.dtype), self.filter_order)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, method={self.method!r}, order={self.filter_order}"
