#!/usr/bin/env python
"""Full simulated-experiment runs: Paulick2024 (CASP optimal detector, AMT procedure) vs human.

Each experiment is a condition sweep (swept variables x seed) through ``run_sweep``: each
finished condition is committed whole to the SQLite store ``<out>/<experiment>.sqlite`` (rerun
to resume: only unfinished conditions are computed), exported to ``<out>/<experiment>.csv``,
with the configuration in the store (copy in ``<out>/<experiment>.config.json``). At the end a
model-vs-human table per condition (markdown, with every condition's stimulus parameters) goes
to stdout and ``<out>/summary.md``, plus one PNG per experiment.

The observer follows AMT (ROI channels, analytic decision) unless ``--decision sampled`` or
``--no-roi``; deterministic (frozen) experiments then give the same threshold in every run,
so they run once.

    python scripts/run_experiments.py --out results/experiments
    python scripts/run_experiments.py --experiments tmtf --device cuda
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
    PLOT_AXES,
    compare_with_human,
    make_experiment,
    plot_experiment,
    run_condition,
)
from workbench.psychophysics.human_data import HUMAN_DATA
from workbench.psychophysics.sweep import grid, run_sweep

# experiment -> (swept variables, sweep options). pool: reference tokens scored once per
# condition (running noise; an approximation that saves 2/3 of the model calls)
PLAN = {
    "intensity_tone": ({"level_db_spl": [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]}, {}),
    "intensity_noise": ({"level_db_spl": [40.0, 60.0, 80.0]}, {}),
    "tmtf": ({"rate_hz": [4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]}, {"pool": 12}),
    "tone_in_noise": ({"notch_width_hz": [0.0]}, {}),
    "notched_noise": ({"notch_width_hz": [0.0, 100.0, 200.0, 300.0, 400.0, 600.0]}, {}),
    "forward_masking": ({"gap_s": [0.0, 0.01, 0.025, 0.05, 0.1, 0.15]}, {}),
    "forward_masking_tone": (
        {
            "masker_level_db_spl": [40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
            "masker_hz": [4000.0, 2400.0],
            "gap_s": [0.0, 0.01, 0.03],
        },
        {},
    ),
    "masking_pattern": ({"probe_hz": [600.0, 800.0, 900.0, 1000.0, 1100.0, 1250.0, 1500.0, 2000.0, 3000.0]}, {}),
    "am_detection": ({"rate_hz": [4.0, 8.0, 16.0, 32.0, 64.0, 128.0], "bandwidth_hz": [31.0, 0.0]}, {"pool": 12}),
}
QUICK = {
    "intensity_tone": {"level_db_spl": [20.0, 60.0, 80.0]},
    "tmtf": {"rate_hz": [8.0, 128.0]},
    "intensity_noise": {"level_db_spl": [60.0]},
    "tone_in_noise": {"notch_width_hz": [0.0]},
    "notched_noise": {"notch_width_hz": [0.0, 200.0]},
    "forward_masking": {"gap_s": [0.01, 0.1]},
    "forward_masking_tone": {"masker_level_db_spl": [50.0, 90.0], "masker_hz": [4000.0], "gap_s": [0.0]},
    "masking_pattern": {"probe_hz": [1000.0, 1500.0]},
    "am_detection": {"rate_hz": [16.0], "bandwidth_hz": [31.0]},
}
QUICK_PROCEDURE = dict(n_final_reversals=6, n_threshold_reversals=4)


def markdown(df: pd.DataFrame) -> str:
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def analytic(name: str, cond: dict, extra: dict, observer: str) -> float:
    """AMT's deterministic threshold of a frozen condition without a staircase (the crossing
    the track oscillates around within half its final step)."""
    from workbench.psychophysics.fit import analytic_threshold
    from workbench.psychophysics.observer import CASP_OBSERVERS, casp_model

    exp = make_experiment(name, **cond, **extra)
    _, _, variance, centre = CASP_OBSERVERS[observer]
    return analytic_threshold(casp_model(observer, float(exp.fs)), exp, noise_variance=variance, center_per_band=centre)


def summarise(
    name: str, df: pd.DataFrame, extra: dict, observer: str = "paulick2024", exact: bool = False
) -> pd.DataFrame:
    """One row per condition: mean threshold over runs and seeds, sd, human value, difference;
    ``exact``: also AMT's analytic threshold (frozen stimuli, CASP observers)."""
    swept = list(PLAN[name][0])
    y = PLOT_AXES[name][1]
    rows = []
    for values, g in df.groupby(swept):
        values = values if isinstance(values, tuple) else (values,)
        cond = dict(zip(swept, values))
        exp = make_experiment(name, **cond, **extra)
        ok = g[np.isfinite(g[exp.variable])]
        tracked = ok[exp.variable].mean() if len(ok) else np.nan
        row = {"experiment": name, **cond, exp.variable: tracked, **exp.report(tracked)}
        shown = y if y in row else exp.variable
        row.update(
            sd=ok[shown].std(ddof=1) if len(ok) > 1 else np.nan,
            n=len(ok),
            n_runs=len(g),
            run_time_s=g.drop_duplicates("condition_id")["elapsed_s"].sum(),
        )
        if exact:
            value = analytic(name, cond, extra, observer)
            report = exp.report(value)
            row["analytic_" + (next(iter(report)) if report else exp.variable)] = (
                next(iter(report.values())) if report else value
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    human = HUMAN_DATA.get(name)
    compared = []
    for _, row in table.iterrows():
        baseline = None
        if human is not None and human.relative_to is not None:
            same = table
            for k in swept:
                if k != human.x_name:
                    same = same[same[k] == row[k]]
            base = same.loc[np.isclose(same[human.x_name], human.relative_to)]
            baseline = float(base[make_experiment(name, **extra).variable].iloc[0]) if len(base) else None
        compared.append(compare_with_human(row.to_dict(), baseline=baseline))
    out = pd.concat([table, pd.DataFrame(compared)], axis=1)
    exact_columns = [c for c in out.columns if c.startswith("analytic_")]
    if exact_columns and human is not None and human.relative_to is None:
        out["analytic_minus_human"] = out[exact_columns[0]] - out["human"]
    return out


def stimulus_text(name: str, extra: dict) -> str:
    exp = make_experiment(name, **extra)
    proc = exp.procedure
    params = ", ".join(f"{k}={v}" for k, v in exp.params.items())
    return (
        f"{exp.n_intervals} intervals, 1-up-{proc.n_down}-down ({proc.target_p:.1%}), steps {proc.step_sizes}, "
        f"threshold = {proc.statistic} of the last {proc.n_threshold_reversals} of {proc.n_final_reversals} "
        f"reversals at the smallest step; fs {exp.fs:g} Hz; {'frozen' if exp.frozen else 'running'} stimuli; "
        f"{params}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiments", default=",".join(PLAN), help="comma-separated: " + ",".join(EXPERIMENTS))
    ap.add_argument(
        "--observer", default="paulick2024", choices=["paulick2024", "jepsen2008", "dau1997", "level", "envelope"]
    )
    ap.add_argument("--decision", default="amt", choices=["amt", "sampled"], help="CASP decision rule")
    ap.add_argument("--no-roi", action="store_true", help="correlate over all channels (no AMT ROI)")
    ap.add_argument("--runs", type=int, default=4, help="staircase runs per condition and seed (batched)")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per condition (separate sweep tasks)")
    ap.add_argument("--out", default="results/experiments")
    ap.add_argument("--device", default=None, help="torch device for the model, e.g. cuda")
    ap.add_argument("--dask", default=None, help="dask scheduler address, or 'local' for a LocalCluster")
    ap.add_argument("--workers", type=int, default=1, help="local threads when not using dask")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (1 is best on a busy box)")
    ap.add_argument("--quick", action="store_true", help="few conditions and short procedures")
    ap.add_argument("--fs", type=float, default=None, help="sampling rate (Hz); default each experiment's 44100")
    ap.add_argument("--params", default=None, help="experiment keyword overrides as JSON, e.g. '{\"duration_s\": 1.0}'")
    ap.add_argument("--procedure", default=None, help="staircase overrides as JSON, e.g. '{\"n_final_reversals\": 8}'")
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
        axes, options = PLAN[name]
        axes = QUICK[name] if args.quick else axes
        extra = dict(procedure=dict(QUICK_PROCEDURE)) if args.quick else {}
        if args.procedure:
            extra["procedure"] = {**extra.get("procedure", {}), **json.loads(args.procedure)}
        if args.fs:
            extra["fs"] = args.fs
        if args.params:
            extra.update(json.loads(args.params))
        frozen = make_experiment(name, **extra).frozen and args.decision == "amt"
        runs, seeds = (1, 1) if frozen else (args.runs, args.seeds)  # deterministic: every run is the same
        casp = dict(roi=not args.no_roi, decision=args.decision)
        conds = [
            dict(
                experiment=name,
                observer=args.observer,
                n_runs=runs,
                seed=s,
                reference_pool=options.get("pool"),
                **casp,
                **c,
            )
            for c in grid(**axes)
            for s in range(seeds)
        ]
        config = dict(
            experiment=make_experiment(name, **extra).config(),
            observer=args.observer,
            casp=casp,
            runs=runs,
            seeds=seeds,
            quick=args.quick,
            pool=options.get("pool"),
        )
        t0 = time.perf_counter()
        df = run_sweep(
            functools.partial(run_condition, **extra),
            conds,
            out / f"{name}.csv",
            config=config,
            executor=client,
            max_workers=args.workers,
            device=args.device,
        )
        wall = time.perf_counter() - t0
        summary = summarise(
            name, df, extra, args.observer, exact=frozen and args.observer in ("paulick2024", "jepsen2008", "dau1997")
        )
        summary.to_csv(out / f"{name}_summary.csv", index=False)
        sources = sorted(set(summary["human_source"]) - {"none"})
        report.append(
            f"### {name} ({args.observer}, {casp}, {runs} runs x {seeds} seeds, wall {wall:.0f} s)\n\n"
            f"Stimulus and procedure: {stimulus_text(name, extra)}\n\n"
            + markdown(summary.drop(columns=["experiment", "human_source"]))
            + f"\n\nHuman: {'; '.join(sources) if sources else 'none held'}\n"
        )
        fig_table = summary
        if name == "forward_masking_tone":
            fig_table = summary[(summary.masker_hz == 4000.0) & (summary.gap_s == 0.0)]
        if name == "am_detection":
            fig_table = summary[summary.bandwidth_hz == 31.0]
        plot_experiment(fig_table, name).savefig(out / f"{name}.png", dpi=120)
        print(report[-1], flush=True)
    text = "\n".join(report) + f"\nTotal wall time {time.perf_counter() - t_all:.0f} s\n"
    (out / "summary.md").write_text(text)
    print(json.dumps({"out": str(out), "total_s": round(time.perf_counter() - t_all, 1)}))
    if client is not None:
        client.close()


if __name__ == "__main__":
    main()
