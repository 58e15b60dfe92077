"""The workbench Panel app: ``workbench serve`` (see :func:`serve`).

Tabs: Stimulus (waveform, spectrum, audio), Models (every stage of the chosen model) and
Experiments (simulated listening experiments with Paulick2024). :func:`create_app` builds a
fresh app for every browser session; when the session ends (the tab closed, after
``session_lifetime_s``) its state is freed and its experiment, if any, stops.

Classroom load (:func:`serve`): slider recomputes run in the server's slider threads
(``threads``) through a content-keyed cache and model pool shared by all sessions
(:mod:`workbench.dashboards.compute`); experiments run in separate, lower-priority worker
processes (``experiment_workers``, :mod:`workbench.dashboards.workers`) with progress,
cancel and a queue, so a slider move never waits behind an experiment. ``num_procs`` > 1
forks that many server processes (each with its own cache and workers) sharing the port.

Classroom safety (:func:`serve`): the server answers only requests whose ``Host`` header
names an allowed address (default ``127.0.0.1`` and ``localhost`` on the served port, plus
``--address`` and every ``--allow-websocket-origin``); any other Host gets 403 on every HTTP
route and on the websocket, which defeats DNS rebinding (a page on ``evil.example`` whose
name is made to resolve to 127.0.0.1). Websocket Origins are checked against the same list.
``panel serve workbench/app.py`` still runs the app, without that check (development only).
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import sys
import threading
import time

import panel as pn

from workbench.dashboards import compute, workers
from workbench.dashboards.experiments_ui import ExperimentPanel
from workbench.dashboards.panel_ui import StageExplorer, responsive_row, start
from workbench.dashboards.registry import MODELS

TITLE = "Psychoacoustics workbench"
LOG = logging.getLogger("workbench.app")
WEBSOCKET_MAX_MESSAGE_BYTES = 20 * 1024 * 1024  # a 5 MB upload travels as ~6.7 MB of base64
_SESSIONS = {"open": 0, "release_pending": False}
_SESSIONS_LOCK = threading.Lock()
RELEASE_DELAY_S = 6.0  # after Panel's own clean-up of the session (it collects garbage 5 s after)


def default_model() -> str:
    """``?model=Name`` from the URL when it names a registered model, else the first."""
    args = pn.state.session_args or {}
    wanted = (args.get("model") or [b""])[0].decode("ascii", "replace")
    if wanted in MODELS:  # compared against the fixed list only; the text is never used otherwise
        return wanted
    return next(iter(MODELS))


EXPERIMENTS_TAB = 2


def create_app(model: str | None = None, pool=None) -> pn.viewable.Viewable:
    """One session's app: its settings, upload and results are its own; computations go
    through the process's shared cache (by content) and experiment workers (``pool``;
    default: the process's)."""
    model = model or default_model()
    explorer = StageExplorer(model=model)
    experiments = ExperimentPanel(pool=pool)
    tabs = pn.Tabs(
        ("Stimulus", explorer.stimulus_view()),
        ("Models", explorer.model_view()),
        ("Experiments", experiments.view()),
        dynamic=False,
        sizing_mode="stretch_width",
    )
    tabs.active = 1
    tabs.styles = {"flex": "1 1 560px"}
    sidebar = explorer.stimulus_controls()

    def follow_tab(event):  # the stimulus designer does not apply to the experiments
        sidebar.visible = event.new != EXPERIMENTS_TAB

    tabs.param.watch(follow_tab, "active")
    app = pn.Column(f"# {TITLE}", explorer.error, responsive_row(sidebar, tabs), sizing_mode="stretch_width")
    start(explorer)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        _track_session(explorer, experiments)
    return app


def _track_session(explorer: StageExplorer, experiments: ExperimentPanel):
    """Free the session's state when Bokeh destroys the session (its tab closed)."""
    with _SESSIONS_LOCK:
        _SESSIONS["open"] += 1
        n = _SESSIONS["open"]
    LOG.info("session opened (%d open)", n)

    def destroyed(session_context):
        explorer.close()
        experiments.close()
        with _SESSIONS_LOCK:
            _SESSIONS["open"] -= 1
            n = _SESSIONS["open"]
            schedule = not _SESSIONS["release_pending"]
            _SESSIONS["release_pending"] = True
        LOG.info("session closed, its state freed (%d open)", n)
        if schedule:
            from tornado.ioloop import IOLoop

            IOLoop.current().call_later(RELEASE_DELAY_S, release_memory)

    pn.state.on_session_destroyed(destroyed)


