"""The sweep's SQLite results store: atomic conditions under SIGKILL, exact resume, any row size,
damaged files and configurations reported clearly."""

import math
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.sweep_child import conditions, rows_for, task
from workbench.psychophysics.sweep import (
    ResultStore,
    SweepStoreError,
    condition_id,
    export,
    grid,
    load_results,
    run_sweep,
)

REPO = Path(__file__).resolve().parents[1]
N_CONDITIONS = 60
N_KILLS = 24


def _canonical(df: pd.DataFrame) -> list:
    """Every cell with its exact type and bits (floats as their IEEE-754 bytes)."""
    out = []
    for rec in df.to_dict("records"):
        cells = []
        for k, v in rec.items():
            if isinstance(v, float):
                v = ("float", "nan" if math.isnan(v) else struct.pack("<d", v))
            elif isinstance(v, list):
                v = ("list", tuple(struct.pack("<d", x) if isinstance(x, float) else x for x in v))
            cells.append((k, type(v).__name__, v))
        out.append(tuple(cells))
    return out


def _child_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _check_store_consistent(path: Path) -> int:
    """After a kill: every committed condition has exactly its rows; returns how many there are."""
    if not path.exists():
        return 0
    db = sqlite3.connect(str(path))
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "conditions" not in tables:
            return 0
        counts = db.execute(
            'SELECT c.condition_id, c.n_rows, count(r."__row") FROM conditions c LEFT JOIN '
            "results r ON r.condition_id = c.condition_id GROUP BY c.condition_id"
        ).fetchall()
        assert all(n == m == 3 for _, n, m in counts), counts
        assert (
            db.execute(
                "SELECT count(*) FROM results WHERE condition_id NOT IN (SELECT condition_id FROM conditions)"
            ).fetchone()[0]
            == 0
        )
        return len(counts)
    finally:
        db.close()


@pytest.mark.timeout(400)
def test_sigkill_at_random_points_then_resume_is_exact(tmp_path):
    """Sweeps of N_CONDITIONS conditions (3 rows each, up to ~0.4 MB per condition) are
    SIGKILLed and resumed until at least N_KILLS kills: half of the kills at seeded random
    times, half inside a seeded commit's open transaction with some of its rows inserted. Every
    sweep, once finished, must hold each condition exactly once with rows bit-identical to an
    uninterrupted run, and the same CSV export."""
    t_start = time.perf_counter()
    reference = run_sweep(
        task, conditions(N_CONDITIONS), tmp_path / "reference.sqlite", config={"test": "kill"}, progress=False
    )
    export(tmp_path / "reference.sqlite", tmp_path / "reference.csv")
    ids = [condition_id(c) for c in conditions(N_CONDITIONS)]
    rng = random.Random(20261127)
    kills, in_commit, cycles, runs = 0, 0, 0, 0
    while kills < N_KILLS:
        cycles += 1
        store = tmp_path / f"killed{cycles}.csv"
        progress = []
        while True:  # kill and resume this sweep until a run finishes it
            runs += 1
            aim = kills < N_KILLS and progress[-1:] != [N_CONDITIONS]  # a finished store: let it end
            pause_at = rng.randrange(1, 6) if aim and kills % 2 == 0 else 0
            child = [
                sys.executable,
                str(REPO / "tests" / "sweep_child.py"),
                str(store),
                str(N_CONDITIONS),
                str(pause_at),
            ]
            proc = subprocess.Popen(
                child, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_child_env(), cwd=REPO
            )
            assert proc.stdout.readline().strip() == "ready"
            seen = []
            if pause_at:  # inside a transaction, some of the condition's rows inserted
                while True:
                    seen.append(proc.stdout.readline())
                    if not seen[-1] or seen[-1].startswith(("inside", "done")):
                        break
            elif aim:  # anywhere: in a task, a commit, between them, the CSV export
                time.sleep(rng.uniform(0.0, 0.15))
            killed = aim and proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=120)
            lines = [ln for ln in "".join(seen).splitlines() + rest.splitlines() if ln.strip()]
            if proc.returncode == -signal.SIGKILL:
                kills += 1
                in_commit += bool(lines) and lines[-1].startswith(("inside", "begin"))  # no 'end' after it
            else:
                assert proc.returncode == 0
            progress.append(_check_store_consistent(store.with_suffix(".sqlite")))
            if proc.returncode == 0:
                break
        resumed = load_results(store)
        with ResultStore(store.with_suffix(".sqlite"), readonly=True) as s:
            assert sorted(s.completed()) == sorted(ids) and len(s) == N_CONDITIONS
        assert resumed.groupby("condition_id").size().to_dict() == dict.fromkeys(ids, 3)  # exactly once each
        assert _canonical(resumed) == _canonical(reference)  # bit-identical, same order
        assert store.read_bytes() == (tmp_path / "reference.csv").read_bytes()  # the CSV export too
        print(f"cycle {cycles}: conditions committed after each run {progress}")
    assert not list(tmp_path.glob(".*.tmp"))
    elapsed = time.perf_counter() - t_start
    print(
        f"{kills} SIGKILLs in {runs} runs over {cycles} sweeps ({in_commit} killed inside a commit), "
        f"{N_CONDITIONS} conditions x 3 rows each: all present exactly once, bit-identical; {elapsed:.1f} s"
    )
    assert kills >= 20 and in_commit >= N_KILLS // 2


