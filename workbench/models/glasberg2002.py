"""Glasberg & Moore (2002) time-varying loudness, with ANSI S3.4-2007 specific loudness.

The published model, not AMT 1.4's ``glasberg2002`` code (see "Differences from AMT"):

1. outer + middle ear: ANSI S3.4-2007 free-field (or diffuse-field) transfer function, as a
   4097-tap zero-phase FIR designed from the tables;
2. spectrum every 1 ms from six Hann windows of 64, 32, 16, 8, 4, 2 ms, supplying
   20-80, 80-500, 500-1250, 1250-2540, 2540-4050, 4050-15000 Hz (paper, Table 1), windows
   centred on the frame time; components more than 100 dB below the frame maximum are
   skipped (no effect above 1e-4 relative; Moore et al. 2016 drop everything 60 dB down,
   which lowers the loudness of an 80 dB tone by 0.8 %, so not here);
3. excitation: roex filters on 0.25-Cam bands (default 1.75..39 Cam, 150 bands), lower slope
   set by the input level per ERB at each component;
4. specific loudness: ANSI S3.4-2007 (threshold 3.73 dB from 500 Hz) with
   ``C = 0.04733``: the ANSI constant 0.046871 rescaled (x1.0098) so that this time-varying
   spectrum gives 1.00 sone for a 40 dB SPL 1 kHz tone, as Moore et al. (2016) rescaled
   theirs (0.0631 instead of 4/3 x 0.046871); the phon scale keeps the ANSI stationary model;
5. instantaneous loudness = sum x 0.25 Cam, x 2 for the default ``presentation='diotic'``
   (ANSI binaural summation; ``'monaural'``: one ear); short-term loudness: AGC with
   attack 0.045 / release 0.02 per 1 ms; long-term loudness: AGC on it with 0.01 / 0.0005.

Input in **Pa**, ``(B, T)`` or ``(T,)``. The model runs at 32 kHz; other rates are resampled
in ``forward`` (:func:`workbench.stages.resample.resample`). Output frames
``F = T32 // 32 + 1`` (``T32`` = samples at 32 kHz), frame ``k`` centred at ``k`` ms.

Differences from AMT 1.4 ``glasberg2002`` (checked against its reference outputs): AMT
passes the excitation in Pa^2 rather than re (20 uPa)^2 to the specific-loudness stage
(loudness ~1e-15 sone), designs the ear FIR with amplitude 10^(dB/10) and applies it with
``filtfilt`` (4x the dB response), normalises the spectrum as a density without the bin
width, and aligns the windows at their starts. Its transfer-function tables and band layout
are the ANSI ones used here.

Streaming (``streaming=True``, fs = 32 kHz): feed consecutive blocks of one signal (any
lengths); each call returns the frames that are complete so far (a frame needs 3072 samples
after its centre: ear filter + half window), :meth:`flush` returns the rest and ends the
stream. The concatenated outputs equal the non-streaming output for the whole signal (input
history and AGC states are carried). :meth:`reset_state` starts a new stream. With
``streaming=False`` (default) every call is independent and nothing is kept between calls.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench._validation import MAX_MODEL_FS_HZ, check_bool, check_choice, check_kwargs, check_positive
from workbench.models.base import LoudnessModel, StageInfo
from workbench.stages import loudness as L
from workbench.stages.resample import resample
from workbench.units import P_REF_PA, hz_to_cam

__all__ = ["Glasberg2002"]

MIN_FS_HZ = 1000.0

# Keys the spec (torch_amt) documents that have no counterpart here: why, and what to use.
_SPEC_ONLY_KEYS = {
    "excitation_kwargs": (
        ("upper_slope_base", "lower_slope_base", "upper_slope_per_db", "lower_slope_per_db"),
        "the roex excitation of the paper has no dB/ERB spreading slopes; its level "
        "dependence is set by level_slope (0.35) and pivot_level_db (51)",
    ),
    "specific_loudness_kwargs": (
        ("f_min", "f_max", "erb_step"),
        "the band grid is shared by all stages: set it with erb_kwargs",
    ),
}


class Glasberg2002(LoudnessModel):
    """Glasberg & Moore (2002) time-varying loudness (module docstring).

    Parameters
    ----------
    fs : float, Hz
        Input rate (resampled to 32 kHz).
    learnable : bool
        C and the four AGC coefficients become parameters.
    return_stages : bool
    multi_fft_kwargs : dict
        ``hop_length`` (samples at 32 kHz, 32), ``n_fft`` (2048) or ``n_ffts`` (the six window
        lengths), ``band_edges_hz``, ``hann_correction_db``, ``range_db``, ``floor_db``.
    erb_kwargs : dict
        ``erb_lower``, ``erb_upper``, ``erb_step`` (Cam; 1.75, 39, 0.25) or ``f_min``,
        ``f_max`` (Hz), ``bandwidth_scale`` (width of the ``'erb_excitation'`` window, ERB, 1).
    excitation_kwargs : dict
        ``level_slope`` (0.35), ``pivot_level_db`` (51).
    specific_loudness_kwargs : dict
        ``C``, ``threshold_db_above_500``.
    loudness_integration_kwargs : dict
        ``stl_attack``, ``stl_release``, ``ltl_attack``, ``ltl_release`` (per 1 ms frame) or
        ``tau_attack``, ``tau_release`` (s, long-term AGC: ``alpha = 1 - exp(-1 ms / tau)``).
    dtype : torch.dtype
    presentation : {'diotic', 'monaural'}
    field : {'free', 'diffuse'}
    streaming : bool
        Carry input history and AGC states between calls (module docstring).

    Returns
    -------
    Tensor
        ``forward(audio)``, ``audio`` ``(B, T)`` or ``(T,)`` in Pa: long-term loudness ``(B, K)``
        sone, K frames of 1 ms; with ``return_stages`` also the stages (:attr:`stage_info`).

    Notes
    -----
    Submodules have the spec's names (``multi_fft``, ``excitation_pattern``,
    ``loudness_integration.stl`` / ``.ltl``, ...). Differences from the spec (torch_amt),
    following the paper: frames every 1 ms (spec: hop 512 samples), bands 1.75..39 Cam on
    Moore's Cam scale (47.5 Hz to 15.1 kHz; ``erb_kwargs={'f_min': 80, 'f_max': 12000,
    'erb_step': 0.5}`` gives 69 bands, spec 75), roex excitation (no dB/ERB spreading slopes:
    use ``level_slope``), two AGCs with the paper's coefficients (0.045/0.02, 0.01/0.0005 per
    ms; the spec's 50/200 ms are torch_amt's), the ANSI S3.4-2007 sone<->phon table instead
    of ``40 + 10 log2(sone)`` (they agree at 1 sone).

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342; ANSI S3.4-2007.

    Examples
    --------
    >>> from workbench import stimuli
    >>> round(float(Glasberg2002()(stimuli.tone(1000, 1.0, 32000, 40.0)).max()), 2)  # 40 dB SPL: 1 sone
    1.0
    """

    input_name = "audio"

    def __init__(
        self,
        fs: float = 32000,
        learnable: bool = False,
        return_stages: bool = False,
        multi_fft_kwargs=None,
        erb_kwargs=None,
        excitation_kwargs=None,
        specific_loudness_kwargs=None,
        loudness_integration_kwargs=None,
        *,
        dtype: torch.dtype = torch.float32,
        presentation: str = "diotic",
        field: str = "free",
        streaming: bool = False,
    ):
        super().__init__()
        fs = self._check_settings(fs, learnable, return_stages, dtype)
        if fs < MIN_FS_HZ:  # resampled to 32 kHz: a ratio above 32 would need a huge filter
            raise ValueError(
                f"fs must lie in [{MIN_FS_HZ:g}, {MAX_MODEL_FS_HZ:g}] Hz (resampled to 32 kHz), got {fs:g}"
            )
        self.fs = int(fs) if fs.is_integer() else fs
        self.streaming = check_bool(streaming, "streaming")
        if self.streaming and self.fs != 32000:
            raise ValueError(
                f"streaming=True needs fs = 32000 Hz (got {self.fs:g}): resample the stream first "
                "with workbench.stages.resample.resample(x, fs, 32000)"
            )
        self.presentation = check_choice(presentation, ("diotic", "monaural"), "presentation")
        self.binaural_factor = 2.0 if presentation == "diotic" else 1.0  # ANSI binaural summation
        check_choice(field, ("free", "diffuse"), "field")
        mf = check_kwargs(
            multi_fft_kwargs,
            ("hop_length", "n_fft", "n_ffts", "band_edges_hz", "hann_correction_db", "range_db", "floor_db"),
            "multi_fft_kwargs",
        )
        ek = check_kwargs(
            erb_kwargs, ("erb_lower", "erb_upper", "erb_step", "f_min", "f_max", "bandwidth_scale"), "erb_kwargs"
        )
        for name, given in (
            ("excitation_kwargs", excitation_kwargs),
            ("specific_loudness_kwargs", specific_loudness_kwargs),
        ):
            keys, why = _SPEC_ONLY_KEYS[name]
            if isinstance(given, dict) and set(given) & set(keys):
                raise TypeError(f"{name}: {sorted(set(given) & set(keys))} not supported: {why}")
        xk = check_kwargs(excitation_kwargs, ("level_slope", "pivot_level_db"), "excitation_kwargs")
        sk = check_kwargs(specific_loudness_kwargs, ("C", "threshold_db_above_500"), "specific_loudness_kwargs")
        lk = check_kwargs(
            loudness_integration_kwargs,
            ("stl_attack", "stl_release", "ltl_attack", "ltl_release", "tau_attack", "tau_release"),
            "loudness_integration_kwargs",
        )
        for tau, coef in (("tau_attack", "ltl_attack"), ("tau_release", "ltl_release")):
            if tau in lk:
                if coef in lk:
                    raise TypeError(f"loudness_integration_kwargs: give {tau} (s) or {coef} (per frame), not both")
                lk[coef] = L.alpha_from_tau(lk.pop(tau), 1e-3, f"loudness_integration_kwargs['{tau}']")

        self.outer_middle_ear = L.OuterMiddleEarFIR(f"ansi2007_{field}", dtype=dtype)
        self.relevance = L.check_relevance(mf.pop("range_db", 100.0), mf.pop("floor_db", 30.0), "multi_fft_kwargs")
        self.multi_fft = L.MultiResolutionSpectrum(32000.0, dtype=dtype, **mf)
        cam_of = lambda key: float(hz_to_cam(check_positive(ek.pop(key), f"erb_kwargs['{key}'] (Hz)")))  # noqa: E731
        lower = cam_of("f_min") if "f_min" in ek else ek.get("erb_lower", 1.75)
        upper = cam_of("f_max") if "f_max" in ek else ek.get("erb_upper", 39.0)
        self.cam_step = check_positive(ek.get("erb_step", 0.25), "erb_kwargs['erb_step']")
        cams = L.cam_grid(lower, upper, self.cam_step)
        freqs = self.multi_fft.freqs_hz.double().numpy()
        self.erb_integration = L.ERBIntegration(freqs, cams, ek.get("bandwidth_scale", 1.0), dtype=dtype)
        self.excitation_pattern = L.RoexExcitation(freqs, cams, dtype=dtype, **xk)
        self.specific_loudness = L.SpecificLoudness(
            self.excitation_pattern.center_freqs_hz.double().numpy(),
            **{"C": 0.04733, "threshold_db_above_500": 3.73, **sk},
            learnable=learnable,
            dtype=dtype,
        )

        def attack_release(name: str, attack: float, release: float):  # defaults: per-frame coefficients
            keys = (f"{name}_attack", f"{name}_release")
            return L.AttackRelease(lk.get(keys[0], attack), lk.get(keys[1], release), learnable, dtype, names=keys)

        self.loudness_integration = nn.ModuleDict(
            {"stl": attack_release("stl", 0.045, 0.02), "ltl": attack_release("ltl", 0.01, 0.0005)}
        )
        self._state = None

    @property
    def center_freqs_hz(self) -> torch.Tensor:
        return self.excitation_pattern.center_freqs_hz

    # ------------------------------------------------------------------ helpers of the spec
    def reset_state(self) -> None:
        """Forget the AGC states carried in streaming mode (no effect otherwise)."""
        self._state = None

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        rate = 32000.0 / self.multi_fft.hop
        info = {
            "stl": StageInfo(
                "short-term loudness",
                "sone",
                "BK",
                rate,
                "Attack/release smoothing of the instantaneous loudness: what is heard moment to moment.",
            ),
            "specific_loudness": StageInfo(
                "specific loudness (one ear)",
                "sone/Cam",
                "BKZ",
                rate,
                "Loudness per Cam band: a compressive function of the excitation; "
                "summed over the bands it gives the instantaneous loudness.",
            ),
            "excitation": StageInfo(
                "excitation pattern",
                "dB SPL",
                "BKZ",
                rate,
                "Level-dependent spread of excitation along the cochlea (roex filters), "
                "in each 1 ms frame; -inf dB in bands no component reaches (far below a tone).",
            ),
            "erb_excitation": StageInfo(
                "input level per ERB",
                "dB SPL",
                "BKZ",
                rate,
                "Power of the spectral components within one ERB of each band centre, "
                "before the spread of excitation; -inf dB in bands without a component.",
            ),
            "psd": StageInfo(
                "power spectral density",
                "Pa^2/Hz",
                "BKF",
                rate,
                "Short-term spectrum per 1 ms frame, assembled from six window lengths (long "
                "windows at low frequencies, short ones at high frequencies).",
                "freqs",
            ),
            "freqs": StageInfo(
                "component frequencies", "Hz", "F", about="Frequencies (Hz) of the power spectral density's components."
            ),
            "instantaneous_loudness": StageInfo(
                "instantaneous loudness",
                "sone",
                "BK",
                rate,
                "Specific loudness summed over the bands, 1 ms frame by frame.",
            ),
            "filtered": self._ear_filter_stage(),
            "output": StageInfo(
                "long-term loudness",
                "sone",
                "BK",
                rate,
                "Slower smoothing of the short-term loudness: the overall impression.",
            ),
        }
        if self.streaming:
            del info["filtered"]
        return info

    def get_learnable_parameters(self) -> dict:
        """Current values by component ({} unless ``learnable``), the spec's five keys:
        ``multi_fft``, ``erb_integration``, ``excitation_pattern`` (fixed settings, reported for
        reference), ``specific_loudness`` (``C``) and ``loudness_integration`` (the four AGC
        coefficients and the long-term ``tau_attack``/``tau_release`` in s) are trainable."""
        if not self.learnable:
            return {}
        li = self.loudness_integration
        agc = {f"{k}_{e}": float(getattr(li[k], e).detach()) for k in ("stl", "ltl") for e in ("attack", "release")}
        agc.update(
            tau_attack=-1e-3 / math.log1p(-agc["ltl_attack"]), tau_release=-1e-3 / math.log1p(-agc["ltl_release"])
        )
        return {
            "multi_fft": {"hop_length": self.multi_fft.hop, "n_fft": self.multi_fft.n_fft},
            "erb_integration": {"erb_step": self.cam_step, "bandwidth_scale": self.erb_integration.bandwidth_scale},
            "excitation_pattern": {
                "level_slope": self.excitation_pattern.level_slope_per_db,
                "pivot_level_db": self.excitation_pattern.pivot_level_db,
            },
            "specific_loudness": {"C": float(self.specific_loudness.C.detach())},
            "loudness_integration": agc,
        }

    def extra_repr(self) -> str:
        return (
            f"fs={self.fs:g}, bands={self.excitation_pattern.center_freqs_hz.numel()}, "
            f"presentation={self.presentation!r}, streaming={self.streaming}, learnable={self.learnable}"
        )

    # ------------------------------------------------------------------ forward
    def _lookahead(self) -> int:
        """Input samples on each side of a frame centre that its value depends on."""
        return (self.ear_fir.numel() - 1) // 2 + self.multi_fft.n_fft // 2

    def _stream_input(self, x: torch.Tensor):
        """Streaming: prepend the kept history; return (buffer, first frame, n frames)."""
        hop, look = self.multi_fft.hop, self._lookahead()
        st = self._state
        if st is None or st["history"].shape[0] != x.shape[0]:
            st = self._state = {"history": x[:, :0], "start": 0, "next": 0, "n_in": 0, "agc": (None, None)}
        buf = torch.cat([st["history"], x], -1)
        st["n_in"] += x.shape[-1]
        end = st["start"] + buf.shape[-1]
        last = (end - look) // hop if x.shape[-1] else st["n_in"] // hop  # empty block: flush
        first = st["next"] - st["start"] // hop
        return buf, first, max(0, last + 1 - st["next"])

    def _stream_advance(self, buf: torch.Tensor, n_frames: int, stl, ltl) -> None:
        st, hop, look = self._state, self.multi_fft.hop, self._lookahead()
        st["next"] += n_frames
        keep_from = max(st["start"], (st["next"] * hop - look) // hop * hop)
        st["history"] = buf[:, keep_from - st["start"] :].detach()
        st["start"] = keep_from
        if n_frames:
            st["agc"] = (stl[:, -1].detach(), ltl[:, -1].detach())

    def flush(self) -> torch.Tensor:
        """Streaming: end the stream. Emits the frames still waiting for look-ahead (zeros
        after the end, as the non-streaming model treats the end of a signal) and resets the
        state."""
        if self._state is None:
            raise RuntimeError("flush() needs a stream: construct with streaming=True and call the model first")
        try:
            return self._finish(*self._run(self._state["history"][:, :0], flushing=True), unbatched=False)
        finally:
            self.reset_state()

    def forward(self, audio: torch.Tensor):
        return super().forward(audio)

    def _run(self, x: torch.Tensor, flushing: bool = False):
        if self.fs != 32000:
            x = resample(x, self.fs, 32000.0)
        x = x.to(dtype=self.ear_fir.dtype, device=self.ear_fir.device)  # follows .to()/.double()
        if self.streaming:
            buf, first, n_frames = self._stream_input(x)
            if flushing:
                buf = torch.cat([buf, buf.new_zeros(buf.shape[0], self._lookahead())], -1)
            x, frames, agc_state = buf, slice(first, first + n_frames), self._state["agc"]
        else:
            frames, agc_state = slice(None), (None, None)

        filtered = self.outer_middle_ear(x)  # (B, T + 2048)
        intensity = self.multi_fft(filtered)[:, frames]  # (B, K, F)
        relevant = L.relevance_mask(intensity, None, *self.relevance)
        intensity = torch.where(relevant, intensity, torch.zeros((), dtype=intensity.dtype, device=x.device))
        excitation = self.excitation_pattern(intensity)  # (B, K, Z)
        specific = self.specific_loudness(excitation)
        inst = specific.sum(-1) * (self.cam_step * self.binaural_factor)
        stl = self.loudness_integration.stl(inst, initial=agc_state[0])
        ltl = self.loudness_integration.ltl(stl, initial=agc_state[1])
        if self.streaming:
            self._stream_advance(buf, inst.shape[-1], stl, ltl)
        if not self.return_stages:
            return ltl, {}
        df = 32000.0 / self.multi_fft.n_fft
        stages = {
            "stl": stl,
            "specific_loudness": specific,
            "excitation": 10 * torch.log10(excitation),
            "erb_excitation": self.erb_integration(intensity),
            "psd": intensity * (P_REF_PA**2 / df),
            "freqs": self.multi_fft.freqs_hz.clone(),
            "instantaneous_loudness": inst,
        }
        if not self.streaming:
            stages["filtered"] = filtered
        return ltl, stages
