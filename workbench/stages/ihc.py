"""Inner-hair-cell envelope stages (dau1996, breebaart2001, king2019, paulick2024)."""


# --- Paulick2024 IHC transduction (helper "paulick"; kept apart from the envelope IHCs) ---
import functools  # noqa: E402
import math  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from workbench._validation import check_fs  # noqa: E402
import numpy as np  # noqa: E402

from workbench.kernels import ihc as ihc_kernel  # noqa: E402
from workbench.kernels.iir import sosfilt  # noqa: E402
from workbench.stages.drnl import butter2_lowpass_sos  # noqa: E402

# Paulick et al. (2024) / AMT 1.6 paulick2024_ihc constants (SI units).
_PAULICK_IHC = dict(
    gain_db=-105.0,                        # BM velocity (m/s) -> stereocilia displacement (m)
    endocochlear_v=90e-3, capacitance_f=12.5e-12,
    g_k_fast_s=19.8e-9, g_k_slow_s=19.8e-9, e_k_fast_v=-71e-3, e_k_slow_v=-78e-3,
    g_met_max_s=30e-9, x0_m=20e-9, s0_m=16e-9, s1_m=35e-9,
    v_rest_v=-0.05703, g_precharge_s=3.3514e-09, precharge_s=50e-3,
)


@functools.lru_cache(maxsize=16)
def paulick2024_precharge_potential(fs: float) -> float:
    """Membrane potential (V) after AMT's 50 ms pre-charge at the resting MET conductance
    (forward Euler from V_rest; about -61.66 mV). Sequential on purpose: it reproduces AMT's
    rounding, and runs once per fs."""
    p, step = _PAULICK_IHC, 1.0 / fs / _PAULICK_IHC["capacitance_f"]
    v = p["v_rest_v"]
    for _ in range(round(fs * p["precharge_s"])):
        v -= (p["g_precharge_s"] * (v - p["endocochlear_v"]) + p["g_k_fast_s"] * (v - p["e_k_fast_v"])
              + p["g_k_slow_s"] * (v - p["e_k_slow_v"])) * step
    return v


def paulick2024_ihc(velocity: torch.Tensor, fs: float) -> torch.Tensor:
    """Paulick2024 IHC receptor potential (V, relative to the pre-charge potential).

    ``velocity``: BM velocity ``(..., T)`` (DRNL output). Boltzmann MET conductance
    G = Gmax / (1 + f0 (1 + f1)) of the scaled displacement, then the RC membrane with fast
    and slow K+ conductances stepped by forward Euler (the potential is taken after each
    update, as AMT does). Written in the deviation u = V - V_pre so that float32 keeps the
    microvolt responses near threshold: alpha = 1 - k G_total, beta = k sum G_i (E_i - V_pre),
    with the resting part of G and beta computed in float64 and the change of G via expm1.
    """
    p = _PAULICK_IHC
    v_pre = paulick2024_precharge_potential(float(fs))
    step = 1.0 / fs / p["capacitance_f"]
    f0_rest, f1_rest = math.exp(p["x0_m"] / p["s1_m"]), math.exp(p["x0_m"] / p["s0_m"])
    d_rest = 1 + f0_rest * (1 + f1_rest)
    g_rest = p["g_met_max_s"] / d_rest
    g_k = p["g_k_fast_s"] + p["g_k_slow_s"]
    beta_rest = step * (g_rest * (p["endocochlear_v"] - v_pre) + p["g_k_fast_s"] * (p["e_k_fast_v"] - v_pre)
                        + p["g_k_slow_s"] * (p["e_k_slow_v"] - v_pre))
    inv_s0, inv_s1 = 1 / p["s0_m"], 1 / p["s1_m"]
    gain = 10 ** (p["gain_db"] / 20)
    # Below this displacement the conductance is ~0 and exp() would overflow: clamp there.
    clamp_m = -80 / (inv_s0 + inv_s1)
    alpha_rest = 1 - step * (g_rest + g_k)
    drive = step * (p["endocochlear_v"] - v_pre)
    if ihc_kernel.use_numba(velocity):  # fused CPU kernel; torch ops + scan elsewhere
        constants = np.array([gain, clamp_m, f0_rest, f1_rest, d_rest, p["g_met_max_s"], inv_s0, inv_s1,
                              alpha_rest, beta_rest, step, drive])
        return ihc_kernel.ihc_membrane(velocity, constants)
    displacement = (gain * velocity).clamp_min(clamp_m)
    d_change = f0_rest * torch.expm1(-displacement * inv_s1) + f0_rest * f1_rest * torch.expm1(
        -displacement * (inv_s0 + inv_s1))
    g_change = -p["g_met_max_s"] * d_change / ((d_rest + d_change) * d_rest)
    return ihc_kernel.membrane_scan(alpha_rest - step * g_change, beta_rest + drive * g_change)


class IHCPaulick2024(nn.Module):
    """Paulick2024 IHC stage: ``(B, C, T)`` BM velocity -> receptor potential (V) re pre-charge."""

    def __init__(self, fs: float):
        super().__init__()
        self.fs = check_fs(fs)

    def forward(self, velocity: torch.Tensor) -> torch.Tensor:
        return paulick2024_ihc(velocity, self.fs)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, precharge_potential_v={paulick2024_precharge_potential(self.fs):.6g}"


def relanoiborra2019_ihc(x: torch.Tensor, fs: float) -> torch.Tensor:
    """AMT ``ihcenvelope(.., 'ihc_relanoiborra2019')`` (CASP 2008 IHC): half-wave rectification
    then a 2nd-order Butterworth 1 kHz lowpass (MATLAB ``butter(2, 1000/(fs/2))``)."""
    return sosfilt(butter2_lowpass_sos([1000.0], check_fs(fs), 1)[0].to(x), torch.relu(x))
