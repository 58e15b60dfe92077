"""Dashboard latency per model: what a slider move costs on the server for a 0.5 s stimulus.

Columns (ms): ``cold`` first run (model build, numba compilation); ``level`` a stimulus
slider (new stimulus, full model run, stage PNG); ``param`` each model parameter slider
(only the stages from the one it acts on); ``stage`` switching the displayed stage (cached
run, PNG only). The browser adds the 0.15 s debounce and ~0.05 s transport.
Run: ``PYTHONPATH=. python benchmarks/bench_dashboards.py [duration_s]``.
"""

import os
import sys
import time

import torch

from workbench.dashboards import figures
from workbench.dashboards.core import Explorer, StimulusSpec, stage_choices
from workbench.dashboards.registry import MODELS, model_spec


def _ms(fn):
    """(wall ms, process CPU ms): with one torch thread, CPU time estimates the wall time on
    an idle machine when the shared box is loaded."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3


def bench(name: str, duration_s: float = 0.5) -> dict:
    spec, e = model_spec(name), Explorer()
    keys = list(stage_choices(e.model(name).stage_info).values())
    stage0, stage1 = keys[0], keys[-1]

    def update(stim, params=None, stage=stage0):
        result = e.run(name, stim, params)
        figures.png_bytes(figures.stage_figure(result, stage))

    row = {"cold": _ms(lambda: update(StimulusSpec(duration_s=duration_s)))}
    row["level"] = min(
        _ms(lambda lev=lev: update(StimulusSpec(duration_s=duration_s, level_db_spl=lev))) for lev in (61, 62)
    )
    for p in spec.params:
        if p.kind in ("float", "int"):
            new = [p.default + p.step * k for k in (1, 2)]
            new = [v if v <= p.high else p.default - p.step * k for k, v in zip((1, 2), new)]
            row[f"param {p.name}"] = min(
                _ms(lambda v=v, name=p.name: update(StimulusSpec(duration_s=duration_s), {name: v})) for v in new
            )
    row["stage"] = _ms(lambda: update(StimulusSpec(duration_s=duration_s), stage=stage1))
    return row


if __name__ == "__main__":
    threads = int(os.environ.get("TORCH_THREADS", "1"))  # 1: CPU time is not inflated by spinning workers
    torch.set_num_threads(threads)
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    print(
        f"dashboard latency, {duration:g} s stimulus, wall/CPU ms (torch threads {threads}), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name in MODELS:
        row = bench(name, duration)
        print(f"{name:13s} " + "  ".join(f"{k} {w:.0f}/{c:.0f}" for k, (w, c) in row.items()), flush=True)
