"""The experiment engine's device plumbing, tested without a GPU: a run on a named device
equals the default run, sweeps pass the device on, a shared (cached) model is never moved,
and the per-trial path (model, template correlation) runs on ``device='meta'`` tensors,
which raise on any host read, so a CUDA run keeps its trials on the device."""

import numpy as np
import pytest
import torch

from workbench.kernels.backend import triton_available
from workbench.psychophysics.experiments import intensity_discrimination, run_condition
from workbench.psychophysics.observer import casp_model, make_observer
from workbench.psychophysics.sweep import run_sweep

FS = 16000.0
SHORT = dict(start_value=-2.0, step_sizes=(4.0, 2.0), n_final_reversals=3, n_threshold_reversals=None)
BAND = dict(flow=800.0, fhigh=1250.0)


pytestmark = pytest.mark.usefixtures("single_thread")


def _experiment():
    return intensity_discrimination(60.0, duration_s=0.05, ramp_s=0.005, total_s=0.06, fs=FS, procedure=SHORT)


def test_a_run_on_a_named_device_equals_the_default_run(tmp_path):
    exp = _experiment()
    default = exp.run(make_observer("paulick2024", exp, seed=0, **BAND), n_runs=2, seed=3)
    named = exp.run(make_observer("paulick2024", exp, seed=0, **BAND), n_runs=2, seed=3, device="cpu")
    np.testing.assert_array_equal(default.thresholds, named.thresholds)
    assert np.isfinite(default.thresholds).all()
    kw = dict(n_runs=1, seed=1, duration_s=0.05, ramp_s=0.005, total_s=0.06, fs=FS, procedure=SHORT, **BAND)
    on_cpu = run_condition("intensity_tone", "paulick2024", level_db_spl=60.0, device="cpu", **kw)
    default_rows = run_condition("intensity_tone", "paulick2024", level_db_spl=60.0, **kw)
    assert [r["weber_db"] for r in on_cpu] == [r["weber_db"] for r in default_rows]
    seen = []

    def task(level_db_spl, device=None):
        seen.append(device)
        return {"weber_db": 0.0}

    run_sweep(task, [{"level_db_spl": 60.0}], tmp_path / "s.csv", progress=False, device="cpu")
    assert seen == ["cpu"]
    with pytest.raises(TypeError, match="to\\(device\\)"):
        exp.run(type("NoTo", (), {"choose": lambda self, x: torch.zeros(len(x))})(), device="cpu")


@pytest.mark.skipif(not triton_available(), reason="the device path needs triton")
def test_the_trial_path_runs_on_meta_tensors_without_host_reads():
    exp = _experiment()
    observer = make_observer("paulick2024", exp, seed=0, **BAND)
    gen = torch.Generator().manual_seed(0)
    observer.prepare(exp.make_target(np.array([exp.template_value]), gen), exp.make_reference(1, gen))
    shared = casp_model("paulick2024", FS, tuple(sorted(BAND.items())), None)
    observer.to("meta")
    assert next(shared.buffers()).device.type == "cpu"  # the cached model was copied, not moved
    assert observer.detector.template.is_meta and observer.detector.reference.is_meta
    audio = exp.make_target(np.array([-5.0, 0.0, 5.0]), gen)  # CPU stimuli, sent once
    dv = observer.score_on_device(audio)
    assert dv.is_meta and dv.shape == (3,)
