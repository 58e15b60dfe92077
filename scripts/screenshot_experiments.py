"""Screenshots of the Experiments tab for the README (docs/screenshots/): a finished
Paulick2024 level-discrimination series at three levels over Jesteadt et al.'s JNDs, and an
AM-detection run in progress. Serves the app on a free port, drives it in Debian chromium.

    python scripts/screenshot_experiments.py      # a few minutes of CPU
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots"


def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), "--warm-up", "none"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/app"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            expect(page.locator(".readout p").first).to_contain_text("compute time", timeout=180000)
            page.locator(".bk-tab", has_text="Experiments").first.click()
            page.locator(".experiment-seed input").first.fill("7")
            page.locator(".experiment-seed input").first.press("Enter")
            handle = page.locator(".experiment-param-level_db_spl .noUi-handle").first
            summary = page.locator(".experiment-summary p").first
            for presses in (-4, 4, 4):  # 40, 60, 80 dB SPL
                handle.focus()
                for _ in range(abs(presses)):
                    page.keyboard.press("ArrowRight" if presses > 0 else "ArrowLeft")
                old = summary.inner_text() if summary.count() else ""
                page.locator(".run-experiment button").first.click()
                expect(summary).not_to_have_text(old or "\u2063", timeout=600000)
                expect(page.locator(".run-experiment button").first).to_be_enabled(timeout=600000)
            page.screenshot(path=str(OUT / "app_experiments.png"), full_page=True)
            task = page.locator(".experiment-task select").first
            task.select_option(label="detection: amplitude modulation of noise")
            page.locator(".run-experiment button").first.click()
            progress = page.locator(".experiment-progress p").first
            expect(progress).to_contain_text("about", timeout=600000)  # a time-left estimate
            page.screenshot(path=str(OUT / "app_experiment_progress.png"), full_page=True)
            page.locator(".cancel-experiment button").first.click()
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
