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
in ``forward`` (:func:`workbench.stages.loudness.resample_signal`). Output frames
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

import torch
from torch import nn

from workbench._validation import check_choice, check_dtype, check_fs, check_kwargs, check_signal
from workbench.stages import loudness as L

__all__ = ["Glasberg2002"]


class Glasberg2002(nn.Module):
    """Glasberg & Moore (2002) loudness; ``forward(audio)`` -> long-term loudness ``(B, F)``.

    With ``return_stages=True`` returns ``(ltl, stages)``; stage keys: ``'stl'`` ``(B, F)``
    sone, ``'instantaneous_loudness'`` ``(B, F)`` sone, ``'specific_loudness'``
    ``(B, F, C)`` sone/Cam (one ear), ``'excitation'`` ``(B, F, C)`` dB SPL,
    ``'erb_excitation'`` ``(B, F, C)`` dB SPL (component power within +-0.5 Cam of each band
    centre), ``'psd'`` ``(B, F, K)`` Pa^2/Hz (zero where a component was dropped),
    ``'freqs'`` ``(K,)`` Hz, ``'filtered'`` ``(B, T + 2048)`` Pa (ear-filter output; not when streaming).

    Keyword dicts (unknown keys raise): ``multi_fft_kwargs``: ``hop_length``, ``n_fft``,
    ``band_edges_hz``, ``hann_correction_db``, ``range_db``, ``floor_db``; ``erb_kwargs``:
    ``erb_lower``, ``erb_upper``, ``erb_step`` (Cam) or ``f_min``, ``f_max`` (Hz);
    ``excitation_kwargs``: ``level_slope``, ``pivot_level_db``; ``specific_loudness_kwargs``:
    ``C``, ``threshold_db_above_500``; ``loudness_integration_kwargs``: ``stl_attack``,
    ``stl_release``, ``ltl_attack``, ``ltl_release`` (coefficients per frame).
    """

    def __init__(self, fs: float = 32000, learnable: bool = False, return_stages: bool = False,
                 multi_fft_kwargs=None, erb_kwargs=None, excitation_kwargs=None, specific_loudness_kwargs=None,
                 loudness_integration_kwargs=None, *, dtype: torch.dtype = torch.float32,
                 presentation: str = "diotic", field: str = "free", streaming: bool = False):
        super().__init__()
        self.fs, self.learnable, self.return_stages = check_fs(fs), bool(learnable), bool(return_stages)
        self.dtype, self.streaming = check_dtype(dtype), bool(streaming)
        if self.streaming and self.fs != 32000:
            raise ValueError(f"streaming=True needs fs = 32000 Hz (got {self.fs:g}): resample the stream first "
                             "with workbench.stages.loudness.resample_signal")
        self.presentation = check_choice(presentation, ("diotic", "monaural"), "presentation")
        check_choice(field, ("free", "diffuse"), "field")
        mf = check_kwargs(multi_fft_kwargs, ("hop_length", "n_fft", "band_edges_hz", "hann_correction_db",
                                             "range_db", "floor_db"), "multi_fft_kwargs")
        ek = check_kwargs(erb_kwargs, ("erb_lower", "erb_upper", "erb_step", "f_min", "f_max"), "erb_kwargs")
        xk = check_kwargs(excitation_kwargs, ("level_slope", "pivot_level_db"), "excitation_kwargs")
        sk = check_kwargs(specific_loudness_kwargs, ("C", "threshold_db_above_500"), "specific_loudness_kwargs")
        lk = check_kwargs(loudness_integration_kwargs, ("stl_attack", "stl_release", "ltl_attack", "ltl_release"),
                          "loudness_integration_kwargs")

        self.register_buffer("ear_fir", torch.tensor(L.loudness_ear_fir(f"ansi2007_{field}"), dtype=dtype),
                             persistent=False)
        self.relevance = (mf.pop("range_db", 100.0), mf.pop("floor_db", 30.0))
        if "hop_length" in mf:
            mf["hop"] = mf.pop("hop_length")
        self.multi_fft = L.MultiResolutionSpectrum(32000.0, dtype=dtype, **mf)
        lower = float(L.hz_to_cam(ek.pop("f_min"))) if "f_min" in ek else ek.get("erb_lower", 1.75)
        upper = float(L.hz_to_cam(ek.pop("f_max"))) if "f_max" in ek else ek.get("erb_upper", 39.0)
        self.cam_step = float(ek.get("erb_step", 0.25))
        cams = L.cam_grid(lower, upper, self.cam_step)
        freqs = self.multi_fft.freqs_hz.double().numpy()
        self.excitation_pattern = L.RoexExcitation(freqs, cams, dtype=dtype, **xk)
        self.register_buffer("erb_matrix", torch.as_tensor(L.erb_integration_matrix(freqs, cams), dtype=dtype),
                             persistent=False)
        self.specific_loudness = L.SpecificLoudness(self.excitation_pattern.center_freqs_hz.double().numpy(),
                                                    C=sk.get("C", 0.04733),
                                                    threshold_db_above_500=sk.get("threshold_db_above_500", 3.73),
                                                    learnable=learnable, dtype=dtype)
        self.stl_attack = L.scalar_parameter(lk.get("stl_attack", 0.045), learnable, dtype)
        self.stl_release = L.scalar_parameter(lk.get("stl_release", 0.02), learnable, dtype)
        self.ltl_attack = L.scalar_parameter(lk.get("ltl_attack", 0.01), learnable, dtype)
        self.ltl_release = L.scalar_parameter(lk.get("ltl_release", 0.0005), learnable, dtype)
        self._state = None

    # ------------------------------------------------------------------ helpers of the spec
    def reset_state(self) -> None:
        """Forget the AGC states carried in streaming mode (no effect otherwise)."""
        self._state = None

    def get_erb_frequencies(self) -> torch.Tensor:
        """Band centre frequencies (Hz), ``(C,)``."""
        return self.excitation_pattern.center_freqs_hz.clone()

    def get_learnable_parameters(self) -> dict:
        """Current values of the trainable parameters by component ({} unless ``learnable``)."""
        if not self.learnable:
            return {}
        return {"specific_loudness": {"C": float(self.specific_loudness.C.detach())},
                "loudness_integration": {k: float(getattr(self, k).detach()) for k in
                                         ("stl_attack", "stl_release", "ltl_attack", "ltl_release")}}

    def _binaural_factor(self) -> float:
        return 2.0 if self.presentation == "diotic" else 1.0

    def compute_loudness_level(self, ltl: torch.Tensor) -> torch.Tensor:
        """Loudness (sone) -> loudness level (phon): level of the equally loud 1 kHz tone in the
        ANSI S3.4-2007 stationary model (its Table 7 relation; same presentation), e.g.
        40 phon = 0.997 sone, 60 phon = 4.166 sone, 80 phon = 15.98 sone. Differentiable."""
        return L.loudness_level_table(self._binaural_factor()).sone_to_phon(ltl)

    def compute_loudness_from_level(self, phon: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`compute_loudness_level`: phon -> sone."""
        return L.loudness_level_table(self._binaural_factor()).phon_to_sone(phon)

    def extra_repr(self) -> str:
        return (f"fs={self.fs:g}, bands={self.excitation_pattern.center_freqs_hz.numel()}, "
                f"presentation={self.presentation!r}, streaming={self.streaming}, learnable={self.learnable}")

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
        st["history"] = buf[:, keep_from - st["start"]:].detach()
        st["start"] = keep_from
        if n_frames:
            st["agc"] = (stl[:, -1].detach(), ltl[:, -1].detach())

    def flush(self) -> torch.Tensor:
        """Streaming: end the stream. Emits the frames still waiting for look-ahead (zeros
        after the end, as the non-streaming model treats the end of a signal) and resets the
        state."""
        if self._state is None:
            raise RuntimeError("flush() needs a stream: construct with streaming=True and call the model first")
        b = self._state["history"].shape[0]
        self._flushing = True
        try:
            return self.forward(self._state["history"].new_zeros(b, 0))
        finally:
            self._flushing = False
            self.reset_state()

    def forward(self, audio: torch.Tensor):
        flushing = getattr(self, "_flushing", False)
        if not flushing:
            audio = check_signal(audio, "audio", max_dims=2, min_samples=2)
        single = audio.dim() == 1
        x = audio.unsqueeze(0) if single else audio
        if self.fs != 32000:
            x = L.resample_signal(x, self.fs, 32000.0)
        if x.shape[-1]:
            L.warn_if_too_loud(x, "audio")
        x = x.to(dtype=self.ear_fir.dtype, device=self.ear_fir.device)  # follows .to()/.double()
        if self.streaming:
            buf, first, n_frames = self._stream_input(x)
            if flushing:
                buf = torch.cat([buf, buf.new_zeros(buf.shape[0], self._lookahead())], -1)
            x, frames, agc_state = buf, slice(first, first + n_frames), self._state["agc"]
        else:
            frames, agc_state = slice(None), (None, None)

        filtered = L.fir_zero_phase(x, self.ear_fir)                          # (B, T + 2048)
        intensity = self.multi_fft(filtered)[:, frames]                       # (B, F, K)
        relevant = L.relevance_mask(intensity, None, *self.relevance)
        intensity = torch.where(relevant, intensity, torch.zeros((), dtype=intensity.dtype, device=x.device))
        excitation = self.excitation_pattern(intensity)                     # (B, F, C)
        specific = self.specific_loudness(excitation)
        inst = specific.sum(-1) * (self.cam_step * self._binaural_factor())
        stl = L.agc(inst, self.stl_attack, self.stl_release, initial=agc_state[0])
        ltl = L.agc(stl, self.ltl_attack, self.ltl_release, initial=agc_state[1])
        if self.streaming:
            self._stream_advance(buf, inst.shape[-1], stl, ltl)
        out = ltl.squeeze(0) if single else ltl
        if not self.return_stages:
            return out
        sq = (lambda t: t.squeeze(0)) if single else (lambda t: t)  # noqa: E731
        p_ref2 = L.P_REF_PA ** 2
        df = 32000.0 / self.multi_fft.n_fft
        stages = {"stl": sq(stl), "instantaneous_loudness": sq(inst), "specific_loudness": sq(specific),
                  "excitation": sq(10 * torch.log10(excitation)),
                  "erb_excitation": sq(10 * torch.log10(intensity @ self.erb_matrix)),
                  "psd": sq(intensity * (p_ref2 / df)), "freqs": self.multi_fft.freqs_hz.clone()}
        if not self.streaming:
            stages["filtered"] = sq(filtered)
        return out, stages
