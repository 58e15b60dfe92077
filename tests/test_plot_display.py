"""What a student sees: figures display as images, and a steady tone looks steady.

* Every figure the workbench builds is a :class:`workbench.plots.NotebookFigure`: IPython's
  PNG formatter renders it without pyplot (the executed notebooks are checked by
  ``tests/test_notebook_figures.py`` and the nbval run).
* Stage images are downsampled for display without aliasing: on a steady 1 kHz tone the
  displayed channel at 1 kHz varies by less than 1 dB across the steady part, in
  :func:`plot_stages`, :func:`plot_cochleagram` and the dashboards' stage figures, for short
  and long stimuli. (Block rms/mean over blocks shorter than a period gave 9.5 dB stripes in
  the filterbank and 18 to 26 dB dashes in the IHC stage for a 0.2 s tone.) Adaptation stages
  are left out: their output decays over hundreds of ms by design (overshoot), so it is not
  steady.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402

import workbench  # noqa: E402
from workbench import plots  # noqa: E402
from workbench import stimuli as st  # noqa: E402
from workbench.models.base import StageInfo  # noqa: E402
from workbench.units import erb_number_to_hz  # noqa: E402

FS = 44100
TONE_HZ = 1000.0
GUARD_S = 0.05  # ramps (10 ms) plus filter and IHC settling, and the display window's reach
STEADY_STAGES = {  # stages whose output is steady for a steady tone
    "Dau1997": ("filterbank", "ihc"),
    "Osses2021": ("filterbank", "ihc"),
    "King2019": ("gtone_response", "compressed_response", "ihc"),
    "Paulick2024": ("drnl", "ihc"),
}
FULL_SCALE = {"Dau1997", "Osses2021", "King2019"}  # AMT full scale, rms 1 = 100 dB SPL


def image_of(ax):
    """(rows x columns) array drawn in ``ax`` and the column centre times (s)."""
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    xy = mesh.get_coordinates()
    shown = np.asarray(mesh.get_array()).reshape(xy.shape[0] - 1, xy.shape[1] - 1)
    return shown, (xy[0, :-1, 0] + xy[0, 1:, 0]) / 2


def variation_db(ax, row: int, duration_s: float) -> float:
    """Peak-to-trough (dB, 20 log10) of one displayed row across the steady part."""
    shown, t = image_of(ax)
    steady = shown[row, (t > GUARD_S) & (t < duration_s - GUARD_S)]
    assert steady.size >= 10 and np.all(steady > 0)
    return float(20 * np.log10(steady.max() / steady.min()))


def panel(fig, model, key):
    """The panel of stage ``key``: titled with its label from the model contract."""
    label = model.stage_info[key].label
    (ax,) = [ax for ax in fig.axes if ax.get_title() == label[0].upper() + label[1:]]
    return ax


_RUNS = {}


def run_model(name, duration_s):
    if (name, duration_s) not in _RUNS:
        model = getattr(workbench, name)(fs=FS, return_stages=True)
        x = st.tone(TONE_HZ, duration_s, FS, 60, dtype=torch.float32)[None]
        with torch.no_grad():
            output, stages = model(x / 2 if name in FULL_SCALE else x)
        _RUNS[(name, duration_s)] = model, output, stages, x.shape[-1]
    return _RUNS[(name, duration_s)]


# --------------------------------------------------------------------------- display as images
def test_figures_render_as_png_for_ipython():
    from IPython.core.formatters import PNGFormatter

    from workbench.dashboards import figures

    x = st.tone(TONE_HZ, 0.05, 8000, 60)
    made = [
        plots.plot_waveform(x, 8000),
        plots.plot_spectrum(x, 8000),
        plots.new_figure(),
        plots.plot_cochleagram(torch.rand(4, 100), 8000),
        figures.stimulus_figure(x, 8000),
        plots.plot_stage(
            torch.rand(1, 3, 65), StageInfo("power spectrum", "Pa^2", "BKF", 1000.0), freqs=np.linspace(0, 4000, 65)
        ),
    ]
    for fig in made:
        assert isinstance(fig, plots.NotebookFigure)
        png = PNGFormatter()(fig)  # what Jupyter puts in the cell's image/png output
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_notebook_figure_is_not_shown_by_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    from IPython.core.formatters import DisplayFormatter

    fig = plots.plot_waveform(st.tone(TONE_HZ, 0.05, 8000, 60), 8000)
    shown, _ = DisplayFormatter().format(fig)  # what Jupyter does with a cell's value
    assert shown["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == before  # a script never pops it up, pyplot never lists it


# --------------------------------------------------------------------------- aliasing
@pytest.mark.parametrize("duration_s", [0.1, 0.5, 3.0])
def test_steady_sinusoids_look_steady_in_every_channel(duration_s):
    """A bank of steady sinusoids, one at each channel's CF (signed: rms; rectified: mean)."""
    fc = erb_number_to_hz(np.linspace(3, 33, 31))  # 87 Hz .. 10.4 kHz
    t = np.arange(int(duration_s * FS)) / FS
    bank = np.sin(2 * np.pi * fc[:, None] * t + 0.3)
    guard = min(GUARD_S, duration_s / 4)
    for data in (bank, np.maximum(bank, 0)):
        shown, centers = image_of(plots.plot_cochleagram(data, FS, fc).axes[0])
        steady = shown[:, (centers > guard) & (centers < duration_s - guard)]
        db = 20 * np.log10(steady.max(-1) / steady.min(-1))
        slow = 3 * 2 * 3 / fc > 2 * guard  # whose display window outreaches the guard band
        assert np.all(db[~slow] < 0.5), dict(zip(fc.round(), db.round(2)))