def test_huge_fields_round_trip(tmp_path):
    text = "x" * 10_000_000 + "é"  # far beyond csv's 131,072-character field limit
    blob = bytes(range(256)) * 40_000  # 10 MB of binary
    df = run_sweep(
        lambda i: {"text": text * (i + 1), "blob": blob, "vector": list(range(100_000))},
        grid(i=[0, 1]),
        tmp_path / "huge.csv",
        progress=False,
    )
    assert df.text[1] == text * 2 and df.blob[0] == blob and df.vector[0][-1] == 99_999
    again = run_sweep(lambda i: 1 / 0, grid(i=[0, 1]), tmp_path / "huge.csv", progress=False)  # resume: nothing to do
    assert again.text[0] == text and len(again) == 2
    assert len(pd.read_csv(tmp_path / "huge.csv")) == 2  # the export holds them too


def test_types_survive_exactly(tmp_path):
    rows = rows_for(7)
    df = run_sweep(lambda i: rows, grid(i=[7]), tmp_path / "t.sqlite", progress=False)
    assert df.converged.dtype == bool and df.big_int.tolist() == [2**62 + 7] * 3
    assert [math.copysign(1, v) for v in df.neg_zero] == [-1.0] * 3 and df.tiny[0] == 5e-324
    assert df["inf"].tolist() == [-math.inf, math.inf, math.inf] and df.nan.isna().all()
    assert df.blob.tolist() == [r["blob"] for r in rows] and df.track[2] == rows[2]["track"]
    assert df.missing.isna().all() and list(df.columns[:3]) == ["condition_id", "i", "run"]


