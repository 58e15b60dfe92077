"""Classroom load benchmark: N student sessions against a real ``workbench serve`` on 127.0.0.1.

Each simulated student is a real Bokeh session of the app (the websocket protocol a browser
speaks, through ``bokeh.client``; no browser, so the client costs little CPU next to the
server): it opens ``/app?model=...``, waits for its first stage view, then moves a slider
(stimulus level or frequency, or a model parameter) every few seconds and times each move
until the readout shows the new result. ``--experiments`` of them also start a simulated
experiment (default: the Paulick2024 observer on the AM-detection task) on the Experiments
tab, keep moving sliders while it runs and record its progress messages and duration; with
``--cancel-one`` one of them cancels after a while (the worker must stop). Memory of the
server process and its experiment workers (RSS and PSS) is sampled every second.

Bounded: at most ``--sessions`` sessions (<= 60), ``--duration`` seconds of measuring after a
``--ramp`` during which sessions join, and ``--max-wall`` seconds in all (then everything
is stopped). It prints the figures and writes them as JSON; it asserts nothing (the goal for
a 2-core, 24 GB machine: 30 sessions, 5 experiments, p95 slider latency <= 2 s, memory <= 4 GB).

The 30-student run (on a quiet machine; about 8 minutes)::

    python benchmarks/classroom_load.py --sessions 30 --experiments 5 --duration 300 --ramp 60 \\
        --json classroom_load.json

A small smoke run::

    python benchmarks/classroom_load.py --sessions 4 --experiments 1 --duration 40 --ramp 5 \\
        --experiment-observer envelope

Server options after ``--`` go to ``workbench serve`` (e.g. ``-- --experiment-workers 2``);
``--url`` drives a server that is already running instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import stop_process_group  # noqa: E402 - after the repository is on the path
from workbench.dashboards.core import STIMULUS_CONTROLS  # noqa: E402

MOVE_TIMEOUT_S = 30.0
SLIDERS = (("param-level_db_spl", 0.5), ("param-frequency_hz", 0.3), ("model", 0.2))
STIMULUS_NAMES = {p.name for p in STIMULUS_CONTROLS}


# --------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def start_server(port: int, extra: list[str], log_path: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), *extra],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(base: str, proc, deadline_s: float) -> dict:
    end = time.monotonic() + deadline_s
    status = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            status = get_json(f"{base}/workbench-status")
            warm = status.get("warm_up", {}).get("state")
            pool = status.get("experiments") or {}
            if warm in ("finished", "not started") and pool.get("ready", 0) >= pool.get("workers", 0):
                return status
        except OSError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"the server was not ready after {deadline_s} s (last status: {status})")


class MemorySampler(threading.Thread):
    """RSS and PSS (MB) of the server process and its children, once a second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_flag = pid, [], threading.Event()

    def run(self):
        import psutil

        try:
            server = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop_flag.wait(1.0):
            try:
                procs = [server] + server.children(recursive=True)
                rss = {p.pid: p.memory_info().rss / 1e6 for p in procs}
                pss = 0.0
                for p in procs:
                    try:
                        pss += p.memory_full_info().pss / 1e6
                    except (psutil.Error, AttributeError):
                        pss = float("nan")
                workers = {
                    c.pid
                    for c in procs
                    if "experiment-worker" in " ".join(c.cmdline()[-3:]) or "multiprocessing" in " ".join(c.cmdline())
                }
                self.samples.append(
                    {
                        "t": time.time(),
                        "server_rss": sum(v for k, v in rss.items() if k not in workers),
                        "total_rss": sum(rss.values()),
                        "total_pss": pss,
                        "n_procs": len(procs),
                    }
                )
            except psutil.Error:
                return

    def peak(self, key: str) -> float:
        return max((s[key] for s in self.samples), default=float("nan"))


# --------------------------------------------------------------------------- a student
def _models(doc, css: str):
    return [m for m in doc.models if css in (getattr(m, "css_classes", None) or [])]


def _one(doc, css: str):
    found = _models(doc, css)
    if not found:
        raise RuntimeError(f"no model with css class {css!r} in the page")
    return found[0]


