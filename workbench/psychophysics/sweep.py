"""Condition sweeps through an executor, written row by row so an interrupted sweep resumes.

``run_sweep(task, conditions, output)`` calls ``task(**condition)`` for every condition
(e.g. modulation rate x seed) on an executor: local threads by default, any
``concurrent.futures.Executor``, or a ``dask.distributed.Client`` for a cluster. Each finished
condition is appended to the CSV at ``output`` immediately, tagged with a ``condition_id``
(hash of the condition); a rerun with the same output path skips the conditions already
there. The full configuration goes to ``<output>.config.json`` next to it; a rerun with a
different configuration is refused instead of mixing results. Progress: ``tqdm.auto``
(a text bar in scripts, a widget in notebooks).
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import itertools
import json
import platform
import time
from pathlib import Path

import pandas as pd

ID = "condition_id"


def grid(**axes) -> list[dict]:
    """Cartesian product of named axes: ``grid(rate=[4, 8], seed=[0, 1])`` -> 4 conditions."""
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"grid axis {name!r} must be a list of values, got {type(values).__name__}")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(axes[k]) for k in names))]


def condition_id(condition: dict) -> str:
    """Stable short hash of a condition (JSON with sorted keys)."""
    return hashlib.sha1(json.dumps(condition, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _is_dask_client(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _completed(futures, executor):
    if _is_dask_client(executor):
        from distributed import as_completed
        return as_completed(futures)
    return cf.as_completed(futures)


def _check_config(path: Path, config: dict):
    record = dict(config=config)
    text = json.dumps(record, sort_keys=True, default=str)
    if path.exists():
        old = json.loads(path.read_text())
        if json.dumps(dict(config=old.get("config")), sort_keys=True, default=str) != text:
            raise ValueError(f"{path} holds a different configuration than this sweep; use another "
                             "output path (or delete the old results) instead of mixing them")
        return
    import workbench
    record.update(created=time.strftime("%Y-%m-%dT%H:%M:%S"), python=platform.python_version(),
                  workbench=workbench.__version__)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))


def run_sweep(task, conditions, output, *, config: dict | None = None, executor=None,
              max_workers: int = 2, progress: bool = True, device=None) -> pd.DataFrame:
    """Run ``task(**condition)`` for each condition; return the tidy table of all rows.

    task: callable returning a dict (one row) or a list of dicts (several rows) of scalars.
    conditions: list of dicts of JSON-serialisable scalars (see :func:`grid`).
    output: CSV path; rows are appended as conditions finish, and conditions whose
        ``condition_id`` is already in the file are skipped (resume).
    config: everything needed to reproduce the sweep (experiment, observer, procedure);
        stored in ``<output>.config.json``.
    executor: None (a local thread pool of ``max_workers``), a
        ``concurrent.futures.Executor``, or a ``dask.distributed.Client``.
    device: passed to every task as ``device=`` (e.g. 'cuda': the batched trials run there);
        not part of the condition, so results resume across devices.
    """
    if not callable(task):
        raise TypeError(f"task must be callable, got {type(task).__name__}")
    conditions = list(conditions)
    if not all(isinstance(c, dict) for c in conditions):
        raise TypeError("conditions must be a list of dicts")
    if executor is not None and not hasattr(executor, "submit"):
        raise TypeError("executor must be None, a concurrent.futures.Executor or a "
                        f"dask.distributed.Client, got {type(executor).__name__}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    _check_config(output.with_suffix(".config.json"), dict(config or {}))

    header = None
    done = set()
    if output.exists() and output.stat().st_size:
        with output.open(newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            done = {row[ID] for row in reader}
    todo = [c for c in conditions if condition_id(c) not in done]

    own_pool = executor is None
    pool = cf.ThreadPoolExecutor(max_workers=max_workers) if own_pool else executor
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(conditions), initial=len(conditions) - len(todo), desc="sweep")
    try:
        futures = {}
        extra = {} if device is None else {"device": str(device)}
        for cond in todo:
            kwargs = {**cond, **extra}
            fut = pool.submit(task, **kwargs, pure=False) if _is_dask_client(pool) else pool.submit(task, **kwargs)
            futures[fut] = cond
        for fut in _completed(list(futures), pool):
            cond = futures[fut]
            result = fut.result()
            rows = result if isinstance(result, list) else [result]
            rows = [{ID: condition_id(cond), **cond, **row} for row in rows]
            if header is None:
                header = list(dict.fromkeys(k for r in rows for k in r))
            extra = sorted(set().union(*rows) - set(header))
            if extra:
                raise ValueError(f"task returned columns {extra} not in the table's columns {header}")
            # written (and flushed) per condition: an interruption loses only running conditions
            new_file = not output.exists() or not output.stat().st_size
            with output.open("a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=header)
                if new_file:
                    writer.writeheader()
                writer.writerows(rows)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)
    if not output.exists():
        return pd.DataFrame(columns=[ID, *(conditions[0] if conditions else [])])
    return pd.read_csv(output)