def test_truncated_and_damaged_stores_give_clear_errors(tmp_path):
    out = tmp_path / "s.csv"
    run_sweep(lambda i: {"y": float(i)}, grid(i=list(range(200))), out, config={"a": 1}, progress=False)
    db = out.with_suffix(".sqlite")
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(SweepStoreError, match=r"s\.sqlite is not a readable sweep results store.*move it away"):
        run_sweep(lambda i: {"y": float(i)}, grid(i=[0]), out, config={"a": 1}, progress=False)
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(SweepStoreError, match="not a readable sweep results store"):
        load_results(db)

    # a damaged configuration record
    out2 = tmp_path / "c.sqlite"
    run_sweep(lambda i: {"y": 1.0}, grid(i=[0]), out2, config={"a": 1}, progress=False)
    con = sqlite3.connect(str(out2))
    con.execute("UPDATE meta SET value = substr(value, 1, 10) WHERE key = 'record'")
    con.commit()
    con.close()
    with pytest.raises(SweepStoreError, match="configuration stored in .* is damaged"):
        run_sweep(lambda i: {"y": 1.0}, grid(i=[0]), out2, config={"a": 1}, progress=False)

    # the JSON export of the configuration is only a copy for people: truncating it is harmless
    out3 = tmp_path / "d.csv"
    run_sweep(lambda i: {"y": 1.0}, grid(i=[0]), out3, config={"a": 1}, progress=False)
    cfg = out3.with_suffix(".config.json")
    cfg.write_text(cfg.read_text()[:7])
    assert len(run_sweep(lambda i: {"y": 1.0}, grid(i=[0, 1]), out3, config={"a": 1}, progress=False)) == 2
    assert '"a": 1' in cfg.read_text()

    # other SQLite files and legacy CSV results are refused, not overwritten
    other = tmp_path / "other.db"
    con = sqlite3.connect(str(other))
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(SweepStoreError, match="not a workbench sweep store"):
        run_sweep(lambda i: {}, grid(i=[0]), other, progress=False)
    legacy = tmp_path / "legacy.csv"
    legacy.write_text("condition_id,i,y\nabc,0,1.0\n")
    with pytest.raises(SweepStoreError, match="without a results store"):
        run_sweep(lambda i: {"y": 1.0}, grid(i=[0]), legacy, progress=False)
    assert legacy.read_text() == "condition_id,i,y\nabc,0,1.0\n"


def test_hand_edited_store_drops_incomplete_conditions(tmp_path):
    out = tmp_path / "e.sqlite"
    run_sweep(lambda i: [{"k": 0}, {"k": 1}], grid(i=[0, 1, 2]), out, progress=False)
    con = sqlite3.connect(str(out))
    con.execute("DELETE FROM results WHERE condition_id = ? AND __row = 1", (condition_id({"i": 1}),))
    con.commit()
    con.close()
    calls = []
    with pytest.warns(RuntimeWarning, match="dropped 1 incomplete condition"):
        df = run_sweep(lambda i: calls.append(i) or [{"k": 0}, {"k": 1}], grid(i=[0, 1, 2]), out, progress=False)
    assert calls == [1] and len(df) == 6


def test_store_api_and_bad_arguments(tmp_path):
    path = tmp_path / "api.sqlite"
    with ResultStore(path, {"x": 1}) as s:
        assert s.commit({"a": 1}, {"y": 2.0}) is True
        assert s.commit({"a": 1}, {"y": 3.0}) is False  # already there: exactly once
        with pytest.raises(TypeError, match="field 'y'.*has type object"):
            s.commit({"a": 2}, {"y": object()})
        with pytest.raises(ValueError, match="store's own field names"):
            s.commit({"a": 3}, {"condition_id": 1})
        assert s.completed() == {condition_id({"a": 1})}
        s.to_csv(tmp_path / "api.csv")
    assert pd.read_csv(tmp_path / "api.csv").y.tolist() == [2.0]
    with pytest.raises(ValueError, match="repeats conditions"):
        run_sweep(lambda a: {}, [{"a": 1}, {"a": 1}], tmp_path / "dup.csv", progress=False)
    with pytest.raises(ValueError, match="output must end in .csv"):
        run_sweep(lambda a: {}, [{"a": 1}], tmp_path / "x.txt", progress=False)
    with pytest.raises(TypeError, match="output must be a path"):
        run_sweep(lambda a: {}, [{"a": 1}], 42, progress=False)
    with pytest.raises(ValueError, match="max_workers"):
        run_sweep(lambda a: {}, [{"a": 1}], tmp_path / "w.csv", max_workers=0, progress=False)
    with pytest.raises(FileNotFoundError, match="no sweep results store"):
        load_results(tmp_path / "missing.sqlite")
