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
column; here use :func:`diotic` explicitly, :func:`monaural` for one ear, or
:func:`workbench.units.to_model_input`, so the presentation is always visible; other rates:
:func:`workbench.stages.resample.resample`). Output frames: ``T // 32 + 1``; frame ``k`` is centred on
input sample ``32 k``.

Differences from the spec (torch_amt) prose, following AMT: the hop is 1 ms (not 512
samples: 1001 frames per second, spec 62); a diotic sound is ~1.5x (not ~2x) as loud as at one
ear; the ear filter is the Cambridge free-field FIR (4097 taps); binaural inhibition is
``N / (2 / (1 + sech(S_other / S_own)^p))`` applied to the short-term specific loudness.
"""

from __future__ import annotations

import torch

from workbench._validation import check_choice, check_kwargs, check_positive
from workbench.models.base import LoudnessModel, StageInfo
from workbench.stages import loudness as L
from workbench.units import present_to_ears

__all__ = ["Moore2016", "diotic", "monaural"]


def diotic(x: torch.Tensor) -> torch.Tensor:
    """Present a mono signal to both ears, for :class:`Moore2016`.

    Parameters
    ----------
    x : Tensor, Pa
        Mono signal ``(..., T)``, e.g. ``(B, T)``.

    Returns
    -------
    Tensor
        ``(..., 2, T)`` (axes ``'BET'``), Pa: the same signal at the left and the right ear.

    See Also
    --------
    workbench.units.to_model_input : pascals to any model's input (``ears='diotic'``).

    References
    ----------
    Moore et al. (2016), diotic presentation (both ears).

    Examples
    --------
    >>> diotic(torch.ones(4, 100)).shape
    torch.Size([4, 2, 100])
    """
    return present_to_ears(x, "diotic")


def monaural(x: torch.Tensor, ear: str = "left") -> torch.Tensor:
    """Present a mono signal to one ear, the other silent, for :class:`Moore2016`.

    Parameters
    ----------
    x : Tensor, Pa
        Mono signal ``(..., T)``, e.g. ``(B, T)``.
    ear : {'left', 'right'}

    Returns
    -------
    Tensor
        ``(..., 2, T)`` (axes ``'BET'``, left first), Pa, zeros at the other ear.

    See Also
    --------
    workbench.units.to_model_input : pascals to any model's input (``ears='left'``/``'right'``).

    References
    ----------
    Moore et al. (2016), monaural presentation (one ear).

    Examples
    --------
    >>> monaural(torch.ones(1, 3), "right")
    tensor([[[0., 0., 0.],
             [1., 1., 1.]]])
    """
    return present_to_ears(x, check_choice(ear, ("left", "right"), "ear"))


class Moore2016(LoudnessModel):
    """Binaural time-varying loudness (Moore et al. 2016; AMT ``moore2016``).

    Parameters
    ----------
    fs : float, Hz
        32000 only.
    learnable : bool
        C, the AGC coefficients and the inhibition exponent become parameters.
    return_stages : bool
    dtype : torch.dtype
    outer_middle_ear_kwargs : dict
        ``compensation_type`` ('tfOuterMiddle2007' only), ``field_type`` ('free': the
        Cambridge FIR of AMT; 'diffuse': designed from the ANSI S3.4-2007 tables) or ``kind``
        (a :func:`~workbench.stages.loudness.loudness_ear_fir` kind).
    spectrum_kwargs : dict
        ``hop_length`` (32 samples = 1 ms), ``n_windows`` (6), ``n_fft``, ``n_ffts``,
        ``band_edges_hz``, ``hann_correction_db``, ``range_db`` (60), ``floor_db``.
    excitation_kwargs : dict
        ``erb_lower``, ``erb_upper``, ``erb_step`` (Cam), ``level_slope``.
    specific_loudness_kwargs : dict
        ``C`` (0.0631), ``threshold_db_above_500`` (3.63).
    temporal_integration_kwargs, ltl_agc_kwargs : dict
        ``attack_alpha``, ``release_alpha`` (per 1 ms frame).
    binaural_loudness_kwargs : dict
        ``sigma`` (0.08 per Cam), ``p`` (1.5978).

    Returns
    -------
    (Tensor, Tensor, Tensor)
        ``forward(audio)``, ``audio`` ``(B, 2, T)`` or ``(2, T)`` in Pa (left, right):
        short-term and long-term loudness ``(B, K)`` (sone, both ears) and the maximum
        long-term loudness ``(B,)``; with ``return_stages`` also the stage dict
        (:attr:`stage_info`; per ear, levels NaN where a component is not relevant).
        Unknown keyword-dict keys raise ``TypeError``. Submodules (spec names):
        ``outer_middle_ear``, ``spectrum``, ``excitation``, ``specific_loudness``,
        ``temporal_integration``, ``binaural_loudness``, ``ltl_agc_left``, ``ltl_agc_right``.

    References
    ----------
    Moore, Glasberg, Varathanathan & Schlittenlacher (2016), Trends Hear. 20; AMT 1.4
    ``moore2016``.

    Examples
    --------
    >>> from workbench import stimuli
    >>> stl, ltl, peak = Moore2016()(diotic(stimuli.tone(1000, 0.3, 32000, 40.0)))
    >>> stl.shape, peak.shape
    (torch.Size([301]), torch.Size([]))
    """

    input_axes, input_name = "BET", "audio"

    def __init__(
        self,
        fs: float = 32000,
        learnable: bool = False,
        return_stages: bool = False,
        dtype: torch.dtype = torch.float32,
        outer_middle_ear_kwargs=None,
        spectrum_kwargs=None,
        excitation_kwargs=None,
        specific_loudness_kwargs=None,
        temporal_integration_kwargs=None,
        binaural_loudness_kwargs=None,
        ltl_agc_kwargs=None,
    ):
        super().__init__()
        fs = self._check_settings(fs, learnable, return_stages, dtype)
        if fs != 32000:
            raise ValueError(
                f"Moore2016 runs at fs = 32000 Hz only, got fs = {fs:g}; resample first with "
                "workbench.stages.resample.resample(audio, fs, 32000)"
            )
        self.fs = 32000
        ear = check_kwargs(
            outer_middle_ear_kwargs, ("kind", "compensation_type", "field_type"), "outer_middle_ear_kwargs"
        )
        spec = check_kwargs(
            spectrum_kwargs, L.MultiResolutionSpectrum.KWARGS + ("range_db", "floor_db"), "spectrum_kwargs"
        )
        exc = check_kwargs(
            excitation_kwargs, ("erb_lower", "erb_upper", "erb_step", "level_slope"), "excitation_kwargs"
        )
        sl = check_kwargs(specific_loudness_kwargs, ("C", "threshold_db_above_500"), "specific_loudness_kwargs")
        st = check_kwargs(temporal_integration_kwargs, ("attack_alpha", "release_alpha"), "temporal_integration_kwargs")
        bi = check_kwargs(binaural_loudness_kwargs, ("sigma", "p"), "binaural_loudness_kwargs")
        lt = check_kwargs(ltl_agc_kwargs, ("attack_alpha", "release_alpha"), "ltl_agc_kwargs")

        check_choice(
            ear.get("compensation_type", "tfOuterMiddle2007"),
            ("tfOuterMiddle2007",),
            "outer_middle_ear_kwargs['compensation_type']",
        )
        field = check_choice(
            ear.get("field_type", "free"), ("free", "diffuse"), "outer_middle_ear_kwargs['field_type']"
        )
        self.ear_kind = check_choice(
            ear.get("kind", {"free": "moore2016_free", "diffuse": "ansi2007_diffuse"}[field]),
            ("moore2016_free", "ansi2007_free", "ansi2007_diffuse", "ansi1997_free"),
            "outer_middle_ear_kwargs['kind']",
        )
        self.outer_middle_ear = L.OuterMiddleEarFIR(self.ear_kind, dtype=dtype)
        self.relevance = L.check_relevance(spec.pop("range_db", 60.0), spec.pop("floor_db", 30.0), "spectrum_kwargs")
        self.spectrum = L.MultiResolutionSpectrum(32000.0, dtype=dtype, **spec)
        self.cam_step = check_positive(exc.get("erb_step", 0.25), "excitation_kwargs['erb_step']")
        cams = L.cam_grid(exc.get("erb_lower", 1.75), exc.get("erb_upper", 39.0), self.cam_step)
        self.excitation = L.RoexExcitation(
            self.spectrum.freqs_hz.double().numpy(), cams, level_slope=exc.get("level_slope", 0.35), dtype=dtype
        )
        self.specific_loudness = L.SpecificLoudness(
            self.excitation.center_freqs_hz.double().numpy(),
            **{"C": 0.0631, "threshold_db_above_500": 3.63, **sl},
            learnable=learnable,
            dtype=dtype,
        )
        agc = lambda kw, a, r, name: L.AttackRelease(  # noqa: E731
            kw.get("attack_alpha", a),
            kw.get("release_alpha", r),
            learnable,
            dtype,
            names=(f"{name}['attack_alpha']", f"{name}['release_alpha']"),
        )
        self.temporal_integration = agc(st, 0.045, 0.033, "temporal_integration_kwargs")
        self.binaural_loudness = L.BinauralInhibition(
            bi.get("p", 1.5978), bi.get("sigma", 0.08), self.cam_step, learnable, dtype
        )
        self.ltl_agc_left = agc(lt, 0.01, 0.00133, "ltl_agc_kwargs")
        self.ltl_agc_right = agc(lt, 0.01, 0.00133, "ltl_agc_kwargs")

    @property
    def center_freqs_hz(self) -> torch.Tensor:
        return self.excitation.center_freqs_hz

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        rate, info = 32000.0 / self.spectrum.hop, {}
        for side in ("left", "right"):
            ear = dict(ear=side)
            info.update(
                {
                    f"filtered_{side}": self._ear_filter_stage(side),
                    f"freqs_{side}": StageInfo(
                        f"component frequencies ({side})",
                        "Hz",
                        "BKF",
                        rate,
                        "Frequencies (Hz) of the spectral components, NaN where a component is not relevant.",
                        **ear,
                    ),
                    f"levels_{side}": StageInfo(
                        f"spectral components ({side})",
                        "dB SPL",
                        "BKF",
                        rate,
                        "Short-term spectrum per 1 ms frame (six window lengths); only "
                        "components within 60 dB of the louder ear's maximum are kept.",
                        f"freqs_{side}",
                        **ear,
                    ),
                    f"excitation_{side}": StageInfo(
                        f"excitation pattern ({side})",
                        "dB SPL",
                        "BKZ",
                        rate,
                        "Level-dependent spread of excitation along the cochlea "
                        "(roex filters), in each 1 ms frame; -inf dB in bands no component "
                        "reaches (far below a tone, a silent ear).",
                        **ear,
                    ),
                    f"inst_spec_loud_{side}": StageInfo(
                        f"instantaneous specific loudness ({side})",
                        "sone/Cam",
                        "BKZ",
                        rate,
                        "Loudness per Cam band in each 1 ms frame: a compressive function of the excitation.",
                        **ear,
                    ),
                    f"stl_spec_loud_{side}": StageInfo(
                        f"short-term specific loudness ({side})",
                        "sone/Cam",
                        "BKZ",
                        rate,
                        "Attack/release smoothing of the instantaneous specific "
                        "loudness, before the binaural inhibition.",
                        **ear,
                    ),
                    f"stl_loud_{side}": StageInfo(
                        f"short-term loudness ({side})",
                        "sone",
                        "BK",
                        rate,
                        "Each ear's short-term specific loudness, inhibited by the other ear's, summed over the bands.",
                        **ear,
                    ),
                    f"ltl_loud_{side}": StageInfo(
                        f"long-term loudness ({side})",
                        "sone",
                        "BK",
                        rate,
                        "Slower smoothing of this ear's short-term loudness.",
                        **ear,
                    ),
                }
            )
        info["output"] = StageInfo(
            "long-term loudness (both ears)",
            "sone",
            "BK",
            rate,
            "The two ears' long-term loudness summed: the overall impression.",
        )
        return info

    def to_representation(self, output):
        return super().to_representation(output[1])  # the long-term loudness

    def get_parameters(self) -> dict:
        """Model settings: fs (Hz), learnable, return_stages, dtype and the ear-filter kind."""
        return {
            "fs": self.fs,
            "learnable": self.learnable,
            "return_stages": self.return_stages,
            "dtype": self.dtype,
            "ear_filter": self.ear_kind,
        }

    def extra_repr(self) -> str:
        return f"fs={self.fs}, bands={self.excitation.center_freqs_hz.numel()}, learnable={self.learnable}"

    def forward(self, audio: torch.Tensor):
        return super().forward(audio)

    def _run(self, x: torch.Tensor):
        x = x.to(dtype=self.ear_fir.dtype, device=self.ear_fir.device)  # follows .to()/.double()

        filtered = self.outer_middle_ear(x)  # (B, 2, T + 2048)
        intensity = self.spectrum(filtered)  # (B, 2, K, F)
        relevant = L.relevance_mask(intensity, joint_dim=1, range_db=self.relevance[0], floor_db=self.relevance[1])
        excitation = self.excitation(intensity, relevant)  # (B, 2, K, Z)
        inst = self.specific_loudness(excitation)
        stl_spec = self.temporal_integration(inst.transpose(-1, -2)).transpose(-1, -2)
        inhibited = self.binaural_loudness(stl_spec[:, 0], stl_spec[:, 1])
        stl_ears = torch.stack([n.sum(-1) * self.cam_step for n in inhibited], dim=1)  # (B, 2, K)
        ltl_ears = torch.stack([self.ltl_agc_left(stl_ears[:, 0]), self.ltl_agc_right(stl_ears[:, 1])], dim=1)
        s_loud, l_loud = stl_ears.sum(1), ltl_ears.sum(1)
        out = (s_loud, l_loud, l_loud.amax(-1))
        if not self.return_stages:
            return out, {}
        nan = torch.full((), float("nan"), dtype=intensity.dtype, device=intensity.device)
        freqs = self.spectrum.freqs_hz.expand_as(intensity)
        per_ear = {
            "filtered": filtered,
            "freqs": torch.where(relevant, freqs, nan),
            "levels": torch.where(relevant, 10 * torch.log10(intensity.clamp_min(1e-300)), nan),
            "excitation": 10 * torch.log10(excitation),
            "inst_spec_loud": inst,
            "stl_spec_loud": stl_spec,
            "stl_loud": stl_ears,
            "ltl_loud": ltl_ears,
        }
        return out, {f"{k}_{side}": v[:, e] for e, side in enumerate(("left", "right")) for k, v in per_ear.items()}
