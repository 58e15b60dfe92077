"""Classroom safety of the served app: Host-header allowlist (DNS rebinding) on every route and
the websocket, uploads refused in the browser before sending, clean upload messages, and the
memory of closed sessions freed (server RSS after 20 sessions)."""

import base64
import http.client
import io
import os
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    require_chromium,
    workbench_serve,  # noqa: E402
)
from workbench.dashboards.registry import MODELS  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
FIRST_RUN_S = 120
SHARED_BUDGET_MB = 64  # allocator slack, matplotlib's and numba's caches: what may stay after sessions end
ROUTES = [
    "/",
    "/app",
    "/app/",
    "/app/autoload.js",
    "/static/js/bokeh.min.js",
    "/favicon.ico",
    "/static/extensions/panel/panel.min.js",
    "/no/such/path",
    "/app/ws",
]


def _model():
    return "Dau1997" if "Dau1997" in MODELS else next(iter(MODELS))


def _request(port, path, host, origin=None, websocket=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", path, skip_host=True)
    if host is not None:
        conn.putheader("Host", host)
    if origin:
        conn.putheader("Origin", origin)
    if websocket:
        for k, v in (
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
        ):
            conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read(2000)
    conn.close()
    return r.status, body


def test_foreign_host_headers_get_403_on_every_route(app_server):
    port = int(app_server.rsplit(":", 1)[1].split("/")[0])
    good = f"127.0.0.1:{port}"
    for path in ROUTES:
        ws = path.endswith("/ws")
        for bad in (
            f"evil.example:{port}",
            "evil.example",
            f"127.0.0.1.evil.example:{port}",
            f"127.0.0.1:{port + 1}",
            f"localhost:{port}.evil.example",
            None,
            "",
        ):
            status, body = _request(port, path, bad, origin=f"http://{bad}" if ws and bad else None, websocket=ws)
            # no Host header at all: Tornado itself answers 400 (HTTP/1.1 requires one)
            assert status == (400 if bad is None else 403), (path, bad, status)
            assert b"Traceback" not in body and b" at 0x" not in body
    # the allowed names work
    for host in (good, f"localhost:{port}"):
        assert _request(port, "/app", host)[0] == 200
        assert _request(port, "/static/js/bokeh.min.js", host)[0] == 200
    # the attack of the issue: the websocket with Origin = Host = evil.example was accepted
    assert (
        _request(port, "/app/ws", f"evil.example:{port}", origin=f"http://evil.example:{port}", websocket=True)[0]
        == 403
    )
    # a right Host but another site's page (Origin) is refused by the websocket origin check
    assert _request(port, "/app/ws", good, origin=f"http://evil.example:{port}", websocket=True)[0] == 403


def test_dns_rebinding_in_a_real_browser(browser_type, app_server, artifacts):
    """chromium resolves evil.example to 127.0.0.1, as a rebinding attacker would arrange."""
    port = int(app_server.rsplit(":", 1)[1].split("/")[0])
    browser = browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP evil.example 127.0.0.1"],
    )
    try:
        page = browser.new_page()
        response = page.goto(f"http://evil.example:{port}/app")
        assert response.status == 403
        expect(page.locator("body")).to_contain_text("403 Forbidden")
        assert page.locator(".bk-root, .bk-Column").count() == 0  # no app, no websocket
        page.screenshot(path=str(artifacts / "app_rebinding_403.png"))
    finally:
        browser.close()


