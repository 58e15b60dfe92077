"""Condition sweeps through an executor, committed condition by condition to a SQLite store.

``run_sweep(task, conditions, output)`` calls ``task(**condition)`` for every condition
(e.g. modulation rate x seed) on an executor: local threads by default, any
``concurrent.futures.Executor``, or a ``dask.distributed.Client`` for a cluster.

Results store: a SQLite database (Python's standard library; WAL journal, ``synchronous =
FULL``). Each finished condition is committed in **one transaction**: its entry in the
``conditions`` table (with its number of rows) and all its rows go in together or not at
all, so a sweep killed at any point (SIGKILL, power loss) leaves only whole conditions; the
uncommitted tail of the journal is discarded by SQLite when the store is next opened. A rerun
with the same output path skips exactly the conditions committed there and recomputes every
other one. Fields are stored as SQLite values (64-bit integers, IEEE doubles bit for bit,
text, blobs) of any size up to SQLite's 1 GB per value; lists, tuples, dicts and arrays are
stored as JSON text and come back as lists/dicts.

``output``: a ``.csv`` path keeps the store next to it (``x.csv`` -> ``x.sqlite``) and
exports the whole table to the CSV (atomically: a temporary file renamed over it) when the
sweep ends or stops; the CSV is an export only and is never read back. A ``.sqlite``,
``.sqlite3`` or ``.db`` path is the store itself. The sweep's configuration is stored in the
database (and exported to ``<output>.config.json`` for people); a rerun with a different
configuration is refused instead of mixing results. Progress: ``tqdm.auto``.

Read a store with :func:`load_results` (a pandas DataFrame), export it with
:func:`export` / :meth:`ResultStore.to_csv`.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import json
import math
import os
import platform
import re
import sqlite3
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from workbench._messages import show

ID = "condition_id"
FORMAT = "workbench-sweep/1"
STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
EXPORT_SUFFIXES = (".csv",)
MAX_CONDITIONS = 10_000_000
MAX_FIELDS = 1900  # SQLite allows 2000 columns per table; a few are the store's own
_ROW = "__row"  # the store's own column: a row's index within its condition
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class SweepStoreError(ValueError):
    """The results store cannot be used: damaged, not a sweep store, or another sweep's."""


def grid(**axes) -> list[dict]:
    """Cartesian product of named axes: ``grid(rate=[4, 8], seed=[0, 1])`` -> 4 conditions.

    Values: numbers (finite), strings, booleans or None; numpy scalars become Python numbers.
    """
    values_of = {}
    for name, values in axes.items():
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__") or getattr(values, "ndim", 1) != 1:
            raise TypeError(f"grid axis {name!r} must be a list of values, got {show(values)}")
        values = [v.item() if hasattr(v, "item") and getattr(v, "ndim", None) == 0 else v for v in values]
        for v in values:
            if not isinstance(v, (int, float, str, bool, type(None))):
                raise TypeError(
                    f"grid axis {name!r} holds {show(v)}; a condition value is a number, a string, a bool or None"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"grid axis {name!r} holds {v}; condition values must be finite")
        values_of[name] = values
    n = math.prod(len(v) for v in values_of.values())
    if n > MAX_CONDITIONS:
        raise ValueError(f"the grid has {n} conditions; at most {MAX_CONDITIONS} are allowed in one sweep")
    names = list(values_of)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values_of[k] for k in names))]


def _condition_json(condition: dict) -> str:
    return json.dumps(condition, sort_keys=True, default=str)


