"""The Experiments tab: every experiment of the library's registry offered and described,
non-results explained in the page, the track legend agreeing with the summary, the human
data with its citation, a seed per session, progress and cancel (no browser)."""

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from workbench.dashboards import experiments_ui as ex
from workbench.dashboards.workers import InlinePool
from workbench.psychophysics import experiments
from workbench.psychophysics import observer as observers

QUICK = {"n_final_reversals": 4, "n_threshold_reversals": 4, "step_sizes": (4.0, 2.0)}


def run(coro):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def am_copy(rate_hz: float = 16.0, **kwargs):
    """Made-up registry entry: AM detection again, at 16 Hz by default."""
    return experiments.tmtf(rate_hz, **kwargs)


def test_the_task_list_is_the_registry():
    tasks = ex.task_list()
    assert {t.name for t in tasks.values()} == set(experiments.EXPERIMENTS)
    assert next(iter(tasks.values())).name == ex.DEFAULT_TASK
    for info in tasks.values():
        text = info.description
        assert "**Stimulus:**" in text and "**Procedure:**" in text and "**Tracked:**" in text, info.name
        assert info.variable in text and "{" not in text and "``" not in text
        c = info.condition
        assert c.low <= c.default <= c.high and c.step > 0


def test_a_new_registry_entry_appears_without_ui_changes(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "am_copy", am_copy)
    tasks = ex.task_list()
    info = next(t for t in tasks.values() if t.name == "am_copy")
    assert "made-up registry entry" in info.description.lower() and info.condition.name == "rate_hz"
    assert info.condition.default == 16.0
    panel = ex.ExperimentPanel(pool=InlinePool(), procedure=QUICK)
    assert info.label in panel.controls["task"].options
    r = ex.run_task("am_copy", "envelope", 16.0, n_runs=1, seed=2, procedure=QUICK)
    assert r.summary["rate_hz"] == 16.0


def test_every_observer_is_offered_and_paulick2024_is_the_default():
    options = ex.observer_options()
    assert set(options.values()) == set(observers.OBSERVERS)
    assert next(iter(options.values())) == "paulick2024"
    panel = ex.ExperimentPanel(pool=InlinePool())
    assert panel.controls["observer"].value == "paulick2024"


def test_condition_sliders_come_from_the_parameter_units():
    assert ex.condition_spec("masker_level_db_spl", 70.0).high >= 70
    hz = ex.condition_spec("cutoff_hz", 500.0)
    assert hz.label == "cutoff (Hz)" and hz.low <= 500 <= hz.high
    s = ex.condition_spec("delay_s", 0.02)
    assert s.label == "delay (s)" and s.low == 0.0 and s.high >= 0.2


def test_a_task_the_observer_cannot_do_is_explained_not_nan():
    r = ex.run_task("detection: amplitude modulation of noise", "level", 8.0, n_runs=2, seed=1, procedure=QUICK)
    o = ex.outcome(r)
    text = ex.summary_text(o)
    assert "No threshold" in text and "nan" not in text.lower()
    notes = " ".join(o.notes)
    assert "stuck at the easiest allowed value" in notes and "compares only the intervals' overall levels" in notes
    assert "nan" not in notes.lower()


def test_track_legend_agrees_with_the_summary():
    r = ex.run_task(ex.DEFAULT_TASK, "level", 60.0, n_runs=3, seed=4, procedure=QUICK)
    o = ex.outcome(r, figures=False)
    fig = ex.track_figure(o)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len([lab for lab in labels if lab.startswith("run ")]) == 3
    mean_label = next(lab for lab in labels if lab.startswith("threshold (mean"))
    assert f"{o.threshold:.2f}" in mean_label and f"{o.threshold:.2f}" in ex.summary_text(o)
    ok = [run["threshold"] for run in o.runs if np.isfinite(run["threshold"])]
    assert o.threshold == pytest.approx(np.mean(ok))
    for run_info in o.runs:
        assert any(f"{run_info['threshold']:.2f}" in lab for lab in labels)


