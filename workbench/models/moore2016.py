"""Moore, Glasberg, Varathanathan & Schlittenlacher (2016) binaural time-varying loudness.

As AMT 1.4 ``moore2016`` (with the 2018 time constants): free-field outer/middle-ear FIR ->
multi-resolution spectrum every 1 ms (six Hann windows, components within 60 dB of the
louder ear's maximum) -> roex excitation on 150 bands (1.75..39 Cam, 0.25 Cam) ->
instantaneous specific loudness (ANSI S3.4-2007 form, C = 0.0631) -> short-term AGC per band
(attack 0.045, release 0.033 per 1 ms) -> binaural inhibition -> short-term loudness per ear
-> long-term AGC (0.01, 0.00133) -> sums over the ears.

Calibration: input in **Pa** (spec convention). AMT's ``moore2016`` takes full-scale units
with a full-scale sine = 100 dB SPL, i.e. ``amt_input = pa / (2 * sqrt(2))``; the results are
identical. Input must be stereo ``(B, 2, T)`` or ``(2, T)`` at 32 kHz (AMT duplicates a mono
column; here use :func:`diotic` explicitly, and :func:`monaural` for one ear, so the
presentation is always visible). Output frames: ``T // 32 + 1``; frame ``k`` is centred on
input sample ``32 k``.

Differences from the spec (torch_amt) prose, following AMT: the hop is 1 ms (not 512
samples); the ear filter is the Cambridge free-field FIR (4097 taps); binaural inhibition is
``N / (2 / (1 + sech(S_other / S_own)^p))`` applied to the short-term specific loudness.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench._validation import check_choice, check_dtype, check_fs, check_kwargs, check_signal
from workbench.stages import loudness as L

__all__ = ["Moore2016", "diotic", "monaural", "resample_to_32k"]


def diotic(x: torch.Tensor) -> torch.Tensor:
    """Mono ``(..., T)`` -> the same signal at both ears ``(..., 2, T)``."""
    x = torch.as_tensor(x)
    return torch.stack([x, x], dim=-2)


def monaural(x: torch.Tensor, ear: str = "left") -> torch.Tensor:
    """Mono ``(..., T)`` -> one ear only (other ear silent) ``(..., 2, T)``."""
    x = torch.as_tensor(x)
    check_choice(ear, ("left", "right"), "ear")
    pair = [x, torch.zeros_like(x)] if ear == "left" else [torch.zeros_like(x), x]
    return torch.stack(pair, dim=-2)


def resample_to_32k(x: torch.Tensor, fs: float) -> torch.Tensor:
    """Resample ``(..., T)`` audio at ``fs`` to the 32 kHz that Moore2016 requires."""
    return L.resample_signal(x, check_fs(fs), 32000.0)


class Moore2016(nn.Module):
    """Binaural time-varying loudness (Moore et al. 2016; AMT ``moore2016``).

    ``forward(audio)``: ``audio`` ``(B, 2, T)`` or ``(2, T)`` in Pa at 32 kHz (left, right).
    Returns ``(sLoud, lLoud, mLoud)``: short-term and long-term loudness ``(B, F)`` (sone,
    sum of both ears) and the maximum long-term loudness ``(B,)``; with
    ``return_stages=True`` also a dict with ``filtered_*`` ``(B, T + 2048)`` (ear-filter
    output, Pa, 1024-sample delay), ``freqs_*``/``levels_*`` ``(B, F, 960)`` (component
    frequencies in Hz and levels in dB SPL, NaN where a component is not relevant),
    ``excitation_*`` ``(B, F, 150)`` dB SPL, ``inst_spec_loud_*``, ``stl_spec_loud_*``
    ``(B, F, 150)`` sone/Cam, ``stl_loud_*``, ``ltl_loud_*`` ``(B, F)`` sone, for ``*`` in
    ``left``/``right``. ``learnable`` turns C, the AGC coefficients and the inhibition
    exponent into parameters.
    """

    def __init__(self, fs: float = 32000, learnable: bool = False, return_stages: bool = False,
                 dtype: torch.dtype = torch.float32, outer_middle_ear_kwargs=None, spectrum_kwargs=None,
                 excitation_kwargs=None, specific_loudness_kwargs=None, temporal_integration_kwargs=None,
                 binaural_loudness_kwargs=None, ltl_agc_kwargs=None):
        super().__init__()
        fs = check_fs(fs)
        if fs != 32000:
            raise ValueError(f"Moore2016 runs at fs = 32000 Hz only, got fs = {fs:g}; resample first with "
                             "workbench.models.moore2016.resample_to_32k(audio, fs)")
        self.fs, self.learnable, self.return_stages = 32000, bool(learnable), bool(return_stages)
        self.dtype = check_dtype(dtype)
        ear = check_kwargs(outer_middle_ear_kwargs, ("kind",), "outer_middle_ear_kwargs")
        spec = check_kwargs(spectrum_kwargs, ("hop", "n_fft", "band_edges_hz", "hann_correction_db",
                                              "range_db", "floor_db"), "spectrum_kwargs")
        exc = check_kwargs(excitation_kwargs, ("erb_lower", "erb_upper", "erb_step", "level_slope"),
                           "excitation_kwargs")
        sl = check_kwargs(specific_loudness_kwargs, ("C", "threshold_db_above_500"), "specific_loudness_kwargs")
        st = check_kwargs(temporal_integration_kwargs, ("attack_alpha", "release_alpha"),
                          "temporal_integration_kwargs")
        bi = check_kwargs(binaural_loudness_kwargs, ("sigma", "p"), "binaural_loudness_kwargs")
        lt = check_kwargs(ltl_agc_kwargs, ("attack_alpha", "release_alpha"), "ltl_agc_kwargs")

        self.ear_kind = ear.get("kind", "moore2016_free")
        self.register_buffer("ear_fir", torch.tensor(L.loudness_ear_fir(self.ear_kind, 32000.0), dtype=dtype),
                             persistent=False)
        self.relevance = (spec.pop("range_db", 60.0), spec.pop("floor_db", 30.0))
        self.spectrum = L.MultiResolutionSpectrum(32000.0, dtype=dtype, **spec)
        step = exc.get("erb_step", 0.25)
        cams = torch.arange(exc.get("erb_lower", 1.75), exc.get("erb_upper", 39.0) + step / 2, step,
                            dtype=torch.float64).numpy()
        self.cam_step = float(step)
        self.excitation = L.RoexExcitation(self.spectrum.freqs_hz.double().numpy(), cams,
                                           level_slope=exc.get("level_slope", 0.35), dtype=dtype)
        self.specific_loudness = L.SpecificLoudness(self.excitation.center_freqs_hz.double().numpy(),
                                                    C=sl.get("C", 0.0631),
                                                    threshold_db_above_500=sl.get("threshold_db_above_500", 3.63),
                                                    learnable=learnable, dtype=dtype)
        self.stl_attack = L.scalar_parameter(st.get("attack_alpha", 0.045), learnable, dtype)
        self.stl_release = L.scalar_parameter(st.get("release_alpha", 0.033), learnable, dtype)
        self.ltl_attack = L.scalar_parameter(lt.get("attack_alpha", 0.01), learnable, dtype)
        self.ltl_release = L.scalar_parameter(lt.get("release_alpha", 0.00133), learnable, dtype)
        self.inhibition_p = L.scalar_parameter(bi.get("p", 1.5978), learnable, dtype)
        self.smoothing = float(bi.get("sigma", 0.08))

    def get_erb_frequencies(self) -> torch.Tensor:
        """Band centre frequencies (Hz), shape ``(150,)``."""
        return self.excitation.center_freqs_hz.clone()

    def compute_loudness_level(self, sone: torch.Tensor) -> torch.Tensor:
        """Loudness (sone, binaural) -> loudness level (phon), ANSI S3.4-2007 relation
        (:class:`workbench.stages.loudness.LoudnessLevelTable`); differentiable."""
        return L.loudness_level_table(2.0).sone_to_phon(sone)

    def compute_loudness_from_level(self, phon: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`compute_loudness_level`: phon -> sone."""
        return L.loudness_level_table(2.0).phon_to_sone(phon)

    def get_parameters(self) -> dict:
        return {"fs": self.fs, "learnable": self.learnable, "return_stages": self.return_stages,
                "dtype": self.dtype, "ear_filter": self.ear_kind}

    def extra_repr(self) -> str:
        return f"fs={self.fs}, bands={self.excitation.center_freqs_hz.numel()}, learnable={self.learnable}"

    def forward(self, audio: torch.Tensor):
        audio = check_signal(audio, "audio", max_dims=3, min_samples=2)
        if audio.dim() < 2 or audio.shape[-2] != 2:
            raise ValueError(f"audio must be stereo (B, 2, T) or (2, T) [left, right], got shape "
                             f"{tuple(audio.shape)}; for mono input use workbench.models.moore2016.diotic(x) "
                             "(both ears) or monaural(x) (one ear)")
        single = audio.dim() == 2
        x = audio.unsqueeze(0) if single else audio
        L.warn_if_too_loud(x, "audio")
        x = x.to(dtype=self.ear_fir.dtype, device=self.ear_fir.device)  # follows .to()/.double()

        filtered = L.fir_zero_phase(x, self.ear_fir)                      # (B, 2, T + 2048)
        intensity = self.spectrum(filtered)                             # (B, 2, F, K)
        relevant = L.relevance_mask(intensity, joint_dim=1, range_db=self.relevance[0],
                                    floor_db=self.relevance[1])
        excitation = self.excitation(intensity, relevant)               # (B, 2, F, 150)
        inst = self.specific_loudness(excitation)
        stl_spec = L.agc(inst.transpose(-1, -2), self.stl_attack, self.stl_release).transpose(-1, -2)
        inhibited = L.binaural_inhibition(stl_spec[:, 0], stl_spec[:, 1], p=self.inhibition_p,
                                          smoothing=self.smoothing, cam_step=self.cam_step)
        stl_ears = torch.stack([n.sum(-1) * self.cam_step for n in inhibited], dim=1)  # (B, 2, F)
        ltl_ears = L.agc(stl_ears, self.ltl_attack, self.ltl_release)
        s_loud, l_loud = stl_ears.sum(1), ltl_ears.sum(1)
        m_loud = l_loud.amax(-1)
        out = (s_loud, l_loud, m_loud)
        if single:
            out = tuple(o.squeeze(0) for o in out)
        if not self.return_stages:
            return out
        nan = torch.full((), float("nan"), dtype=intensity.dtype, device=intensity.device)
        freqs = self.spectrum.freqs_hz.expand_as(intensity)
        stages = {}
        for e, side in enumerate(("left", "right")):
            sel = (lambda t: t[:, e].squeeze(0)) if single else (lambda t: t[:, e])  # noqa: E731
            stages[f"filtered_{side}"] = sel(filtered)
            stages[f"freqs_{side}"] = sel(torch.where(relevant, freqs, nan))
            stages[f"levels_{side}"] = sel(torch.where(relevant, 10 * torch.log10(intensity.clamp_min(1e-300)), nan))
            stages[f"excitation_{side}"] = sel(10 * torch.log10(excitation))
            stages[f"inst_spec_loud_{side}"] = sel(inst)
            stages[f"stl_spec_loud_{side}"] = sel(stl_spec)
            stages[f"stl_loud_{side}"] = sel(stl_ears)
            stages[f"ltl_loud_{side}"] = sel(ltl_ears)
        return out, stages