class Student(threading.Thread):
    """One session: its own thread and event loop, a Bokeh client session, a behaviour."""

    def __init__(
        self,
        index: int,
        base: str,
        model: str,
        start_at: float,
        stop_at: float,
        think,
        rng_seed: int,
        experiment: dict | None = None,
        results: dict = None,
        lock=None,
    ):
        super().__init__(daemon=True, name=f"student-{index}")
        self.index, self.base, self.model = index, base, model
        self.start_at, self.stop_at, self.think = start_at, stop_at, think
        self.rng = random.Random(rng_seed)
        self.experiment = experiment
        self.results, self.lock = results, lock
        self.moves: list[float] = []
        self.timeouts = 0
        self.timed_out: list[dict] = []  # which moves got no new readout, to look into
        self.errors: list[str] = []
        self.first_view_s = None
        self.exp_record: dict | None = None

    # ------------------------------------------------------------------ plumbing
    def run(self):
        from tornado.ioloop import IOLoop

        asyncio.set_event_loop(asyncio.new_event_loop())
        time.sleep(max(0.0, self.start_at - time.time()))
        try:
            from bokeh.client import pull_session

            io = IOLoop.current()
            self.session = pull_session(url=f"{self.base}/app", io_loop=io, arguments={"model": self.model})
            wait = self.experiment["wait_s"] if self.experiment else 0.0
            io.run_sync(self.behave, timeout=max(10.0, self.stop_at - time.time() + wait + 60))
        except Exception as exc:  # noqa: BLE001 - recorded and reported
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            try:
                self.session.close()
            except Exception:  # noqa: BLE001
                pass
            with self.lock:
                self.results[self.index] = self

    async def pump(self):
        conn = self.session._connection  # bokeh's client has no public "process messages" coroutine
        while True:
            message = await conn._pop_message()
            if message is None:
                return
            if message.msgtype == "PATCH-DOC":
                try:
                    self.session._handle_patch(message)
                except Exception as exc:  # noqa: BLE001
                    self.errors.append(f"patch: {exc}")

    async def until(self, predicate, timeout: float) -> float | None:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if predicate():
                return time.perf_counter() - t0
            await asyncio.sleep(0.01)
        return None

    # ------------------------------------------------------------------ behaviour
    async def behave(self):
        from bokeh.events import ButtonClick, DocumentReady

        doc = self.session.document
        asyncio.ensure_future(self.pump())
        readout = _one(doc, "readout")
        t0 = time.perf_counter()
        doc.callbacks.send_event(DocumentReady())
        waited = await self.until(lambda: "compute time" in (readout.text or ""), 120.0)
        self.first_view_s = None if waited is None else time.perf_counter() - t0
        exp_task = None
        if self.experiment is not None:
            await asyncio.sleep(self.rng.uniform(0.0, 3.0))
            tabs = next(m for m in doc.models if type(m).__name__ == "Tabs" and hasattr(m, "active"))
            tabs.active = 2
            from workbench.dashboards.experiments_ui import TASK_LABELS

            _one(doc, "experiment-task").value = TASK_LABELS.get(self.experiment["task"], self.experiment["task"])
            await asyncio.sleep(0.5)
            _one(doc, "experiment-observer").value = self.experiment["observer"]
            _one(doc, "experiment-n_runs").value = self.experiment["n_runs"]
            await asyncio.sleep(0.5)
            doc.callbacks.send_event(ButtonClick(_one(doc, "run-experiment")))
            exp_task = asyncio.ensure_future(self.follow_experiment(doc))
            await asyncio.sleep(1.0)
            tabs.active = 1  # back to the Models tab: keep moving sliders while it runs
        while time.time() < self.stop_at:
            await asyncio.sleep(self.rng.uniform(*self.think))
            if time.time() >= self.stop_at:
                break
            await self.move(doc, readout)
        if exp_task is not None:
            try:
                await asyncio.wait_for(exp_task, timeout=max(1.0, self.experiment["wait_s"] - 0))
            except asyncio.TimeoutError:
                self.exp_record["state"] = self.exp_record.get("state", "running") + " (not finished in time)"

    async def move(self, doc, readout):
        kinds, weights = zip(*SLIDERS)
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "model":
            sliders = [  # the model's own parameters: not the stimulus designer's (hidden ones do nothing)
                m
                for m in doc.models
                if type(m).__name__ == "Slider"
                and getattr(m, "visible", True)
                and any(
                    c.startswith("param-") and c[6:] not in STIMULUS_NAMES
                    for c in (getattr(m, "css_classes", None) or [])
                )
            ]
            if not sliders:
                kind = "param-level_db_spl"
            else:
                slider = self.rng.choice(sliders)
        if kind != "model":
            slider = _one(doc, kind)
        step = slider.step or 1.0
        value = slider.value + self.rng.choice((-1, 1)) * step * self.rng.choice((1, 1, 2))
        if not slider.start <= value <= slider.end:
            value = slider.value - (value - slider.value)
        before = readout.text
        t0 = time.perf_counter()
        slider.value = value
        waited = await self.until(lambda: readout.text != before, MOVE_TIMEOUT_S)
        if waited is None:
            self.timeouts += 1
            css = [c for c in (slider.css_classes or []) if c.startswith("param-")]
            self.timed_out.append(
                {"student": self.index, "slider": css[0] if css else slider.title, "to": value, "readout": before}
            )
            self.moves.append(MOVE_TIMEOUT_S)
        else:
            self.moves.append(time.perf_counter() - t0)

    async def follow_experiment(self, doc):
        progress = _one(doc, "experiment-progress")
        summary = _one(doc, "experiment-summary")
        message = _one(doc, "experiments-message")
        rec = self.exp_record = {
            "student": self.index,
            "state": "submitted",
            "progress_updates": 0,
            "started_after_s": None,
            "eta_seen": False,
            "first_eta_s": None,
        }
        t0 = time.perf_counter()
        last = progress.text
        cancel_after = self.experiment.get("cancel_after_s")
        cancelled_at = None
        while True:
            await asyncio.sleep(0.1)
            text = progress.text or ""
            if text != last:
                last = text
                rec["progress_updates"] += 1
                if rec["started_after_s"] is None and ("Running" in text or "trials done" in text):
                    rec["started_after_s"] = round(time.perf_counter() - t0, 2)
                if "left" in text and "about" in text and not rec["eta_seen"]:
                    rec["eta_seen"], rec["first_eta_s"] = True, round(time.perf_counter() - t0, 2)
                rec["last_progress"] = text[:200]
            if "threshold" in (summary.text or "") and "Finished" in text:
                rec["state"], rec["duration_s"] = "finished", round(time.perf_counter() - t0, 2)
                rec["summary"] = (summary.text or "")[:300]
                return
            if message.visible and message.text:
                rec["state"] = "cancelled" if "cancelled" in message.text else "error"
                rec["message"] = message.text[:300]
                rec["duration_s"] = round(time.perf_counter() - t0, 2)
                if cancelled_at is not None:
                    rec["cancel_to_page_s"] = round(time.perf_counter() - cancelled_at, 2)
                return
            if cancel_after is not None and cancelled_at is None and time.perf_counter() - t0 > cancel_after:
                from bokeh.events import ButtonClick

                cancelled_at = time.perf_counter()
                doc.callbacks.send_event(ButtonClick(_one(doc, "cancel-experiment")))