def test_human_data_with_citation_and_comparison():
    r = ex.run_task(ex.DEFAULT_TASK, "level", 60.0, n_runs=2, seed=5, procedure=QUICK)
    o = ex.outcome(r)
    assert o.human["available"] and "Jesteadt" in ex.human_caption(o)
    assert "human:" in ex.summary_text(o) and "model - human" in ex.summary_text(o)
    fig = ex.human_figure([o], o.experiment, o.observer)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("Jesteadt" in lab for lab in labels)
    fm = ex.outcome(ex.run_task("forward_masking", "level", 0.01, n_runs=1, seed=1, procedure=QUICK), figures=False)
    if fm.experiment not in __import__("workbench.psychophysics.human_data", fromlist=["x"]).HUMAN_DATA:
        assert "no human thresholds" in ex.human_caption(fm) and any("no human" in n for n in fm.notes)


def test_each_session_has_its_own_seed_shown_and_settable():
    a, b = ex.ExperimentPanel(pool=InlinePool()), ex.ExperimentPanel(pool=InlinePool())
    seeds = {a.controls["seed"].value, b.controls["seed"].value}
    assert len(seeds) == 2 or seeds == {0}  # random per session (equal by chance: 1 in a million)
    a.controls["seed"].value = 1234
    assert a.spec()["seed"] == 1234
    with pytest.raises(ValueError, match="seed must be an integer"):
        ex.run_task(ex.DEFAULT_TASK, "level", 60.0, seed=-1)


def test_panel_shows_progress_and_can_cancel():
    slow = {"n_final_reversals": 400, "n_threshold_reversals": 4, "max_trials": 50000}
    panel = ex.ExperimentPanel(pool=InlinePool(), procedure=slow, seed=1)
    panel.view()
    panel.controls["observer"].value = "level"

    async def scenario():
        task = asyncio.ensure_future(panel.run())
        for _ in range(400):
            await asyncio.sleep(0.05)
            if "trials done" in (panel.progress_text.object or ""):
                break
        seen = panel.progress_text.object
        assert panel.cancel_button.visible and panel.run_button.disabled and panel.progress_bar.visible
        panel.cancel()
        await asyncio.wait_for(task, 30)
        return seen

    seen = run(scenario())
    assert "trials done" in seen and "reversals" in seen
    assert panel.message.visible and "cancelled" in panel.message.object
    assert not panel.cancel_button.visible and not panel.run_button.disabled


def test_the_stimulus_sidebar_hides_on_the_experiments_tab(monkeypatch):
    from tests.test_dashboards import FAKE
    from workbench import app
    from workbench.dashboards.registry import MODELS

    monkeypatch.setitem(MODELS, "FakeModel", FAKE)
    page = app.create_app("FakeModel", pool=InlinePool())
    row = page[2]
    sidebar, tabs = row[0], row[1]
    assert sidebar.visible
    tabs.active = app.EXPERIMENTS_TAB
    assert not sidebar.visible
    tabs.active = 1
    assert sidebar.visible


def test_outcome_is_plain_data():
    import pickle

    o = ex.outcome(ex.run_task(ex.DEFAULT_TASK, "level", 60.0, n_runs=1, seed=1, procedure=QUICK))
    back = pickle.loads(pickle.dumps(o))
    assert back.summary == o.summary or all(
        (a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
        for a, b in zip(back.summary.values(), o.summary.values())
    )


def test_the_description_follows_the_condition_and_a_new_run_clears_the_old_result():
    panel = ex.ExperimentPanel(pool=InlinePool(), procedure=QUICK, seed=3)
    panel.view()
    assert "at 60 dB SPL" in panel.description.object
    panel.condition.value = 80.0
    assert "at 80 dB SPL" in panel.description.object
    panel.controls["observer"].value = "level"
    run(panel.run())
    assert panel.track.object is not None and panel.human_plot.object is not None
    panel.controls["task"].value = "detection: amplitude modulation of noise"

    async def start_another_and_cancel_it():
        task = asyncio.ensure_future(panel.run())
        while not panel.cancel_button.visible:  # running: what the page shows meanwhile
            await asyncio.sleep(0.01)
        shown = (panel.track.object, panel.summary.object, panel.human_plot.object, panel.download.visible)
        panel.cancel()
        await asyncio.wait_for(task, 30)
        return shown

    assert run(start_another_and_cancel_it()) == (None, "", None, False)  # the old result went
