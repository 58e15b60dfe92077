#!/usr/bin/env python
"""Full simulated-experiment runs: Paulick2024 (CASP optimal detector) vs human thresholds.

Each experiment is a condition sweep (condition x seed) through ``run_sweep``: each finished
condition is committed whole to the SQLite store ``<out>/<experiment>.sqlite`` (rerun to
resume: only unfinished conditions are computed), exported to ``<out>/<experiment>.csv``, with
the configuration in the store (copy in ``<out>/<experiment>.config.json``). At the end a model-vs-human table per
condition (markdown) goes to stdout and ``<out>/summary.md``, plus one PNG per experiment.

    python scripts/run_experiments.py --out results/experiments --runs 4 --seeds 2
    python scripts/run_experiments.py --experiments tmtf --dask tcp://scheduler:8786
    python scripts/run_experiments.py --quick   # few conditions, short procedures
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.psychophysics.experiments import (
    EXPERIMENTS,
    compare_with_human,
    make_experiment,
    plot_experiment,
    run_condition,
)
from workbench.psychophysics.sweep import run_sweep

# swept variable, its values, and the auditory channels the observer listens to (a band
# around the 1-kHz signal where the cue is narrowband: cheaper, and AMT experiments do the same)
PLAN = {
    "intensity_tone": ("level_db_spl", [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0], dict(flow=500.0, fhigh=2000.0)),
    "tmtf": ("rate_hz", [4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0], {}),
    "intensity_noise": ("level_db_spl", [40.0, 60.0, 80.0], {}),
    "tone_in_noise": ("notch_width_hz", [0.0, 200.0, 400.0, 800.0], dict(flow=500.0, fhigh=2000.0)),
    "forward_masking": ("gap_s", [0.0, 0.01, 0.025, 0.05, 0.1, 0.15], dict(flow=500.0, fhigh=2000.0)),
}
QUICK = {"intensity_tone": [20.0, 60.0, 80.0], "tmtf": [8.0, 256.0], "intensity_noise": [60.0],
         "tone_in_noise": [0.0], "forward_masking": [0.01, 0.1]}
QUICK_PROCEDURE = dict(n_final_reversals=6, n_threshold_reversals=4)
Y = {"tmtf": "threshold_db", "intensity_tone": "delta_l_db", "intensity_noise": "delta_l_db",
     "tone_in_noise": "threshold_db_re_n0", "forward_masking": "probe_level_db_spl"}


def markdown(df: pd.DataFrame) -> str:
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def summarise(name: str, df: pd.DataFrame) -> pd.DataFrame:
    x = PLAN[name][0]
    y = Y[name]
    exp = make_experiment(name)
    rows = []
    for value, g in df.groupby(x):
        ok = g[np.isfinite(g[exp.variable])]
        tracked = ok[exp.variable].mean()
        row = {"experiment": name, x: value, exp.variable: tracked, **exp.report(tracked)} if len(ok) else \
            {"experiment": name, x: value, exp.variable: np.nan}
        row.setdefault(y, row.get(exp.variable))
        row.update(sd=ok[y].std(ddof=1) if len(ok) > 1 else np.nan, n=len(ok), n_runs=len(g),
                   run_time_s=g.drop_duplicates("condition_id")["elapsed_s"].sum())
        row.update(compare_with_human(row))
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiments", default=",".join(PLAN), help="comma-separated: " + ",".join(EXPERIMENTS))
    ap.add_argument("--observer", default="paulick2024",
                    choices=["paulick2024", "jepsen2008", "dau1997", "level", "envelope"])
    ap.add_argument("--runs", type=int, default=4, help="staircase runs per condition and seed (batched)")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per condition (separate sweep tasks)")
    ap.add_argument("--out", default="results/experiments")
    ap.add_argument("--device", default=None, help="torch device for the model, e.g. cuda")
    ap.add_argument("--dask", default=None, help="dask scheduler address, or 'local' for a LocalCluster")
    ap.add_argument("--workers", type=int, default=1, help="local threads when not using dask")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (1 is best on a busy box)")
    ap.add_argument("--quick", action="store_true", help="few conditions and short procedures")
    ap.add_argument("--values", default=None, help="comma-separated values of the swept variable (one experiment)")
    ap.add_argument("--fs", type=float, default=None, help="sampling rate (Hz); default each experiment's 44100")
    ap.add_argument("--pool", type=int, default=None,
                    help="reference_pool: score this many reference tokens once per condition (faster)")
    ap.add_argument("--params", default=None, help='experiment keyword overrides as JSON, e.g. \'{"duration_s": 1.0}\'')
    ap.add_argument("--procedure", default=None, help='staircase overrides as JSON, e.g. \'{"n_final_reversals": 8}\'')
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    client = None
    if args.dask:
        from distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1) if args.dask == "local" else args.dask)
    report = []
    t_all = time.perf_counter()
    for name in args.experiments.split(","):
        x, values, band = PLAN[name]
        values = QUICK[name] if args.quick else values
        if args.values:
            values = [float(v) for v in args.values.split(",")]
        extra = dict(procedure=dict(QUICK_PROCEDURE)) if args.quick else {}
        if args.procedure:
            extra["procedure"] = {**extra.get("procedure", {}), **json.loads(args.procedure)}
        if args.fs:
            extra["fs"] = args.fs
        if args.params:
            extra.update(json.loads(args.params))
        conds = [dict(experiment=name, observer=args.observer, n_runs=args.runs, seed=s, device=args.device,
                      reference_pool=args.pool, **band, **{x: v}) for v in values for s in range(args.seeds)]
        config = dict(experiment=make_experiment(name, **extra).config(), observer=args.observer,
                      band=band, runs=args.runs, seeds=args.seeds, quick=args.quick, pool=args.pool)
        t0 = time.perf_counter()
        df = run_sweep(functools.partial(run_condition, **extra), conds, out / f"{name}.csv", config=config,
                       executor=client, max_workers=args.workers)
        wall = time.perf_counter() - t0
        summary = summarise(name, df)
        summary.to_csv(out / f"{name}_summary.csv", index=False)
        report.append(f"### {name} ({args.observer}, {args.runs} runs x {args.seeds} seeds, wall {wall:.0f} s)\n\n"
                      + markdown(summary.drop(columns=["experiment", "human_source"]))
                      + f"\n\nHuman: {summary['human_source'].iloc[0]}\n")
        plot_experiment(summary, name).savefig(out / f"{name}.png", dpi=120)
        print(report[-1], flush=True)
    text = "\n".join(report) + f"\nTotal wall time {time.perf_counter() - t_all:.0f} s\n"
    (out / "summary.md").write_text(text)
    print(json.dumps({"out": str(out), "total_s": round(time.perf_counter() - t_all, 1)}))
    if client is not None:
        client.close()


if __name__ == "__main__":
    main()