# --------------------------------------------------------------------------- figures
def percentile(values, q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    server_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, server_args = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sessions", type=int, default=30, help="student sessions (1..60; default 30)")
    ap.add_argument("--experiments", type=int, default=5, help="of them, sessions that run an experiment (default 5)")
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of measuring after the ramp (default 300)")
    ap.add_argument("--ramp", type=float, default=60.0, help="seconds over which sessions join (default 60)")
    ap.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(3.0, 8.0),
        metavar=("MIN", "MAX"),
        help="seconds between a student's slider moves (uniform; default 3 8)",
    )
    ap.add_argument(
        "--models",
        default="Dau1997,Paulick2024,King2019",
        help="models the students open, round-robin (default Dau1997,Paulick2024,King2019)",
    )
    ap.add_argument("--experiment-task", default="tmtf", help="experiment registry name (default tmtf)")
    ap.add_argument("--experiment-observer", default="paulick2024", help="observer (default paulick2024)")
    ap.add_argument("--experiment-runs", type=int, default=2, help="staircase runs per experiment (default 2)")
    ap.add_argument(
        "--experiment-wait",
        type=float,
        default=600.0,
        help="seconds an experiment student waits for its result after the measuring (default 600)",
    )
    ap.add_argument("--cancel-one", action="store_true", help="one experiment student cancels after 30 s")
    ap.add_argument("--url", default=None, help="drive a running server (http://127.0.0.1:PORT) instead")
    ap.add_argument("--max-wall", type=float, default=1800.0, help="hard limit on the whole run in seconds")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 60 or not 0 <= args.experiments <= args.sessions:
        ap.error("--sessions must be in 1..60 and --experiments in 0..sessions")
    import workbench.app  # noqa: F401 - registers Panel's and the app's Bokeh models in this client

    watchdog = threading.Timer(args.max_wall, lambda: os.kill(os.getpid(), signal.SIGTERM))
    watchdog.daemon = True
    watchdog.start()

    proc = None
    log_path = Path(args.json).with_suffix(".server.log") if args.json else Path("classroom_load.server.log")
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(port, ["--warm-up", "all", *server_args], log_path)
    sampler = None
    try:
        t_ready = time.perf_counter()
        status0 = wait_ready(base, proc, 600.0)
        ready_s = time.perf_counter() - t_ready
        # the whole process tree of the server we started (all --num-procs processes and their
        # experiment workers), or of the answering process of a server given by --url
        sampler = MemorySampler(proc.pid if proc is not None else status0["pid"])
        sampler.start()
        time.sleep(2.0)
        baseline = sampler.samples[-1] if sampler.samples else {}
        models = [m for m in args.models.split(",") if m]
        now = time.time()
        start_all = now + 1.0
        stop_at = start_all + args.ramp + args.duration
        results, lock = {}, threading.Lock()
        students = []
        exp_every = max(1, args.sessions // max(1, args.experiments)) if args.experiments else 0
        exp_indices = set(range(0, args.sessions, exp_every)[: args.experiments]) if args.experiments else set()
        for i in range(args.sessions):
            experiment = None
            if i in exp_indices:
                experiment = {
                    "task": args.experiment_task,
                    "observer": args.experiment_observer,
                    "n_runs": args.experiment_runs,
                    "wait_s": args.experiment_wait,
                    "cancel_after_s": 30.0 if args.cancel_one and i == min(exp_indices) else None,
                }
            start_at = start_all + args.ramp * i / max(1, args.sessions)
            students.append(
                Student(
                    i,
                    base,
                    models[i % len(models)],
                    start_at,
                    stop_at,
                    tuple(args.think),
                    args.seed * 1000 + i,
                    experiment,
                    results,
                    lock,
                )
            )
        for s in students:
            s.start()
        for s in students:
            s.join(timeout=max(1.0, stop_at - time.time() + args.experiment_wait + 120))
        status_end = get_json(f"{base}/workbench-status")
        peak = {k: round(sampler.peak(k), 1) for k in ("server_rss", "total_rss", "total_pss")}
        peak_n = len(sampler.samples)
        # sessions closed: wait until the server freed them, then measure again
        end = time.monotonic() + 90
        while time.monotonic() < end:
            try:
                if get_json(f"{base}/workbench-status")["sessions_open"] == 0:
                    break
            except OSError:
                pass
            time.sleep(1.0)
        time.sleep(10.0)
        after = sampler.samples[-1] if sampler.samples else {}
    finally:
        if sampler is not None:
            sampler.stop_flag.set()
        stop_process_group(proc, grace_s=20)

    moves = [m for s in students for m in s.moves]
    by_model = {}
    for s in students:
        by_model.setdefault(s.model, []).extend(s.moves)
    during_exp = [m for s in students if s.experiment for m in s.moves]
    figures = {
        "sessions": args.sessions,
        "experiment_sessions": len(exp_indices),
        "duration_s": args.duration,
        "ramp_s": args.ramp,
        "think_s": list(args.think),
        "models": models,
        "server_args": server_args,
        "cpus": os.cpu_count(),
        "server_ready_s": round(ready_s, 1),
        "slider_moves": len(moves),
        "slider_timeouts": sum(s.timeouts for s in students),
        "slider_timed_out": [m for s in students for m in s.timed_out],
        "slider_p50_s": round(percentile(moves, 50), 3),
        "slider_p95_s": round(percentile(moves, 95), 3),
        "slider_p99_s": round(percentile(moves, 99), 3),
        "slider_max_s": round(max(moves, default=float("nan")), 3),
        "slider_p95_by_model_s": {m: round(percentile(v, 95), 3) for m, v in by_model.items()},
        "slider_p95_experiment_students_s": round(percentile(during_exp, 95), 3),
        "first_view_p95_s": round(percentile([s.first_view_s for s in students if s.first_view_s], 95), 3),
        "experiments": [s.exp_record for s in students if s.exp_record],
        "memory_mb": {
            "baseline_total_rss": round(baseline.get("total_rss", float("nan")), 1),
            "peak_server_rss": peak["server_rss"],
            "peak_total_rss": peak["total_rss"],
            "peak_total_pss": peak["total_pss"],
            "after_close_total_rss": round(after.get("total_rss", float("nan")), 1),
            "after_close_server_rss": round(after.get("server_rss", float("nan")), 1),
            "samples_during_sessions": peak_n,
        },
        "server_status_end": status_end,
        "load_average": os.getloadavg(),
        "errors": [f"student {s.index}: {e}" for s in students for e in s.errors][:20],
    }
    print(
        f"classroom load: {args.sessions} sessions ({len(exp_indices)} with experiments), "
        f"{args.duration:g} s measured after a {args.ramp:g} s ramp, models {', '.join(models)}"
    )
    print(
        f"  slider moves: {len(moves)} (timeouts > {MOVE_TIMEOUT_S:g} s: {figures['slider_timeouts']}); "
        f"latency p50 {figures['slider_p50_s']} s, p95 {figures['slider_p95_s']} s, "
        f"p99 {figures['slider_p99_s']} s, max {figures['slider_max_s']} s"
    )
    for m in figures["slider_timed_out"]:
        print(f"  no new readout: student {m['student']}, {m['slider']} -> {m['to']}")
    print(
        f"  p95 by model: {figures['slider_p95_by_model_s']}; p95 of the experiment students' moves: "
        f"{figures['slider_p95_experiment_students_s']} s; first view p95 {figures['first_view_p95_s']} s"
    )
    for rec in figures["experiments"]:
        print(
            f"  experiment (student {rec['student']}): {rec['state']}, {rec.get('duration_s')} s, "
            f"{rec['progress_updates']} progress updates, time-left estimate after {rec.get('first_eta_s')} s"
            + (f", cancel reached the page after {rec['cancel_to_page_s']} s" if "cancel_to_page_s" in rec else "")
        )
    mem = figures["memory_mb"]
    print(
        f"  memory (MB): server RSS peak {mem['peak_server_rss']}, server + workers RSS peak {mem['peak_total_rss']} "
        f"(PSS {mem['peak_total_pss']}), baseline {mem['baseline_total_rss']}, after all sessions closed "
        f"{mem['after_close_total_rss']} (server {mem['after_close_server_rss']})"
    )
    cache = status_end.get("compute", {})
    print(
        f"  shared cache: {cache.get('hits')} hits, {cache.get('misses')} misses, {cache.get('mb')} MB; "
        f"experiment pool: {status_end.get('experiments')}"
    )
    if figures["errors"]:
        print("  errors:", *figures["errors"], sep="\n    ")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
        print(f"  written to {args.json} (server log: {log_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
