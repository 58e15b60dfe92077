"""Speed of every model on CPU, side by side with the peer torch_amt 0.2 (issue 14).

Run::

    python benchmarks/models.py [--models Dau1997,King2019] [--repeats 5]
                                [--peer-python /work/peer-venv/bin/python] [--retain-freed-memory]

For every model at its default settings, on 1 s of a 60 dB SPL 1 kHz tone (Moore2016: the
same tone in both ears), float32, this prints

* ``fwd 1t``: one forward, torch and numba at one thread (best of ``--repeats``, wall ms;
  ``cpu`` is the process CPU time of that best run, which tracks an idle machine better
  on a shared one, but also counts idle OpenMP threads that spin after torch's two-thread
  start-up: the goal is judged on wall time, as the issue states it);
* ``f+b/f``: forward + backward (gradient of the input) over forward;
* ``b8 1t`` / ``b8 2t``: batch 8 at one and at two threads, and their ratio;
* ``first``: construction plus first forward in a fresh subprocess (numba kernels come from
  the on-disk cache after the very first run; ``import`` is timed separately);
* ``peer``: torch_amt 0.2's forward on the same input at one thread, run by the peer's own
  interpreter (``--peer-python``; ``benchmarks/peer_env.sh`` installs it), and ``x`` how
  many times faster ours is. The peer is timed once after one warm-up call (Paulick2024 and
  the other slow models: once).

``--passive-omp`` sets ``OMP_WAIT_POLICY=PASSIVE`` (torch and numba each bring an OpenMP
runtime; spinning idle threads of one slow the other down at two threads).
``--retain-freed-memory`` first calls :func:`workbench.kernels.memory.retain_freed_memory`
(freed blocks stay in the heap: no page faults for the next call's outputs). Timings are
printed, never asserted; on a shared machine read the CPU column and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "--passive-omp" in sys.argv:  # before torch and numba load their OpenMP runtimes
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import torch  # noqa: E402

import workbench  # noqa: E402
from workbench.cli import demo_input  # noqa: E402

# Default settings of each model (King2019: its default 80-8000 Hz range, not the demo's basef).
MODELS = [
    ("Dau1997", {"fs": 44100}, 44100),
    ("Osses2021", {"fs": 44100}, 44100),
    ("King2019", {"fs": 44100}, 44100),
    ("Paulick2024", {"fs": 44100}, 44100),
    ("Glasberg2002", {"fs": 32000}, 32000),
    ("Moore2016", {"fs": 32000}, 32000),
]
GOAL_MS = {"Dau1997": 40, "Osses2021": 40, "King2019": 50, "Paulick2024": 80, "Glasberg2002": 30, "Moore2016": 40}
SLOW_PEERS = {"Dau1997", "Osses2021", "Paulick2024", "Moore2016"}


def _threads(n: int) -> None:
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def _input(model, batch: int) -> torch.Tensor:
    """The demo tone (1 s, 60 dB SPL) in the model's input unit, repeated ``batch`` times."""
    x = demo_input(model, 1.0).to(torch.float32)[0]
    return x.unsqueeze(0).repeat(batch, *([1] * x.dim()))


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _tensors(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _tensors(v)]
    return []


def _best(fn, repeats: int) -> tuple[float, float]:
    """Best wall time of ``fn`` in ms, with the process CPU time of that run (after a warm-up)."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if wall < best[0]:
            best = (wall, cpu)
    return best[0] * 1e3, best[1] * 1e3


def bench_ours(name: str, kwargs: dict, fs: int, repeats: int) -> dict:
    model = getattr(workbench, name)(**kwargs)
    x1, x8 = _input(model, 1), _input(model, 8)

    def forward(x):
        with torch.no_grad():
            model(x)

    def forward_backward():
        xi = x1.clone().requires_grad_(True)
        outs = [t for t in _tensors(model(xi)) if t.is_floating_point() and t.requires_grad]
        sum(t.square().mean() for t in outs).backward()

    _threads(1)
    fwd, fwd_cpu = _best(lambda: forward(x1), repeats)
    try:
        fb = _best(forward_backward, max(2, repeats // 2))[0]
    except Exception as exc:  # noqa: BLE001 - report it and go on with the other figures
        print(f"  ({name}: backward failed: {type(exc).__name__}: {exc})")
        fb = float("nan")
    b8_1 = _best(lambda: forward(x8), max(2, repeats // 2))[0]
    _threads(2)
    b8_2 = _best(lambda: forward(x8), max(2, repeats // 2))[0]
    _threads(1)
    return {"fwd_ms": fwd, "fwd_cpu_ms": fwd_cpu, "fb_ms": fb, "b8_1t_ms": b8_1, "b8_2t_ms": b8_2}


FIRST_CALL = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import torch
    import workbench
    from workbench.cli import demo_input
    name, kwargs, fs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    cls = getattr(workbench, name)
    t1 = time.perf_counter()
    with torch.no_grad():
        model = cls(**kwargs)
        model(demo_input(model, 1.0).float())
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "first_s": t2 - t1}))
""")


