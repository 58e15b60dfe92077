"""The model contract: what every model declares and every consumer reads instead of the
model's name.

A model is an :class:`AuditoryModel`: an ``nn.Module`` whose ``forward`` keeps the spec's
output (a list, a tensor or a tuple) and which also declares

* its input: ``input_unit`` ('pa', or 'amt' full scale where an rms of 1 is ``dboffset`` dB
  SPL) and ``input_axes``; :func:`workbench.units.to_model_input` converts pascals to it;
* ``input_range_db_spl``: ``(low, high)``, the peak levels (dB SPL of the largest
  ``|sample|``, re 20 uPa, after the input unit's calibration) the model computes
  correctly; ``low`` is ``-inf`` (silence is valid input). ``high`` is the model's own limit
  (the loudness models: 143 dB SPL, a sine of 140 dB SPL rms, the top of the ANSI tables) or,
  by default, :data:`~workbench.units.ATMOSPHERE_PEAK_DB_SPL` (194 dB SPL: the peak pressure
  of one atmosphere, the loudest undistorted sound in air; far beyond it float32 overflows).
  ``min_input_samples``: the shortest input (samples) that gives at least one output sample;
* ``fs`` (Hz), ``center_freqs_hz`` (``fc`` is the spec's alias) and ``num_channels``, and
  ``mfc`` (modulation centre frequencies, Hz) where it has a modulation filterbank;
* :attr:`~AuditoryModel.stage_info`: a :class:`StageInfo` for every ``return_stages`` key,
  in order, and for ``'output'``;
* :meth:`~AuditoryModel.representation`: the output as one ``(B, C, M, T)`` tensor and a
  ``(C, M)`` mask, the same layout for every model.

Axes use one vocabulary (:data:`AXES`): a stage of axes ``'BCT'`` is ``(batch, channel,
time)``. For unbatched input (no B axis) every batched axis B is dropped from the results.
Stages in dB (unit 'dB SPL') are ``10 log10`` of a power: ``-inf`` where that power is zero
(a band no component reaches), never a floor value; NaN marks an entry that does not exist
(e.g. a spectral component below the relevance threshold).
A new model is one file: a subclass that sets the attributes above and implements
``_run(x)`` on batched, validated input, returning ``(output, stages)``.

Input validation (:meth:`AuditoryModel._check_input`, run once per call): shape, dtype and
length everywhere; NaN/inf and the level range only for CPU tensors, because reading the
values of a device tensor would synchronise the host with the device in every forward pass
(on a GPU, input outside the range is not detected). Input on another device than the
model is moved to the model's device; a ``device='meta'`` input needs a meta model
(``model.to('meta')``), which then runs without data (shapes only).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from workbench._validation import MAX_MODEL_FS_HZ, check_bool, check_dtype, check_fs, check_signal
from workbench.stages.decision import stack_representation
from workbench.stages.loudness import loudness_level_table
from workbench.units import ATMOSPHERE_PEAK_DB_SPL, P_REF_PA, pa_per_amt_unit

AXES = {
    "B": "batch",
    "E": "ear (left, right)",
    "C": "auditory channel",
    "M": "modulation filter",
    "T": "time sample",
    "K": "frame",
    "Z": "band on the Cam scale",
    "F": "spectral component",
}


@dataclass(frozen=True)
class StageInfo:
    """Description of one stage (or of the output) of a model.

    Parameters
    ----------
    label : str
        What it is, for titles: a physical quantity where it is one ("stapes velocity", not
        the name of the filter that made it).
    unit : str
        Unit of its values ('MU', 'Pa', 'dB SPL', :func:`amt_unit`, ...).
    axes : str
        One :data:`AXES` letter per tensor axis, batched (``'BCT'``).
    rate_hz : float, Hz, optional
        Sampling rate of its T or K axis (None without one).
    about : str
        One or two sentences for students.
    freqs_key : str, optional
        The stage holding the frequencies (Hz) of its F axis.
    ear : {'left', 'right'}, optional
        For one ear's stage of a binaural model: its label then ends in `` (left)`` or
        `` (right)``, and the stage of the other ear with the same :attr:`quantity` is its
        partner.
    start_s : float, s
        Time of the first sample of the T or K axis re the stimulus onset (negative where a
        filter's delay is kept in the output).

    Examples
    --------
    >>> info = StageInfo("short-term loudness (left)", "sone", "BK", 1000.0, ear="left")
    >>> info.quantity, info.axes
    ('short-term loudness', 'BK')
    """

    label: str
    unit: str
    axes: str
    rate_hz: float | None = None
    about: str = ""
    freqs_key: str | None = None
    ear: str | None = None
    start_s: float = 0.0

    @property
    def quantity(self) -> str:
        """The label without its ear (``'short-term loudness'`` for either ear's stage)."""
        return self.label.removesuffix(f" ({self.ear})") if self.ear else self.label


def amt_unit(dboffset: float) -> str:
    """Unit label of AMT full scale at a calibration, for :attr:`StageInfo.unit`.

    Parameters
    ----------
    dboffset : float, dB SPL
        Level of an rms of 1.

    Returns
    -------
    str
        E.g. ``'full scale (rms 1 = 100 dB SPL)'``.

    References
    ----------
    Majdak, Hollomey & Baumgartner (2022), Acta Acust. 6, 19 (AMT 1.x: its calibration, an rms
    of 1 = ``dboffset`` dB SPL).

    Examples
    --------
    >>> amt_unit(100)
    'full scale (rms 1 = 100 dB SPL)'
    """
    return f"full scale (rms 1 = {dboffset:g} dB SPL)"


def _unbatch(value, axes: str):
    if isinstance(value, (list, tuple)):
        return type(value)(_unbatch(v, axes) for v in value)
    return value[0] if axes.startswith("B") else value


class AuditoryModel(nn.Module):
    """Base class of the six models: the contract (module docstring) and shared input handling.

    Each model has its own constructor arguments; what they share is the call below.

    Parameters
    ----------
    x : Tensor
        What ``model(x)`` takes: the model's ``input_unit`` (Pa, or AMT full scale at
        ``dboffset``) with the axes ``input_axes`` (``'BT'``; ``'BET'`` for a binaural model),
        the batch axis optional.

    Returns
    -------
    list, Tensor or tuple
        The spec's output of the model (``stage_info['output']``); with ``return_stages=True``
        ``(output, stages)``, the stages a dict described by :attr:`stage_info`. Unbatched
        input gives unbatched results.

    References
    ----------
    The model's paper, in each subclass; Majdak, Hollomey & Baumgartner (2022), Acta Acust. 6,
    19 (AMT 1.x, the reference implementations and their calibration).

    Examples
    --------
    >>> from workbench import Dau1997
    >>> from workbench.units import to_model_input
    >>> model = Dau1997(16000, fhigh=4000)
    >>> model.input_unit, model.stage_info["adaptation"].axes
    ('amt', 'BCT')
    >>> rep, mask = model.representation(to_model_input(torch.zeros(1, 800), model))
    >>> rep.shape[:2] == (1, model.num_channels), mask.shape == rep.shape[1:3]
    (True, True)
    """

    input_unit = "pa"
    dboffset = None
    input_axes = "BT"
    input_name = "x"
    mfc = None
    input_range_db_spl: tuple[float, float] = (-math.inf, ATMOSPHERE_PEAK_DB_SPL)
    input_range_about = "the peak pressure of one atmosphere, the loudest undistorted sound in air"
    min_input_samples = 2

    def _check_settings(self, fs, learnable, return_stages, dtype) -> float:
        """Validate the settings every model takes: sets ``learnable``, ``return_stages`` and
        ``dtype``; returns ``fs`` (Hz, in (0, MAX_MODEL_FS_HZ]) for the model to store."""
        self.learnable = check_bool(learnable, "learnable")
        self.return_stages = check_bool(return_stages, "return_stages")
        self.dtype = check_dtype(dtype)
        return check_fs(fs, maximum=MAX_MODEL_FS_HZ)

    @property
    def fc(self) -> torch.Tensor:
        """Alias of ``center_freqs_hz`` (the spec's name)."""
        return self.center_freqs_hz

    @property
    def num_channels(self) -> int:
        """Number of auditory channels (or Cam bands), ``len(center_freqs_hz)``."""
        return len(self.center_freqs_hz)

    @property
    def stage_info(self) -> dict[str, StageInfo]:
        """Ordered :class:`StageInfo` of every ``return_stages`` key, then ``'output'``."""
        raise NotImplementedError

    def forward(self, x):
        x, unbatched = self._batched(x)
        out, stages = self._run(x)
        return self._finish(out, stages, unbatched)

    def _run(self, x: torch.Tensor):
        """``(output, stages)`` for batched, validated input."""
        raise NotImplementedError

    def _batched(self, x, name: str | None = None):
        """Validate ``x`` against ``input_axes``; add the batch axis when missing."""
        name = name or self.input_name
        x = self._check_input(x, name, len(self.input_axes))
        if "E" in self.input_axes and (x.dim() < 2 or x.shape[-2] != 2):
            raise ValueError(
                f"{name} must be stereo (B, 2, T) or (2, T) [left, right], got shape "
                f"{tuple(x.shape)}; for mono input use workbench.units.to_model_input(x, "
                "model, ears='diotic') (or ears='left' / 'right')"
            )
        unbatched = x.dim() < len(self.input_axes)
        return (x.unsqueeze(0) if unbatched else x), unbatched

    def _check_input(self, x, name: str, max_dims: int) -> torch.Tensor:
        """The one input check (module docstring): :func:`~workbench._validation.check_signal`,
        the level range (CPU tensors) and the device; returns ``x`` on the model's device."""
        x = check_signal(x, name, min_samples=self.min_input_samples, max_dims=max_dims)
        if x.device.type == "cpu":
            self._check_level(x, name)
        device = next(itertools.chain(self.parameters(), self.buffers()), x).device
        if x.device != device:
            if x.is_meta:
                raise ValueError(
                    f"{name} is a meta tensor (shapes only, no data) but the model is on "
                    f"'{device}': move the model too, model.to('meta'), or give real samples"
                )
            x = x.to(device)
        return x

    def _check_level(self, x: torch.Tensor, name: str) -> None:
        """Refuse (CPU) input whose peak level lies outside ``input_range_db_spl``."""
        peak = float(x.detach().abs().max())
        if peak == 0:
            return
        unit = "Pa" if self.input_unit == "pa" else amt_unit(self.dboffset)
        pa = peak * (1.0 if self.input_unit == "pa" else pa_per_amt_unit(self.dboffset))
        level = 20 * math.log10(pa / P_REF_PA)
        low, high = self.input_range_db_spl
        if not low <= level <= high:
            raise ValueError(
                f"{name} reaches a peak level of {level:.1f} dB SPL (largest |sample| {peak:.3g}, "
                f"input in {unit}); {type(self).__name__} takes peak levels in "
                f"input_range_db_spl = ({low:g}, {high:.1f}) dB SPL (top: {self.input_range_about})"
            )

    def _finish(self, out, stages: dict, unbatched: bool):
        if unbatched:
            info = self.stage_info
            out = _unbatch(out, "B")
            stages = {k: _unbatch(v, info[k].axes) for k, v in stages.items()}
        return (out, stages) if self.return_stages else out

    def to_representation(self, output) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched ``forward`` output -> ``(B, C, M, T)`` zero-padded tensor and ``(C, M)``
        bool mask of present entries (a model without C or M axes has them of size 1)."""
        return stack_representation(output)

    def representation(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the model on ``x`` (its input unit) -> :meth:`to_representation` of the output,
        always batched (unbatched input gives B = 1)."""
        x, _ = self._batched(x)
        return self.to_representation(self._run(x)[0])

    def output_stage(self, output) -> torch.Tensor:
        """Batched output as a stage of axes ``stage_info['output'].axes``: the representation
        with NaN where a filter is absent, its size-1 C/M axes dropped when the model has none."""
        rep, mask = self.to_representation(output)
        rep = rep.masked_fill(~mask[..., None], float("nan"))
        axes = self.stage_info["output"].axes
        keep = [n for a, n in zip("CMT", rep.shape[1:]) if a in axes or (a == "T" and "K" in axes)]
        return rep.reshape(rep.shape[0], *keep)


class LoudnessModel(AuditoryModel):
    """The loudness models' shared part: Cam bands as channels (``center_freqs_hz`` (Z,) Hz),
    the ear FIR, and sone <-> phon by the ANSI S3.4-2007 stationary model's relation (its
    Table 7 for ``binaural_factor`` ears: 40 phon = 0.997 sone, 60 phon = 4.166, 80 phon = 15.98).

    Input range: peak levels up to 143 dB SPL, a sine of 140 dB SPL rms, the top of the ANSI
    loudness tables (140 phon). Within it the loudness rises with level everywhere: where the
    level per ERB exceeds 137.3 dB SPL (tones near 3 kHz above ~132 dB SPL), the lower skirt
    of the excitation filters, which the published formula would turn upwards, is held flat
    (:class:`~workbench.stages.loudness.RoexExcitation`).

    Parameters
    ----------
    x : Tensor, Pa
        What ``model(x)`` takes: sound pressure at the model's ``fs`` with the axes
        ``input_axes`` (``'BT'``, or ``'BET'`` for the binaural Moore2016), the batch axis
        optional.

    Returns
    -------
    Tensor or tuple
        The model's loudness (sone; see each model), one value per 1 ms frame (axis K).

    References
    ----------
    ANSI S3.4-2007 (Table 7); Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342;
    Moore, Glasberg, Varathanathan & Schlittenlacher (2016), Trends Hear. 20.

    Examples
    --------
    >>> from workbench import Glasberg2002
    >>> model = Glasberg2002()
    >>> round(float(model.compute_loudness_level(torch.tensor(1.0))), 1)  # 1 sone is 40 phon
    40.0
    """

    binaural_factor = 2.0
    input_range_db_spl = (-math.inf, 140.0 + 10 * math.log10(2.0))
    input_range_about = "a sine of 140 dB SPL rms, the top of the ANSI S3.4-2007 loudness tables (140 phon)"

    def get_erb_frequencies(self) -> torch.Tensor:
        """Band centre frequencies (Hz), ``(Z,)`` (a copy)."""
        return self.center_freqs_hz.clone()

    @property
    def ear_fir(self) -> torch.Tensor:
        """Taps of the outer/middle-ear FIR (32 kHz)."""
        return self.outer_middle_ear.fir

    def _ear_filter_stage(self, ear: str | None = None) -> StageInfo:
        """The stage after the outer/middle-ear FIR (of one ``ear`` of a binaural model): zero
        phase, so it keeps ``(taps - 1) / 4`` samples before and after the stimulus."""
        delay_s = -((self.ear_fir.numel() - 1) // 4) / 32000.0
        return StageInfo(
            "sound after the outer and middle ear" + (f" ({ear})" if ear else ""),
            "Pa",
            "BT",
            32000.0,
            "Free-field transfer to the cochlea as one zero-phase FIR; the output runs "
            f"{-delay_s * 1e3:g} ms before and after the stimulus.",
            start_s=delay_s,
            ear=ear,
        )

    def compute_loudness_level(self, sone: torch.Tensor) -> torch.Tensor:
        """Loudness (sone) -> loudness level (phon), differentiable."""
        return loudness_level_table(self.binaural_factor).sone_to_phon(sone)

    def compute_loudness_from_level(self, phon: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`compute_loudness_level`: phon -> sone."""
        return loudness_level_table(self.binaural_factor).phon_to_sone(phon)
