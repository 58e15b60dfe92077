"""A cheap, deterministic sweep task and a sweep process that the kill/resume test SIGKILLs.

``python tests/sweep_child.py STORE N_CONDITIONS [PAUSE_AT]`` runs the sweep into STORE and
prints ``ready`` once started, ``begin <id>`` / ``end <id>`` around every condition's commit,
``inside`` when it waits inside the PAUSE_AT-th commit's transaction (rows half written, for the
parent's SIGKILL to land there), and ``done`` at the end.
"""

import hashlib
import math
import random
import sys
import time


def rows_for(i: int, big: bool = True) -> list[dict]:
    """Three rows per condition, reproducible from ``i``: floats that must survive bit for bit
    (-0.0, inf, subnormal, NaN), 64-bit integers, bools, None, text up to ~100 kB, a blob up
    to ~32 kB and a list."""
    rng = random.Random(i)
    rows = []
    for k in range(3):
        n_text = rng.randrange(1, 100_000) if big else 8
        blob = hashlib.sha256(f"{i}-{k}".encode()).digest() * (rng.randrange(1, 1024) if big else 1)
        rows.append(
            {
                "run": k,
                "threshold_db": rng.gauss(-20.0, 5.0),
                "tiny": 5e-324 * (k + 1),
                "neg_zero": -0.0,
                "inf": math.inf if k else -math.inf,
                "nan": math.nan,
                "big_int": 2**62 + i,
                "converged": bool(rng.getrandbits(1)),
                "missing": None,
                "text": (f"{i}:{k}|" * (n_text // 6 + 1))[:n_text],
                "blob": blob,
                "track": [rng.random() for _ in range(5)],
            }
        )
    return rows


def task(i: int, seed: int = 0) -> list[dict]:
    time.sleep(0.01)  # a little work, so kills land in tasks, in commits and in between
    return rows_for(i + 1000 * seed)


def conditions(n: int) -> list[dict]:
    from workbench.psychophysics.sweep import grid

    return grid(i=list(range(n)), seed=[0])


def main(store: str, n: int, pause_at: int = 0):
    """``pause_at`` = j > 0: inside the j-th commit's transaction, after some of its rows were
    inserted, print ``inside`` and wait there (the parent SIGKILLs the process then)."""
    from workbench.psychophysics import sweep

    commit = sweep.ResultStore.commit
    state = {"commits": 0}

    class PausingConnection:  # the store's connection, pausing after a row of the chosen commit
        def __init__(self, db):
            self.db, self.rows = db, 0

        def execute(self, sql, *args):
            out = self.db.execute(sql, *args)
            if state["commits"] == pause_at and sql.startswith("INSERT INTO results"):
                self.rows += 1
                if self.rows == 2:  # two of the condition's three rows are in the open transaction
                    print("inside", flush=True)
                    time.sleep(60)
            return out

        def __getattr__(self, name):
            return getattr(self.db, name)

    def traced(self, condition, rows, **kw):
        state["commits"] += 1
        if state["commits"] == pause_at:
            self._db = PausingConnection(self._db)
        cid = sweep.condition_id(condition)
        print("begin", cid, flush=True)
        out = commit(self, condition, rows, **kw)
        print("end", cid, flush=True)
        return out

    sweep.ResultStore.commit = traced
    print("ready", flush=True)
    sweep.run_sweep(task, conditions(n), store, config={"test": "kill"}, max_workers=2, progress=False)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