def condition_id(condition: dict) -> str:
    """Stable short hash of a condition (JSON with sorted keys)."""
    if not isinstance(condition, dict):
        raise TypeError(f"condition must be a dict, got {show(condition)}")
    return hashlib.sha1(_condition_json(condition).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- values
_MERGE = {frozenset({"int", "float"}): "float", frozenset({"bool", "int"}): "int"}


def _merge_kind(old: str, new: str) -> str:
    if old == new or new == "none":
        return old
    if old == "none":
        return new
    return _MERGE.get(frozenset({old, new}), "mixed")


def _json_default(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    raise TypeError(type(value).__name__)


def _sql_value(value, name: str, where: str):
    """One field as ``(SQLite value, kind)``; kind says how to read it back."""
    if value is None:
        return None, "none"
    if (
        type(value).__module__ == "numpy"
        and getattr(value, "ndim", None) == 0
        or type(value).__module__ == "torch"
        and getattr(value, "ndim", None) == 0
    ):
        value = value.item()  # numpy / torch scalars
    if isinstance(value, bool):
        return int(value), "bool"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValueError(
                f"field {name!r} of {where} is an integer outside the 64-bit range: store it as a float or a string"
            )
        return int(value), "int"
    if isinstance(value, float):
        return float(value), "float"
    if isinstance(value, str):
        return value, "str"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), "bytes"
    if isinstance(value, (list, tuple, dict)) or hasattr(value, "tolist"):
        try:
            return json.dumps(value, default=_json_default), "json"
        except (TypeError, ValueError):
            pass
    raise TypeError(
        f"field {name!r} of {where} has type {type(value).__name__}; a sweep stores numbers, "
        "strings, bytes, None, and lists/dicts/arrays of numbers and strings"
    )


def _read_value(value, kind: str):
    if value is None:
        return math.nan if kind == "float" else None
    if kind == "bool":
        return bool(value)
    if kind == "json":
        return json.loads(value)
    return value


# --------------------------------------------------------------------------- store
def store_paths(output) -> tuple[Path, Path | None]:
    """``(store, csv_export)`` for an output path (see the module docstring)."""
    if not isinstance(output, (str, os.PathLike)) or isinstance(output, bytes):
        raise TypeError(f"output must be a path (str or pathlib.Path), got {show(output)}")
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix in EXPORT_SUFFIXES:
        return output.with_suffix(".sqlite"), output
    if suffix in STORE_SUFFIXES:
        return output, None
    raise ValueError(
        f"output must end in .csv (store beside it, CSV export) or one of {STORE_SUFFIXES} "
        f"(the store itself), got {str(output)!r}"
    )


def _damaged(path: Path, exc: Exception) -> SweepStoreError:
    return SweepStoreError(
        f"{path} is not a readable sweep results store ({exc}). It may be damaged or not a workbench "
        "store: move it away to start the sweep afresh, or restore it from a backup."
    )


class ResultStore:
    """A sweep's results in one SQLite file: conditions committed whole, rows of any size.

    Tables: ``meta`` (format, configuration), ``conditions`` (id, position in the condition
    list, the condition as JSON, number of rows, compute time), ``fields`` (each field's
    name, SQL column and kind) and ``results`` (one row per result row).

    ``ResultStore(path, config=...)`` opens or creates the store; an existing store must hold
    the same ``config`` (``config=None`` skips the check, for reading). Opening checks the file
    (``PRAGMA quick_check``) and drops any condition whose rows are incomplete (only possible
    if the file was edited by hand), with a warning; they are then recomputed.
    """

    def __init__(self, path, config: dict | None = None, *, readonly: bool = False):
        if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
            raise TypeError(f"path must be a file path (str or pathlib.Path), got {show(path)}")
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a dict or None, got {show(config)}")
        self.path = Path(path)
        if self.path.suffix.lower() not in STORE_SUFFIXES:
            raise ValueError(f"path must end in one of {STORE_SUFFIXES} (a sweep results store), got {str(path)!r}")
        if self.path.is_dir():
            raise ValueError(f"path {str(path)!r} is a directory, not a sweep results store")
        if readonly and not self.path.exists():
            raise FileNotFoundError(f"no sweep results store at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=60.0, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _damaged(self.path, exc) from None
        try:
            self._open(config, readonly)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise _damaged(self.path, exc) from None
        except BaseException:
            self._db.close()
            raise

    # ----------------------------------------------------------------------------- opening
    def _open(self, config, readonly):
        db = self._db
        db.execute("PRAGMA busy_timeout = 60000")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            if readonly:
                raise SweepStoreError(f"{self.path} holds no sweep results")
            self._create(config)
        elif not {"meta", "conditions", "fields", "results"} <= tables:
            raise SweepStoreError(
                f"{self.path} is an SQLite file but not a workbench sweep store "
                f"(tables {sorted(tables)}); choose another output path"
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {check}")
        meta = dict(db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT:
            raise SweepStoreError(
                f"{self.path} has store format {meta.get('format')!r}; this workbench reads {FORMAT!r}"
            )
        try:
            self.meta = json.loads(meta["record"])
            stored = self.meta["config"]
        except (KeyError, TypeError, ValueError):
            raise SweepStoreError(
                f"the configuration stored in {self.path} is damaged (not valid JSON); "
                "move the store away to start afresh"
            ) from None
        if config is not None and _canonical(stored) != _canonical(config):
            raise SweepStoreError(
                f"{self.path} holds a different configuration than this sweep; use another "
                "output path (or delete the old results) instead of mixing them"
            )
        self._fields = {
            name: (column, kind)
            for name, column, kind in db.execute("SELECT name, column, kind FROM fields ORDER BY position")
        }
        self._drop_incomplete(readonly)
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")

    def _create(self, config):
        import workbench

        record = dict(
            config=_plain(config or {}),
            created=time.strftime("%Y-%m-%dT%H:%M:%S"),
            python=platform.python_version(),
            workbench=workbench.__version__,
        )
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
                db.execute("ROLLBACK")  # another process created it meanwhile
                return
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE conditions (condition_id TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                "condition TEXT NOT NULL, n_rows INTEGER NOT NULL, elapsed_s REAL, finished TEXT)"
            )
            db.execute(
                "CREATE TABLE fields (name TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                "column TEXT NOT NULL UNIQUE, kind TEXT NOT NULL)"
            )
            db.execute(
                f'CREATE TABLE results ("{ID}" TEXT NOT NULL, "{_ROW}" INTEGER NOT NULL, '
                f'PRIMARY KEY ("{ID}", "{_ROW}"))'
            )
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("record", json.dumps(record, sort_keys=True))]
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _drop_incomplete(self, readonly):
        bad = [
            r[0]
            for r in self._db.execute(
                f'SELECT c.condition_id FROM conditions c LEFT JOIN results r ON r."{ID}" = c.condition_id '
                f'GROUP BY c.condition_id HAVING count(r."{_ROW}") != max(c.n_rows)'
            )
        ]
        orphans = self._db.execute(
            f'SELECT count(*) FROM results WHERE "{ID}" NOT IN (SELECT condition_id FROM conditions)'
        ).fetchone()[0]
        if not (bad or orphans):
            return
        if readonly:
            raise SweepStoreError(
                f"{self.path} holds {len(bad)} incomplete conditions; open it with "
                "run_sweep or ResultStore(path) to drop them"
            )
        with self._transaction():
            for cid in bad:
                self._db.execute("DELETE FROM conditions WHERE condition_id = ?", (cid,))
            self._db.execute(f'DELETE FROM results WHERE "{ID}" NOT IN (SELECT condition_id FROM conditions)')
        warnings.warn(
            f"{self.path}: dropped {len(bad)} incomplete condition(s) and {orphans} stray row(s); "
            "they will be recomputed",
            RuntimeWarning,
            stacklevel=4,
        )

    # ----------------------------------------------------------------------------- writing
    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, exc, tb):
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            return False

    def _transaction(self):
        return self._Tx(self._db)

    def _add_field(self, name: str, kind: str):
        used = {c.lower() for c, _ in self._fields.values()} | {ID, _ROW.lower()}
        column = name if _SAFE_NAME.match(name) and name.lower() not in used else f"field_{len(self._fields)}"
        if len(self._fields) >= MAX_FIELDS:
            raise ValueError(
                f"rows may hold at most {MAX_FIELDS} fields; put long vectors into one field "
                "(a list, an array or bytes)"
            )
        self._db.execute(f'ALTER TABLE results ADD COLUMN "{column}"')
        self._db.execute("INSERT INTO fields VALUES (?, ?, ?, ?)", (name, len(self._fields), column, kind))
        self._fields[name] = (column, kind)

    def commit(self, condition: dict, rows, *, position: int = 0, elapsed_s: float | None = None) -> bool:
        """Store one condition and all its rows in one transaction (all or nothing).

        ``rows``: a dict (one row) or a list of dicts. Returns False (and stores nothing) when
        the condition is already in the store (e.g. committed by a concurrent sweep).
        """
        cid = condition_id(condition)
        rows = rows if isinstance(rows, list) else [rows]
        where = f"condition {_condition_json(condition)}"
        if not all(isinstance(r, dict) for r in rows):
            raise TypeError(
                f"the task must return a dict or a list of dicts for {where}, got "
                f"{next(type(r).__name__ for r in rows if not isinstance(r, dict))}"
            )
        encoded = []
        for row in rows:
            full = {**condition, **row}
            if ID in full or _ROW in full:
                raise ValueError(f"{ID!r} and {_ROW!r} are the store's own field names; rename the field of {where}")
            for key in full:
                if not isinstance(key, str):
                    raise TypeError(f"field names must be strings, got {key!r} in {where}")
            encoded.append({k: _sql_value(v, k, where) for k, v in full.items()})
        old_fields = dict(self._fields)
        try:
            with self._transaction():
                if self._db.execute("SELECT 1 FROM conditions WHERE condition_id = ?", (cid,)).fetchone():
                    return False
                for row in encoded:
                    for name, (_, kind) in row.items():
                        if name not in self._fields:
                            self._add_field(name, kind)
                        else:
                            column, old = self._fields[name]
                            merged = _merge_kind(old, kind)
                            if merged != old:
                                self._db.execute("UPDATE fields SET kind = ? WHERE name = ?", (merged, name))
                                self._fields[name] = (column, merged)
                self._db.execute(
                    "INSERT INTO conditions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        cid,
                        int(position),
                        _condition_json(condition),
                        len(rows),
                        elapsed_s,
                        time.strftime("%Y-%m-%dT%H:%M:%S"),
                    ),
                )
                for i, row in enumerate(encoded):
                    columns = [f'"{self._fields[name][0]}"' for name in row]
                    marks = ", ".join("?" * (len(columns) + 2))
                    self._db.execute(
                        f'INSERT INTO results ("{ID}", "{_ROW}", {", ".join(columns)}) VALUES ({marks})',
                        [cid, i, *(value for value, _ in row.values())],
                    )
        except sqlite3.DataError as exc:  # e.g. a value over SQLite's 1 GB limit
            self._fields = old_fields
            raise ValueError(f"a field of {where} cannot be stored: {exc}") from None
        except BaseException:
            self._fields = old_fields
            raise
        return True

    # ----------------------------------------------------------------------------- reading
    def completed(self) -> set:
        """Ids of the conditions committed to the store."""
        return {r[0] for r in self._db.execute("SELECT condition_id FROM conditions")}

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM conditions").fetchone()[0]

    def table(self) -> pd.DataFrame:
        """All rows as a DataFrame: ``condition_id``, the condition's fields, the row's fields;
        in the order of the condition list the sweep was given, then row order."""
        names = list(self._fields)
        cols = "".join(f', r."{self._fields[n][0]}"' for n in names)
        cur = self._db.execute(
            f'SELECT r."{ID}"{cols} FROM results r JOIN conditions c '
            f'ON c.condition_id = r."{ID}" ORDER BY c.position, c.condition_id, r."{_ROW}"'
        )
        records = cur.fetchall()
        data = {ID: [r[0] for r in records]}
        for j, name in enumerate(names, start=1):
            kind = self._fields[name][1]
            data[name] = [_read_value(r[j], kind) for r in records]
        return pd.DataFrame(data, columns=[ID, *names])

    def to_csv(self, path) -> Path:
        """Write the whole table to a CSV file atomically (temporary file, then rename)."""
        return export(self, path)

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _plain(config: dict) -> dict:
    return json.loads(_canonical(config))