def test_real_modulation_is_kept():
    """The display smoother does not hide a 16 Hz modulation of a 4 kHz channel."""
    t = np.arange(int(0.5 * FS)) / FS
    depth = 0.5
    sam = (1 + depth * np.sin(2 * np.pi * 16 * t)) * np.sin(2 * np.pi * 4000 * t)
    shown, centers = image_of(plots.plot_cochleagram(sam[None], FS, [4000.0]).axes[0])
    swing = 20 * np.log10(
        shown[0, (centers > 0.05) & (centers < 0.45)].max() / shown[0, (centers > 0.05) & (centers < 0.45)].min()
    )
    assert abs(swing - 20 * np.log10((1 + depth) / (1 - depth))) < 0.5


@pytest.mark.parametrize("duration_s", [0.2, 2.0])
@pytest.mark.parametrize("name", list(STEADY_STAGES))
def test_steady_tone_looks_steady_in_stage_plots(name, duration_s):
    model, output, stages, n = run_model(name, duration_s)
    fc = model.center_freqs_hz.double().numpy()
    row = int(np.argmin(np.abs(fc - TONE_HZ)))
    fig = plots.plot_stages(model, stages, output)
    for key in STEADY_STAGES[name]:
        grid = variation_db(panel(fig, model, key), row, duration_s)
        alone = variation_db(
            plots.plot_cochleagram(stages[key], FS * stages[key].shape[-1] / n, fc).axes[0], row, duration_s
        )
        assert grid < 1.0 and alone < 1.0, f"{name} '{key}': {grid:.2f} dB (plot_stages), {alone:.2f} dB"


@pytest.mark.parametrize("name", list(STEADY_STAGES))
def test_steady_tone_looks_steady_in_dashboard_figures(name):
    from workbench.dashboards import figures
    from workbench.dashboards.core import Explorer, StimulusSpec

    stimulus = StimulusSpec(kind="tone", frequency_hz=TONE_HZ, level_db_spl=60, duration_s=0.5)
    result = Explorer().run(name, stimulus)
    row = int(np.argmin(np.abs(np.asarray(result.freqs_hz) - TONE_HZ)))
    for key in STEADY_STAGES[name]:
        assert result.info[key].axes == "BCT"
        fig = figures.stage_figure(result, key)
        ax = [a for a in fig.axes if a.get_label() != "<colorbar>"][0]
        assert variation_db(ax, row, 0.5) < 1.0, key
