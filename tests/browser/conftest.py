"""Browser-test fixtures: Debian chromium through pytest-playwright, a served app, artifacts.

Never ``playwright install``: the system chromium is used. Without it the tests skip with
the reason, except under CI (``CI`` set) where a missing browser is a failure.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import stop_process_group

pytest.importorskip("playwright")

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def require_chromium():
    if not os.path.exists(CHROMIUM):
        message = f"Debian chromium not found at {CHROMIUM} (install it with `make browser`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def wait_http(url: str, proc: subprocess.Popen, deadline_s: float, log: Path):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {deadline_s} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_server(command: list[str], log: Path, ready_url: str, deadline_s: float, *, env=None, cwd=None):
    """Run ``command`` in its own process group, output to ``log``; yield the process once
    ``ready_url`` answers 200 (within ``deadline_s``), and stop the group on exit."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=child_env() if env is None else env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(ready_url, proc, deadline_s, log)
        yield proc
    finally:
        stop_process_group(proc)


@contextlib.contextmanager
def workbench_serve(log: Path, *options: str):
    """``workbench serve`` with ``options`` on a free 127.0.0.1 port; yields ``(app_url, process)``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/app"
    command = [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), *options]
    with running_server(command, log, url, 90, cwd=REPO) as proc:
        yield url, proc


@pytest.fixture(scope="session")
def app_server(artifacts):
    """``workbench serve`` on a free 127.0.0.1 port; yields the app URL."""
    require_chromium()
    with workbench_serve(artifacts / "serve.log") as (url, _):
        yield url


def pytest_collection_modifyitems(session, config, items):
    """Run browser tests last: pytest-playwright keeps an asyncio loop running in the main
    thread until the session ends, which breaks later tests calling ``asyncio.run``."""
    items.sort(key=lambda item: Path(str(item.fspath)).parent == Path(__file__).parent)