def first_call(name: str, kwargs: dict, fs: int) -> dict:
    """Construction + first forward in a fresh interpreter (kernels loaded from numba's cache)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "OMP_NUM_THREADS": "1",
    }
    run = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, name, json.dumps(kwargs), str(fs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if run.returncode:
        return {"error": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed"}
    return json.loads(run.stdout.strip().splitlines()[-1])


# Runs in the peer's interpreter: no workbench there. The tone is the one of workbench.cli.demo_input.
PEER = textwrap.dedent("""
    import importlib, json, math, sys, time
    import torch
    torch.set_num_threads(1)
    models = importlib.import_module("torch_amt.models")
    name, kwargs, fs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    pascal, runs = sys.argv[4] == "1", int(sys.argv[5])
    n = fs
    t = torch.arange(n, dtype=torch.float64) / fs
    x = math.sqrt(2) * 20e-6 * 10 ** (60 / 20) * torch.sin(2 * math.pi * 1000 * t)
    ramp = int(0.01 * fs)
    w = torch.sin(0.5 * math.pi * torch.arange(ramp, dtype=torch.float64) / ramp) ** 2
    x[:ramp] *= w
    x[-ramp:] *= w.flip(0)
    x = (x if pascal else x / 2.0).to(torch.float32)
    x = (torch.stack([x, x]) if name == "Moore2016" else x).unsqueeze(0)
    model = getattr(models, name)(**kwargs)
    best = float("inf")
    with torch.no_grad():
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"peer_ms": best * 1e3}))
""")


def bench_peer(python: str, name: str, kwargs: dict, fs: int) -> dict:
    runs = 1 if name in SLOW_PEERS else 2
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    try:
        run = subprocess.run(
            [
                python,
                "-c",
                PEER,
                name,
                json.dumps(kwargs),
                str(fs),
                str(int(getattr(workbench, name).input_unit == "pa")),
                str(runs),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"{type(exc).__name__}"}
    if run.returncode:
        return {"error": run.stderr.strip().splitlines()[-1][:80] if run.stderr.strip() else "failed"}
    return json.loads(run.stdout.strip().splitlines()[-1])


def _peer_python(arg: str | None) -> str | None:
    if arg:
        return arg
    default = Path("/work/peer-venv/bin/python")
    return str(default) if default.exists() else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(m[0] for m in MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--peer-python",
        default=None,
        help="interpreter with torch_amt 0.2 (benchmarks/peer_env.sh); default /work/peer-venv if present",
    )
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-first-call", action="store_true")
    parser.add_argument("--retain-freed-memory", action="store_true")
    parser.add_argument(
        "--passive-omp",
        action="store_true",
        help="OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads (torch's and numba's runtimes) sleep "
        "instead of spinning, which matters for the two-thread figures",
    )
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    wanted = set(args.models.split(","))
    if args.retain_freed_memory:
        from workbench.kernels.memory import retain_freed_memory

        print(f"retain_freed_memory(): {retain_freed_memory()}")
    peer = None if args.no_peer else _peer_python(args.peer_python)
    print(
        f"torch {torch.__version__}, numba {numba.__version__} (max {numba.config.NUMBA_NUM_THREADS} threads), "
        f"1 s of a 60 dB SPL 1 kHz tone, float32, wall ms (best of {args.repeats}); "
        f"peer: {peer or 'not available (bash benchmarks/peer_env.sh)'}"
    )
    head = (
        f"{'model':13s} {'fwd 1t':>7s} {'cpu':>6s} {'goal':>5s} {'f+b/f':>6s} {'b8 1t':>7s} {'b8 2t':>7s} "
        f"{'2t/1t':>6s} {'import':>7s} {'first':>6s} {'peer':>9s} {'x':>6s}"
    )
    rows, results = [], {}
    for name, kwargs, fs in MODELS:
        if name not in wanted:
            continue
        r = bench_ours(name, kwargs, fs, args.repeats)
        if not args.no_first_call:
            r.update(first_call(name, kwargs, fs))
        if peer:
            r.update(bench_peer(peer, name, kwargs, fs))
        results[name] = r
        goal = "met" if r["fwd_ms"] <= GOAL_MS[name] else "MISS"
        peer_ms = r.get("peer_ms")
        peer_col = f"{peer_ms:9.0f}" if peer_ms else "        -"
        ratio_col = f"{peer_ms / r['fwd_ms']:6.0f}" if peer_ms else "     -"
        line = (
            f"{name:13s} {r['fwd_ms']:7.1f} {r['fwd_cpu_ms']:6.1f} {goal:>5s} {r['fb_ms'] / r['fwd_ms']:6.2f} "
            f"{r['b8_1t_ms']:7.0f} {r['b8_2t_ms']:7.0f} {r['b8_2t_ms'] / r['b8_1t_ms']:6.2f} "
            f"{r.get('import_s', float('nan')):7.2f} {r.get('first_s', float('nan')):6.2f} "
            f"{peer_col} {ratio_col}"
        )
        rows.append(line)
        print(line if len(rows) > 1 else head + "\n" + line, flush=True)
        for key in ("error",):
            if key in r:
                print(f"  ({name}: {r[key]})")
    print("\ngoals: fwd 1t (wall) <= goal ms; f+b/f <= 3; 2t/1t <= 0.6; first <= 1 s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