def release_memory() -> None:
    """Collect garbage and hand freed heap memory back to the operating system.

    glibc's malloc keeps freed memory in its per-thread arenas (the worker threads'
    model runs leave some MB each time), so without this the server's RSS creeps up with every
    closed session although nothing is referenced any more. ``malloc_trim(0)`` returns it;
    elsewhere than glibc this only collects garbage.
    """
    with _SESSIONS_LOCK:
        _SESSIONS["release_pending"] = False
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            trim = ctypes.CDLL(None).malloc_trim
        except (AttributeError, OSError):  # not glibc (e.g. musl)
            return
        trim(0)
    LOG.info("memory of closed sessions returned to the system")


# --------------------------------------------------------------------------- Host check
def _split_host(value: str) -> tuple[str, str | None]:
    """``'Example.org:5006'`` -> ``('example.org', '5006')``; IPv6 in brackets; no port -> None."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, None


def allowed_hosts(port: int, address: str = "127.0.0.1", extra=()) -> list[str]:
    """``host:port`` entries the server answers to: 127.0.0.1 and localhost on ``port``,
    ``address`` unless it is a wildcard (0.0.0.0, ::), and ``extra``; an entry without a
    port gets ``port``. ``'*'`` in ``extra`` allows any Host (no DNS-rebinding protection)."""
    entries = ["127.0.0.1", "localhost"]
    if address not in ("0.0.0.0", "::", "", "*"):
        entries.append(address)
    entries += list(extra or ())
    out = []
    for entry in entries:
        if entry == "*":
            out.append("*")
            continue
        host, entry_port = _split_host(entry)
        host = f"[{host}]" if ":" in host else host
        full = f"{host}:{entry_port or port}"
        if full not in out:
            out.append(full)
    return out


def host_allowed(host_header: str | None, allowed: list[str], default_port: int = 80) -> bool:
    """Whether a request's ``Host`` header names one of ``allowed`` (see :func:`allowed_hosts`)."""
    if "*" in allowed:
        return True
    if not host_header:
        return False
    host, port = _split_host(host_header)
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port or default_port}" in allowed


def install_host_check(server, allowed: list[str]):
    """Refuse (403) every request to ``server`` (a Bokeh/Panel server, not yet started) whose
    Host header is not in ``allowed``: a rule in front of all of Tornado's routes, so it covers
    the app, static files, the websocket and unknown paths alike."""
    import tornado.web
    from tornado.routing import Matcher, Rule

    app = getattr(server, "_tornado", None)  # bokeh.server.server.BaseServer keeps its app here
    if not isinstance(app, tornado.web.Application):
        raise RuntimeError("cannot install the Host check on this Bokeh version; refusing to serve without it")

    class ForeignHost(Matcher):
        def match(self, request):
            default = 443 if request.protocol == "https" else 80
            return None if host_allowed(request.host, allowed, default) else {}

    class Forbidden(tornado.web.RequestHandler):
        def prepare(self):
            LOG.warning("refused a request for Host %r (allowed: %s)", self.request.host[:100], ", ".join(allowed))
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(
                "403 Forbidden: this workbench server answers only to its allowed addresses "
                f"({', '.join(allowed)}). The teacher can allow more with --allow-websocket-origin.\n"
            )

    app.default_router.rules.insert(0, Rule(ForeignHost(), Forbidden))


# --------------------------------------------------------------------------- serving
def _session_app():
    return create_app()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def status() -> dict:
    """What ``/workbench-status`` answers: sessions, cache and worker figures, memory (MB)."""
    pool = workers.running_pool()
    pids = pool.worker_pids() if pool is not None else []
    with _SESSIONS_LOCK:
        open_sessions = _SESSIONS["open"]
    return {
        "pid": os.getpid(),
        "sessions_open": open_sessions,
        "rss_mb": round(_rss_mb(os.getpid()), 1),
        "worker_pids": pids,
        "workers_rss_mb": [round(_rss_mb(p), 1) for p in pids],
        "compute": compute.SERVICE.stats(),
        "experiments": pool.stats() if pool is not None else None,
        "warm_up": dict(_WARM_UP),
    }


def _status_handler():
    import tornado.web

    class StatusHandler(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "application/json")
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps(status()))

    return StatusHandler


_WARM_UP: dict = {"state": "not started"}


