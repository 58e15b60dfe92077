"""Inner-hair-cell stages: envelope IHCs (AMT ``ihcenvelope``), Paulick2024's transduction
model and the CASP 2008 IHC.

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

Shapes: ``(..., channel, time)`` in, same shape out.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

from workbench._validation import MAX_FILTER_ORDER, check_choice, check_fs, check_int, check_positive
from workbench.kernels import ihc as ihc_kernel
from workbench.kernels.iir import section, sosfilt
from workbench.stages.drnl import butter2_lowpass_sos
from workbench.stages.filters import first_order_lowpass

IHC_METHODS = {
    "dau1996": (1000.0, 1),
    "breebaart2001": (2000.0, 5),
    "king2019": (1000.0, 1),
    "lindemann1986": (800.0, 1),
}


def ihc_envelope(x: torch.Tensor, fs: float, cutoff_hz=1000.0, filter_order: int = 1) -> torch.Tensor:
    """Envelope of the inner hair cells (pure form of :class:`IHCEnvelope`).

    Half-wave rectification, then ``filter_order`` cascaded 1st-order Butterworth low-passes
    at ``cutoff_hz`` (AMT ``ihcenvelope``; see the module table for the methods' values).

    Parameters
    ----------
    x : Tensor
        Basilar-membrane signal ``(..., T)``, usually ``(B, C, T)``, any units.
    fs : float, Hz
    cutoff_hz : float or Tensor, Hz
        Low-pass cutoff (1000 Hz, 'dau1996'); a tensor that requires grad receives gradients.
    filter_order : int
        Number of cascaded low-passes (1).

    Returns
    -------
    Tensor
        The envelope, >= 0, shape and units of ``x``.

    See Also
    --------
    IHCEnvelope : the Module (methods by name, filter designed once).

    References
    ----------
    Dau, Puschel & Kohlrausch (1996), J. Acoust. Soc. Am. 99, 3615-3622; AMT ``ihcenvelope``.

    Examples
    --------
    >>> ihc_envelope(torch.tensor([[-1.0, 1.0, 1.0]]), 16000)  # the negative sample is removed
    tensor([[0.0000, 0.1659, 0.4427]])
    """
    cutoff = torch.as_tensor(cutoff_hz, dtype=x.dtype, device=x.device)
    return sosfilt(_ihc_lowpass_sections(cutoff, fs, filter_order, x.dtype), torch.relu(x))


def _ihc_lowpass_sections(cutoff_hz: torch.Tensor, fs: float, filter_order: int, dtype) -> torch.Tensor:
    """``filter_order`` cascaded 1st-order Butterworth low-passes as sections ``(..., n, 6)``."""
    b, a = first_order_lowpass(cutoff_hz, fs, dtype=dtype)
    return section(b, a).unsqueeze(-2).expand(*b.shape[:-1], filter_order, 6)


class IHCEnvelope(nn.Module):
    """Envelope extraction of the inner hair cells (AMT ``ihcenvelope``, table above).

    Parameters
    ----------
    fs : float, Hz
    method : {'dau1996', 'breebaart2001', 'king2019', 'lindemann1986'}
    cutoff_hz : float, Hz, optional
        Overrides the method's low-pass cutoff (``nn.Parameter`` when ``learnable``).
    filter_order : int, optional
        Overrides the number of cascaded 1st-order low-passes.
    learnable : bool
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: the envelope of ``x`` ``(..., C, T)``, same shape and units.

    References
    ----------
    Dau, Puschel & Kohlrausch (1996), J. Acoust. Soc. Am. 99, 3615-3622; Breebaart et al.
    (2001), J. Acoust. Soc. Am. 110, 1074-1088.

    Examples
    --------
    >>> ihc = IHCEnvelope(16000, "dau1996")
    >>> ihc(torch.ones(1, 2, 800)).shape
    torch.Size([1, 2, 800])
    """

    about = "Half-wave rectification and low-pass: the envelope, as hair cells lose the fine structure above ~1 kHz."

    def __init__(
        self,
        fs: float,
        method: str = "dau1996",
        cutoff_hz: float | None = None,
        filter_order: int | None = None,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.fs = check_fs(fs)
        self.method = check_choice(method, tuple(IHC_METHODS), "method")
        default_cutoff, default_order = IHC_METHODS[method]
        cutoff = check_positive(default_cutoff if cutoff_hz is None else cutoff_hz, "cutoff_hz")
        if not cutoff < self.fs / 2:
            raise ValueError(f"cutoff_hz must lie in (0, fs/2 = {self.fs / 2:g}) Hz, got {cutoff}")
        self.filter_order = check_int(
            default_order if filter_order is None else filter_order, "filter_order", 1, MAX_FILTER_ORDER
        )
        cutoff = torch.tensor(cutoff, dtype=dtype)
        if learnable:
            self.cutoff_hz = nn.Parameter(cutoff)
        else:
            self.register_buffer("cutoff_hz", cutoff)
        fixed = None if learnable else _ihc_lowpass_sections(cutoff, self.fs, self.filter_order, dtype).contiguous()
        self.register_buffer("_fixed_sections", fixed, persistent=False)  # designed once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._fixed_sections is not None and self._fixed_sections.dtype == x.dtype:
            return sosfilt(self._fixed_sections, torch.relu(x))
        return ihc_envelope(x, self.fs, self.cutoff_hz.to(x.dtype), self.filter_order)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, method={self.method!r}, order={self.filter_order}"


# Paulick et al. (2024) / AMT 1.6 paulick2024_ihc constants (SI units).
_PAULICK_IHC = dict(
    gain_db=-105.0,  # BM velocity (m/s) -> stereocilia displacement (m)
    endocochlear_v=90e-3,
    capacitance_f=12.5e-12,
    g_k_fast_s=19.8e-9,
    g_k_slow_s=19.8e-9,
    e_k_fast_v=-71e-3,
    e_k_slow_v=-78e-3,
    g_met_max_s=30e-9,
    x0_m=20e-9,
    s0_m=16e-9,
    s1_m=35e-9,
    v_rest_v=-0.05703,
    g_precharge_s=3.3514e-09,
    precharge_s=50e-3,
)


@functools.lru_cache(maxsize=16)
def paulick2024_precharge_potential(fs: float) -> float:
    """Membrane potential (V) after AMT's 50 ms pre-charge at the resting MET conductance
    (forward Euler from V_rest; about -61.66 mV). Sequential on purpose: it reproduces AMT's
    rounding, and runs once per fs."""
    p, step = _PAULICK_IHC, 1.0 / fs / _PAULICK_IHC["capacitance_f"]
    v = p["v_rest_v"]
    for _ in range(round(fs * p["precharge_s"])):
        v -= (
            p["g_precharge_s"] * (v - p["endocochlear_v"])
            + p["g_k_fast_s"] * (v - p["e_k_fast_v"])
            + p["g_k_slow_s"] * (v - p["e_k_slow_v"])
        ) * step
    return v


def paulick2024_ihc(velocity: torch.Tensor, fs: float) -> torch.Tensor:
    """Paulick2024 IHC receptor potential (pure form of :class:`IHCPaulick2024`).

    Boltzmann MET conductance ``G = Gmax / (1 + f0 (1 + f1))`` of the scaled displacement, then
    the RC membrane with fast and slow K+ conductances stepped by forward Euler (the potential
    is taken after each update, as AMT does). Written in the deviation ``u = V - V_pre`` so
    that float32 keeps the microvolt responses near threshold: ``alpha = 1 - k G_total``,
    ``beta = k sum G_i (E_i - V_pre)``, with the resting part of G and beta computed in float64
    and the change of G via expm1. The recursion runs in
    :func:`workbench.kernels.ihc.ihc_membrane` (fused with the MET conductance) with
    :func:`paulick2024_ihc_constants`.

    Parameters
    ----------
    velocity : Tensor, m/s
        Basilar-membrane velocity ``(..., T)``, usually ``(B, C, T)`` (the DRNL output).
    fs : float, Hz

    Returns
    -------
    Tensor
        Receptor potential ``(..., T)``, V, relative to the pre-charge potential
        (:func:`paulick2024_precharge_potential`).

    See Also
    --------
    IHCPaulick2024 : the Module.

    References
    ----------
    Paulick, Relano-Iborra & Dau (2024), Hear. Res.; AMT 1.6 ``paulick2024_ihc``.

    Examples
    --------
    >>> float(paulick2024_ihc(torch.zeros(1, 100, dtype=torch.float64), 44100).abs().max()) < 1e-8  # at rest
    True
    """
    return ihc_kernel.ihc_membrane(velocity, paulick2024_ihc_constants(float(fs)))


@functools.lru_cache(maxsize=16)
def paulick2024_ihc_constants(fs: float) -> np.ndarray:
    """The 12 float64 constants of the fused IHC kernel at ``fs`` (Hz), in the order
    :func:`workbench.kernels.ihc.ihc_membrane` documents."""
    p = _PAULICK_IHC
    v_pre = paulick2024_precharge_potential(float(fs))
    step = 1.0 / fs / p["capacitance_f"]
    f0_rest, f1_rest = math.exp(p["x0_m"] / p["s1_m"]), math.exp(p["x0_m"] / p["s0_m"])
    d_rest = 1 + f0_rest * (1 + f1_rest)
    g_rest = p["g_met_max_s"] / d_rest
    g_k = p["g_k_fast_s"] + p["g_k_slow_s"]
    beta_rest = step * (
        g_rest * (p["endocochlear_v"] - v_pre)
        + p["g_k_fast_s"] * (p["e_k_fast_v"] - v_pre)
        + p["g_k_slow_s"] * (p["e_k_slow_v"] - v_pre)
    )
    inv_s0, inv_s1 = 1 / p["s0_m"], 1 / p["s1_m"]
    gain = 10 ** (p["gain_db"] / 20)
    # Below this displacement the conductance is ~0 and exp() would overflow: clamp there.
    clamp_m = -80 / (inv_s0 + inv_s1)
    alpha_rest = 1 - step * (g_rest + g_k)
    drive = step * (p["endocochlear_v"] - v_pre)
    constants = np.array(
        [gain, clamp_m, f0_rest, f1_rest, d_rest, p["g_met_max_s"], inv_s0, inv_s1, alpha_rest, beta_rest, step, drive]
    )
    constants.setflags(write=False)  # cached: shared by every call at this fs
    return constants


class IHCPaulick2024(nn.Module):
    """Paulick2024 IHC transduction (:func:`paulick2024_ihc`; its constants are fixed).

    Parameters
    ----------
    fs : float, Hz

    Returns
    -------
    Tensor
        ``forward(velocity)``: BM velocity ``(..., C, T)`` m/s -> receptor potential
        ``(..., C, T)`` in V, relative to the pre-charge potential.

    References
    ----------
    Paulick, Relano-Iborra & Dau (2024), Hear. Res. (the revised CASP model); AMT 1.6
    ``paulick2024_ihc``.

    Examples
    --------
    >>> ihc = IHCPaulick2024(44100)
    >>> ihc(torch.zeros(1, 1, 100, dtype=torch.float64)).shape
    torch.Size([1, 1, 100])
    """

    about = "Receptor potential of a transduction model of the hair cell (MET channels, RC membrane)."

    def __init__(self, fs: float):
        super().__init__()
        self.fs = check_fs(fs)

    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        return paulick2024_ihc(velocity, self.fs)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, precharge_potential_v={paulick2024_precharge_potential(self.fs):.6g}"


def relanoiborra2019_ihc(x: torch.Tensor, fs: float) -> torch.Tensor:
    """IHC envelope of AMT ``ihcenvelope(.., 'ihc_relanoiborra2019')``.

    Half-wave rectification, then a 2nd-order Butterworth low-pass at 1 kHz (MATLAB
    ``butter(2, 1000/(fs/2))``).

    Parameters
    ----------
    x : Tensor
        Basilar-membrane signal ``(..., T)``, usually ``(B, C, T)``, any units.
    fs : float, Hz

    Returns
    -------
    Tensor
        The envelope, shape, units and dtype of ``x``.

    See Also
    --------
    jepsen2008_ihc : this envelope with CASP's gain and squaring.

    References
    ----------
    Relano-Iborra, Zaar & Dau (2019), J. Acoust. Soc. Am. 146, 3306-3320; AMT ``ihcenvelope``.

    Examples
    --------
    >>> relanoiborra2019_ihc(-torch.ones(3), 44100)  # negative input: no envelope
    tensor([0., 0., 0.])
    """
    return sosfilt(butter2_lowpass_sos([1000.0], check_fs(fs), 1)[0].to(x), torch.relu(x))


def jepsen2008_ihc(x: torch.Tensor, fs: float, gain_db: float = 50.0) -> torch.Tensor:
    """CASP 2008 IHC (pure form of :class:`IHCJepsen2008`):
    ``(relanoiborra2019_ihc(x) 10^(gain_db/20))^2``.

    Parameters
    ----------
    x : Tensor, m/s
        Basilar-membrane velocity ``(..., T)``, usually ``(B, C, T)``.
    fs : float, Hz
    gain_db : float, dB
        Gain before the squaring (50 dB in AMT).

    Returns
    -------
    Tensor
        ``(..., T)``, in squared input units.

    See Also
    --------
    IHCJepsen2008 : the Module.

    References
    ----------
    Jepsen, Ewert & Dau (2008), J. Acoust. Soc. Am. 124, 422-438; AMT 1.6 ``paulick2024``.

    Examples
    --------
    >>> y = jepsen2008_ihc(torch.ones(1, 4410, dtype=torch.float64), 44100)
    >>> round(float(y[0, -1]))  # (1 x 10^(50/20))^2 for a settled constant input
    100000
    """
    return (relanoiborra2019_ihc(x, fs) * 10 ** (gain_db / 20)) ** 2


class IHCJepsen2008(nn.Module):
    """CASP 2008 IHC as AMT 1.6 ``paulick2024(..., 'jepsen2008')`` runs it: the
    :func:`relanoiborra2019_ihc` envelope, a gain, then squaring (CASP's expansion).

    Parameters
    ----------
    fs : float, Hz
    gain_db : float, dB
        50 dB in AMT: it compensates the outer/middle-ear attenuation before the expansion.

    Returns
    -------
    Tensor
        ``forward(velocity)``: BM velocity ``(..., C, T)`` -> ``(..., C, T)``, squared units.

    References
    ----------
    Jepsen, Ewert & Dau (2008), J. Acoust. Soc. Am. 124, 422-438; AMT 1.6 ``paulick2024``.

    Examples
    --------
    >>> IHCJepsen2008(44100)(torch.ones(1, 1, 10, dtype=torch.float64)).shape
    torch.Size([1, 1, 10])
    """

    about = "Envelope (rectification, 1 kHz low-pass), then squared: CASP's expansion."

    def __init__(self, fs: float, gain_db: float = 50.0):
        super().__init__()
        self.fs, self.gain_db = check_fs(fs), float(gain_db)

    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        return jepsen2008_ihc(velocity, self.fs, self.gain_db)
