"""Sweeps: thread and Dask executors, immediate per-condition writes, resume, config guard."""

import json

import pandas as pd
import pytest

from workbench.psychophysics.sweep import condition_id, grid, run_sweep

CALLS = []


def square(rate, seed):
    CALLS.append((rate, seed))
    return {"threshold_db": -float(rate) * 0.1 + seed, "n_trials": 40}


def test_grid_and_ids():
    conds = grid(rate=[4, 8, 16], seed=[0, 1])
    assert len(conds) == 6 and conds[0] == {"rate": 4, "seed": 0}
    assert condition_id({"a": 1, "b": 2}) == condition_id({"b": 2, "a": 1})
    with pytest.raises(TypeError, match="rate"):
        grid(rate=4)


def test_thread_sweep_writes_table_and_config(tmp_path):
    out = tmp_path / "tmtf.csv"
    conds = grid(rate=[4, 8, 16], seed=[0, 1])
    df = run_sweep(square, conds, out, config={"experiment": "tmtf", "level": 77}, progress=False)
    assert len(df) == 6 and set(df.columns) >= {"condition_id", "rate", "seed", "threshold_db"}
    row = df[(df.rate == 8) & (df.seed == 1)].iloc[0]
    assert row.threshold_db == pytest.approx(0.2)
    cfg = json.loads(out.with_suffix(".config.json").read_text())
    assert cfg["config"] == {"experiment": "tmtf", "level": 77} and "workbench" in cfg


def test_resume_skips_finished_conditions(tmp_path):
    out = tmp_path / "sweep.csv"
    conds = grid(rate=[4, 8, 16, 32], seed=[0])

    def flaky(rate, seed):
        if rate == 32:
            raise RuntimeError("interrupted")
        return square(rate, seed)

    with pytest.raises(RuntimeError, match="interrupted"):
        run_sweep(flaky, conds, out, max_workers=1, progress=False)
    done = pd.read_csv(out)
    assert sorted(done.rate) == [4, 8, 16]  # finished conditions were written as they finished
    CALLS.clear()
    df = run_sweep(square, conds, out, progress=False)
    assert CALLS == [(32, 0)]  # only the missing condition ran
    assert sorted(df.rate) == [4, 8, 16, 32]


def test_config_mismatch_refused(tmp_path):
    out = tmp_path / "s.csv"
    run_sweep(square, grid(rate=[4], seed=[0]), out, config={"level": 60}, progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        run_sweep(square, grid(rate=[4], seed=[0]), out, config={"level": 80}, progress=False)


def test_multi_row_tasks_and_bad_input(tmp_path):
    df = run_sweep(
        lambda level: [{"run": i, "jnd_db": level / 100 + i} for i in range(3)],
        grid(level=[20, 80]),
        tmp_path / "m.csv",
        progress=False,
    )
    assert len(df) == 6
    with pytest.raises(TypeError, match="task"):
        run_sweep(None, [], tmp_path / "x.csv")
    with pytest.raises(TypeError, match="executor"):
        run_sweep(square, [], tmp_path / "y.csv", executor="dask")


@pytest.mark.slow
def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        df = run_sweep(square, grid(rate=[4, 8, 16], seed=[0, 1]), tmp_path / "d.csv", executor=client, progress=False)
    assert len(df) == 6
    assert df.set_index(["rate", "seed"]).loc[(16, 0), "threshold_db"] == pytest.approx(-1.6)