def _canonical(config) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def _atomic_write(path: Path, write) -> Path:
    """Write through ``write(file)`` to a temporary file beside ``path``, then rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed export
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def export(store, path) -> Path:
    """Export a store (a :class:`ResultStore` or its path) to ``path`` (``.csv``), atomically."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"path must be a file path (str or pathlib.Path), got {show(path)}")
    path = Path(path)
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise ValueError(f"path must end in one of {EXPORT_SUFFIXES}, got {str(path)!r}")
    if not isinstance(store, ResultStore):
        if not isinstance(store, (str, os.PathLike)) or isinstance(store, bytes):
            raise TypeError(f"store must be a ResultStore or its path, got {show(store)}")
        with ResultStore(store_paths(store)[0], readonly=True) as opened:
            return export(opened, path)
    table = store.table()
    return _atomic_write(path, lambda f: table.to_csv(f, index=False))


def load_results(path) -> pd.DataFrame:
    """The table of a sweep's results store (``path``: the store or the sweep's ``.csv`` output)."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"path must be a file path (str or pathlib.Path), got {show(path)}")
    with ResultStore(store_paths(path)[0], readonly=True) as store:
        return store.table()


def _write_config_export(path: Path, record: dict):
    try:
        _atomic_write(path, lambda f: f.write(json.dumps(record, indent=2, sort_keys=True)))
    except OSError:  # a convenience copy for people; the store holds the configuration
        pass


# --------------------------------------------------------------------------- sweep
def _is_dask_client(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _completed(futures, executor):
    if _is_dask_client(executor):
        from distributed import as_completed

        return as_completed(futures)
    return cf.as_completed(futures)


def _timed(task, cond, extra=None):
    """``task(**cond, **extra)`` and its wall time (``extra``: arguments that are not part of
    the condition, such as the device)."""
    t0 = time.perf_counter()
    return task(**cond, **(extra or {})), time.perf_counter() - t0


def run_sweep(
    task,
    conditions,
    output,
    *,
    config: dict | None = None,
    executor=None,
    max_workers: int = 2,
    progress: bool = True,
    device=None,
) -> pd.DataFrame:
    """Run ``task(**condition)`` for each condition; return the tidy table of all rows.

    task: callable returning a dict (one row) or a list of dicts (several rows).
    conditions: list of dicts of JSON-serialisable scalars (see :func:`grid`), no duplicates.
    output: ``.csv`` (store ``.sqlite`` beside it, exported to the CSV at the end) or the
        store's own path (``.sqlite``, ``.sqlite3``, ``.db``). Conditions already committed
        there are skipped (resume); every other one is computed.
    config: everything needed to reproduce the sweep (experiment, observer, procedure);
        stored with the results, and a rerun with another configuration is refused.
    executor: None (a local thread pool of ``max_workers``), a
        ``concurrent.futures.Executor``, or a ``dask.distributed.Client``.
    device: passed to every task as ``device=`` (e.g. 'cuda': the batched trials run there);
        not part of the condition, so results resume across devices.

    Returns every row in the store (also those of conditions from earlier runs).
    """
    if not callable(task):
        raise TypeError(f"task must be callable, got {show(task)}")
    if (
        isinstance(conditions, (str, bytes, dict))
        or not hasattr(conditions, "__iter__")
        or getattr(conditions, "ndim", 1) != 1
    ):
        raise TypeError(f"conditions must be a list of dicts, got {show(conditions)}")
    conditions = list(conditions)
    if not all(isinstance(c, dict) for c in conditions):
        raise TypeError("conditions must be a list of dicts")
    if not all(isinstance(k, str) for c in conditions for k in c):
        raise TypeError("condition keys must be strings (the task's keyword arguments)")
    ids = [condition_id(c) for c in conditions]
    first = {}
    for i, cid in enumerate(ids):
        if cid in first:
            raise ValueError(
                f"conditions[{i}] repeats conditions[{first[cid]}] ({_condition_json(conditions[i])}); "
                "add an axis (e.g. seed) to tell repetitions apart"
            )
        first[cid] = i
    if executor is not None and not hasattr(executor, "submit"):
        raise TypeError(
            f"executor must be None, a concurrent.futures.Executor or a dask.distributed.Client, got {show(executor)}"
        )
    if executor is None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or not 1 <= max_workers <= 1024
    ):
        raise ValueError(f"max_workers must be an integer in [1, 1024], got {show(max_workers)}")
    if not isinstance(output, (str, os.PathLike)) or isinstance(output, bytes):
        raise TypeError(f"output must be a path (str or pathlib.Path), got {show(output)}")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict or None, got {show(config)}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {show(progress)}")
    store_path, csv_path = store_paths(output)
    if csv_path is not None and csv_path.exists() and csv_path.stat().st_size and not store_path.exists():
        raise SweepStoreError(
            f"{csv_path} holds results written without a results store (an older workbench appended "
            "rows to the CSV, which cannot be resumed safely). Move it away and rerun: the sweep then "
            f"commits to {store_path.name} and exports {csv_path.name}."
        )
    store = ResultStore(store_path, dict(config or {}))
    _write_config_export(store_path.with_suffix(".config.json"), store.meta)
    done = store.completed()
    todo = [(i, c) for i, c in enumerate(conditions) if ids[i] not in done]

    own_pool = executor is None
    pool = cf.ThreadPoolExecutor(max_workers=max_workers) if own_pool else executor
    bar = None
    futures = {}
    try:
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(conditions), initial=len(conditions) - len(todo), desc="sweep")
        extra = {} if device is None else {"device": str(device)}
        for position, cond in todo:
            fut = (
                pool.submit(_timed, task, cond, extra, pure=False)
                if _is_dask_client(pool)
                else pool.submit(_timed, task, cond, extra)
            )
            futures[fut] = (position, cond)
        for fut in _completed(list(futures), pool):
            position, cond = futures.pop(fut)
            result, elapsed = fut.result()
            store.commit(cond, result, position=position, elapsed_s=elapsed)
            if bar is not None:
                bar.update(1)
    except BaseException:
        # an error or Ctrl+C: keep what finished (also tasks still running now), then re-raise
        try:
            if own_pool:
                pool.shutdown(wait=True, cancel_futures=True)
            for fut, (position, cond) in futures.items():
                if isinstance(fut, cf.Future) and fut.done() and not fut.cancelled() and fut.exception() is None:
                    result, elapsed = fut.result()
                    store.commit(cond, result, position=position, elapsed_s=elapsed)
            if csv_path is not None and len(store):
                export(store, csv_path)
        except Exception as exc:  # noqa: BLE001 - the original error matters more
            warnings.warn(f"while stopping the sweep: {exc}", RuntimeWarning, stacklevel=2)
        finally:
            store.close()
            if bar is not None:
                bar.close()
        raise
    if bar is not None:
        bar.close()
    if own_pool:
        pool.shutdown(wait=True)
    try:
        if csv_path is not None:
            export(store, csv_path)
        return store.table()
    finally:
        store.close()