def _wav_bytes(seconds=0.5, fs=16000):
    t = np.arange(int(seconds * fs)) / fs
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(fs)
        w.writeframes((0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def test_uploads_are_checked_in_the_browser_and_the_session_survives(page, app_server, artifacts, tmp_path):
    model = _model()
    sent = []  # sizes of the websocket frames the page sends
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(len(f))))
    page.goto(f"{app_server}?model={model}")
    readout = page.locator(".readout p").first
    expect(readout).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    upload = page.locator(".wav-upload input[type=file]")
    note = page.locator(".wav-upload .upload-note")
    error = page.locator(".error-message")

    # 16 MB: over the limit; before the fix it exceeded the websocket limit and killed the session
    big = tmp_path / "lecture.wav"
    big.write_bytes(b"RIFF" + b"\0" * 16_000_000)
    before = len(sent)
    upload.set_input_files(str(big))
    expect(note).to_contain_text("Not sent: this file is 16.0 MB; the limit is 5.0 MB")
    expect(page.locator(".wav-upload .upload-refused")).to_be_visible()
    expect(error).to_contain_text("nothing was sent: the file is 16.0 MB", timeout=10000)
    assert max(sent[before:], default=0) < 10_000, "the refused file must not travel over the websocket"
    page.screenshot(path=str(artifacts / "app_upload_refused.png"), full_page=True)

    # the session still works: a slider step updates the readout
    text = readout.inner_text()
    handle = page.locator(".param-level_db_spl .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    expect(readout).not_to_have_text(text, timeout=60000)
    expect(error).to_be_hidden()

    # RIFF header + garbage: a clean message (no object repr, no exception names)
    garbage = tmp_path / "broken.wav"
    garbage.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 16)
    upload.set_input_files(str(garbage))
    expect(error).to_contain_text("Upload rejected: could not decode the WAV file", timeout=30000)
    message = page.locator(".error-message").inner_text()
    assert not re.search(r"0x[0-9a-f]+|<_io|BytesIO|Error:|Exception", message), message

    # a good file is taken, and the stimulus switches to it
    good = tmp_path / "tone.wav"
    good.write_bytes(_wav_bytes())
    upload.set_input_files(str(good))
    expect(note).to_contain_text("Sent")
    expect(page.locator(".stimulus-readout p").first).to_contain_text("uploaded sound", timeout=60000)
    expect(error).to_be_hidden()


# --------------------------------------------------------------------------- memory per session
def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def short_lived_server(artifacts):
    """``workbench serve`` whose closed sessions are freed 1 s after their tab closes."""
    require_chromium()
    log = artifacts / "serve_sessions.log"
    with workbench_serve(log, "--session-lifetime", "1") as (url, proc):
        yield url, proc, log


def _open_sessions(log: Path) -> int:
    counts = re.findall(r"\((\d+) open\)", log.read_text())
    return int(counts[-1]) if counts else 0


def _run_sessions(browser, url, n):
    for _ in range(n):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.locator(".readout p").first).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
        page.close()


def _settled_rss(proc, log, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while _open_sessions(log) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _open_sessions(log) == 0, "closed sessions were not destroyed"
    released = log.read_text().count("returned to the system")
    while log.read_text().count("returned to the system") == released and time.monotonic() < deadline:
        time.sleep(0.5)  # the server releases memory RELEASE_DELAY_S after the last close
    time.sleep(0.5)
    return _rss_mb(proc.pid)


def test_closed_sessions_free_their_memory(browser, short_lived_server, artifacts):
    url, proc, log = short_lived_server
    url = f"{url}?model={_model()}"
    _run_sessions(browser, url, 3)  # warm-up: compiled kernels, fonts, the shared worker threads
    rss_warm = _settled_rss(proc, log)
    # how much one open session holds, for scale
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    expect(page.locator(".readout p").first).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    rss_open = _rss_mb(proc.pid)
    page.close()
    t0 = time.perf_counter()
    _run_sessions(browser, url, 20)
    rss_after = _settled_rss(proc, log)
    growth = rss_after - rss_warm
    opened = len(re.findall(r"session opened", log.read_text()))
    figures = (
        f"server RSS: {rss_warm:.0f} MB after warm-up, {rss_open:.0f} MB with one session open, "
        f"{rss_after:.0f} MB after 20 more sessions opened and closed ({growth:+.0f} MB; "
        f"{opened} sessions in all, {time.perf_counter() - t0:.0f} s)"
    )
    (artifacts / "session_rss.txt").write_text(figures + "\n")
    print(figures)
    # one open session holds ~(rss_open - rss_warm); a leak of its state would add ~20 times that
    assert growth < SHARED_BUDGET_MB, figures