def warm_up(models) -> threading.Thread:
    """Run ``models`` on the app's default stimulus in a slider thread, so their kernels are
    compiled and their default views sit in the shared cache before the first student
    arrives (logged as 'warm-up finished')."""
    from workbench.dashboards.core import Explorer, StimulusSpec

    def work():
        t0 = time.perf_counter()
        _WARM_UP.update(state="running", models=list(models))
        explorer = Explorer()
        for name in models:
            try:
                explorer.run(name, StimulusSpec())
            except Exception:  # noqa: BLE001 - a broken model shows its error in the page later
                LOG.exception("warm-up of %s failed", name)
        _WARM_UP.update(state="finished", seconds=round(time.perf_counter() - t0, 1))
        LOG.info("warm-up finished: %s in %.1f s", ", ".join(models), time.perf_counter() - t0)

    thread = threading.Thread(target=work, name="workbench-warm-up", daemon=True)
    thread.start()
    return thread


def serve(
    port: int = 5006,
    address: str = "127.0.0.1",
    allow_websocket_origin=(),
    show: bool = False,
    session_lifetime_s: float = 15.0,
    num_procs: int = 1,
    threads: int | None = None,
    experiment_workers: int | None = None,
    cache_mb: float = compute.DEFAULT_CACHE_MB,
    device: str = "auto",
    warm_up_models: str = "first",
    experiment_nice: int = 10,
):
    """Serve the app at ``http://ADDRESS:PORT/app`` until interrupted.

    ``allow_websocket_origin``: further ``host[:port]`` names students use to reach this
    machine (no port: ``port``). ``session_lifetime_s``: how long after a tab closes its
    session is freed. ``num_procs``: server processes sharing the port (each with its own
    cache and experiment workers). ``threads``: slider threads per process (default: the
    CPUs per process, at least 2). ``experiment_workers``: experiment processes per server
    process (default :func:`workbench.dashboards.workers.default_workers`), run at
    ``experiment_nice``. ``cache_mb``: the shared cache's budget per process. ``device``:
    'auto' (CUDA when present), 'cpu' or 'cuda[:N]'. ``warm_up_models``: 'first' (the model
    the app opens with), 'all' or 'none'.
    """
    from panel.io.server import get_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    allowed = allowed_hosts(port, address, allow_websocket_origin)
    cpus = compute.cpu_count()
    threads = threads or max(2, cpus // max(1, num_procs))
    device = compute.resolve_device(device)
    compute.keep_large_arrays_mapped()
    compute.configure(cache_mb=cache_mb, threads=threads, device=device)
    pn.extension(sizing_mode="stretch_width", notifications=False)
    lifetime_ms = max(100, int(session_lifetime_s * 1000))
    server = get_server(
        {"app": _session_app},
        port=port,
        address=address,
        websocket_origin=allowed,
        show=False,
        start=False,
        title=TITLE,
        num_procs=num_procs,
        websocket_max_message_size=WEBSOCKET_MAX_MESSAGE_BYTES,
        unused_session_lifetime_milliseconds=lifetime_ms,
        check_unused_sessions_milliseconds=max(100, lifetime_ms // 2),
        extra_patterns=[("/workbench-status", _status_handler())],
    )
    # from here on we may be one of num_procs forked processes: start threads and workers now
    install_host_check(server, allowed)
    import torch

    torch.set_num_threads(max(1, cpus // (threads * max(1, num_procs))))
    workers.configure_pool(n_workers=experiment_workers, device=device, nice=experiment_nice)
    pool = workers.default_pool()  # workers start and warm up at once
    names = {"none": [], "first": list(MODELS)[:1], "all": list(MODELS)}[warm_up_models]
    if names:
        warm_up(names)
    if address in ("0.0.0.0", "::") and len(allowed) == 2:
        LOG.warning(
            "listening on all interfaces, but only 127.0.0.1 and localhost are allowed: students need "
            "--allow-websocket-origin THIS_MACHINE:%d (its name or IP address)",
            port,
        )
    LOG.info("answering to Host %s", ", ".join(allowed))
    LOG.info(
        "process %d: %d slider threads, torch %d threads, shared cache %.0f MB, %d experiment workers "
        "(nice %d), device %s",
        os.getpid(),
        threads,
        torch.get_num_threads(),
        cache_mb,
        pool.n_workers,
        experiment_nice,
        device,
    )
    print(f"workbench app on http://{address}:{port}/app  (Ctrl+C stops it)", flush=True)
    server.start()
    if show:
        server.show("/app")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        workers.shutdown_default_pool()


if __name__.startswith("bokeh"):  # executed by `panel serve` once per session
    pn.extension(sizing_mode="stretch_width", notifications=False)
    create_app().servable(title=TITLE)
