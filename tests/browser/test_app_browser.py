"""The Panel app as a student uses it: served by ``workbench serve``, driven in headless chromium."""

import base64
import io
import json
import os
import re
import time
import wave

import numpy as np
import pytest

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

from workbench.dashboards.registry import MODELS  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
FIRST_RUN_S = 120  # first computation compiles numba kernels (slow on a busy 2-core machine)


def _model():
    return "Dau1997"


def _caption(page):
    """What the (canvas-drawn) stage plot shows, in words."""
    return page.locator(".plot-caption p").first


def _press(page, css, key, times):
    handle = page.locator(f"{css} .noUi-handle").first
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)


# (id, peak |y|) of the stimulus waveform plot as the browser's Bokeh document holds it
WAVEFORM_JS = """() => {
  const doc = Bokeh.documents[0];
  for (const m of doc.all_models) {
    if (m.title && m.title.text === "Stimulus A: waveform") {
      const d = m.renderers[0].data_source.data;
      const y = d instanceof Map ? d.get("y") : d.y;
      let peak = 0;
      for (const v of y) peak = Math.max(peak, Math.abs(v));
      return [m.id, peak];
    }
  }
  return null;
}"""


def _wait_change(page, locator, old_text, timeout_s):
    """Wait until ``locator`` shows a text other than ``old_text``; returns (new text, seconds)."""
    t0 = time.perf_counter()
    expect(locator).not_to_have_text(old_text, timeout=timeout_s * 1000)
    return locator.inner_text(), time.perf_counter() - t0


def test_slider_and_select_update_stage_plot_and_readout(page, app_server, artifacts):
    model = _model()
    page.goto(f"{app_server}?model={model}")
    readout = page.locator(".readout p").first
    expect(readout).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    expect(page.locator(".stage-plot canvas").first).to_be_visible()
    text0, caption0 = readout.inner_text(), _caption(page).inner_text()

    # the page is settled once the stimulus media (plot, audio) follow the stage plot
    expect(page.locator(".stimulus-audio audio.audio-a")).to_have_attribute(
        "src", re.compile("^data:audio"), timeout=60000
    )
    page.wait_for_function(f"({WAVEFORM_JS})() !== null", timeout=60000)
    wave_id, peak_60 = page.evaluate(WAVEFORM_JS)
    # slider: stimulus level 60 -> 59 -> 58 dB SPL with the keyboard (one step per press): latency
    steps_s = []
    for expected in ("58.", "57."):
        _press(page, ".param-level_db_spl", "ArrowLeft", 1)
        text_step, seconds = _wait_change(page, readout, text0, 60)
        assert f"stimulus level (dB SPL): {expected}" in text_step, text_step
        steps_s.append(seconds)
        text0 = text_step
        time.sleep(1.5)  # let the stimulus media catch up, as a person would between moves
    slider_s = min(steps_s)
    # a burst of 8 more steps to 50 dB SPL: debounced, stale runs stop early
    t0 = time.perf_counter()
    _press(page, ".param-level_db_spl", "ArrowLeft", 8)
    expect(readout).to_contain_text("stimulus level (dB SPL): 49.", timeout=60000)
    burst_s = time.perf_counter() - t0
    text1 = readout.inner_text()
    expect(_caption(page)).not_to_have_text(caption0)
    expect(_caption(page)).to_contain_text("tone, 50 dB SPL")
    caption1 = _caption(page).inner_text()
    # the plots were patched in place (same figure, new data): the waveform 10 dB lower
    expected = peak_60 * 10 ** (-10 / 20)
    page.wait_for_function(f"Math.abs(({WAVEFORM_JS})()[1] - {expected}) < {1e-3 * expected}", timeout=60000)
    assert page.evaluate(WAVEFORM_JS)[0] == wave_id
    page.screenshot(path=str(artifacts / "app_models.png"), full_page=True)

    # select: another stage of the same run (cached: only a redraw)
    stage_select = page.locator(".stage-select select").first
    options = stage_select.locator("option")
    stage_select.select_option(index=options.count() - 2)
    text2, select_s = _wait_change(page, readout, text1, 30)
    expect(_caption(page)).not_to_have_text(caption1)
    page.screenshot(path=str(artifacts / "app_stage_select.png"), full_page=True)

    # a model parameter (Dau1997's adaptation limit): only the stages from adaptation on rerun
    param_s = None
    if model == "Dau1997":
        stage_select.select_option(label="adapted envelope (adaptation loops)")
        expect(readout).to_contain_text("adapted envelope (adaptation loops)", timeout=30000)
        text3 = readout.inner_text()
        _press(page, ".param-limit", "ArrowLeft", 1)  # overshoot limit 10 -> 9.5
        text4, param_s = _wait_change(page, readout, text3, 60)
        assert "stages computed: adaptation, output (earlier stages reused)" in text4, text4

    # a failing computation shows its error in the page; the session stays usable
    kind = page.locator(".param-kind select").first
    kind.select_option(label="uploaded WAV file")  # no file uploaded yet
    error = page.locator(".error-message")
    expect(error).to_contain_text("no WAV file uploaded", timeout=30000)
    page.screenshot(path=str(artifacts / "app_error.png"), full_page=True)
    kind.select_option(label="AM tone (sinusoidal AM)")
    expect(error).to_be_hidden(timeout=60000)
    expect(readout).to_contain_text("compute time")

    latency = {
        "model": model,
        "slider_step_to_readout_s": round(slider_s, 3),
        "slider_steps_s": [round(x, 3) for x in steps_s],
        "param_step_to_readout_s": param_s and round(param_s, 3),
        "slider_burst_of_8_s": round(burst_s, 3),
        "select_to_readout_s": round(select_s, 3),
    }
    (artifacts / f"latency_{model}.json").write_text(json.dumps(latency))
    print(latency)


def test_sessions_do_not_share_state(browser, app_server):
    model = _model()
    pages = [browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    for p in pages:
        p.goto(f"{app_server}?model={model}")
    readouts = [p.locator(".readout p").first for p in pages]
    for r in readouts:
        expect(r).to_contain_text("stimulus level (dB SPL): 59.", timeout=FIRST_RUN_S * 1000)
    _press(pages[0], ".param-level_db_spl", "ArrowRight", 5)
    expect(readouts[0]).to_contain_text("stimulus level (dB SPL): 64.", timeout=60000)
    time.sleep(1.0)
    expect(readouts[1]).to_contain_text("stimulus level (dB SPL): 59.")
    expect(pages[1].locator(".param-level_db_spl .noUi-handle").first).to_have_attribute("aria-valuenow", "60.0")
    for p in pages:
        p.close()


def test_stimulus_and_experiments_tabs(page, app_server, artifacts):
    page.goto(f"{app_server}?model={_model()}")
    expect(page.locator(".readout p").first).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    page.locator(".bk-tab", has_text="Stimulus").first.click()
    expect(page.locator(".waveform-plot canvas").first).to_be_visible(timeout=30000)
    expect(page.locator(".spectrum-plot canvas").first).to_be_visible()
    audio = page.locator(".stimulus-audio audio.audio-a")
    expect(audio).to_have_attribute("src", re.compile("^data:audio/wav;base64,"), timeout=30000)
    expect(page.locator(".stimulus-readout p").first).to_contain_text("1000 Hz tone")
    page.screenshot(path=str(artifacts / "app_stimulus.png"), full_page=True)

    page.locator(".bk-tab", has_text="Experiments").first.click()
    # the stimulus designer does not apply here: hidden, and the tab says where the stimuli come from
    expect(page.locator(".param-level_db_spl").first).to_be_hidden()
    expect(page.locator(".experiment-description p").first).to_contain_text("Stimulus:")
    expect(page.locator(".experiment-stimulus-note p").first).to_contain_text("makes its own stimuli")
    observer = page.locator(".experiment-observer select").first
    assert "Paulick2024" in observer.input_value()  # the default observer
    observer.select_option(label="stand-in: level feature + noise (fast)")
    page.locator(".experiment-n_runs .noUi-handle").first.focus()
    page.keyboard.press("ArrowLeft")  # 2 -> 1 run
    page.locator(".run-experiment button").first.click()
    summary = page.locator(".experiment-summary p").first
    expect(summary).to_contain_text("threshold", timeout=120000)
    expect(summary).to_contain_text("seed:")
    expect(page.locator(".experiment-track img")).to_have_count(1)
    expect(page.locator(".experiment-curve img")).to_have_count(1)
    expect(page.locator(".experiment-human img")).to_have_count(1)
    expect(page.locator(".experiment-human-caption p").first).to_contain_text("Jesteadt")
    expect(page.locator(".experiment-progress p").first).to_contain_text("Finished")
    page.screenshot(path=str(artifacts / "app_experiments.png"), full_page=True)
    page.locator(".bk-tab", has_text="Models").first.click()
    expect(page.locator(".param-level_db_spl").first).to_be_visible()


def test_experiment_progress_and_cancel_while_sliders_stay_live(page, app_server, artifacts):
    """A Paulick2024 run in the worker shows trials and reversals, the Models tab answers a slider
    meanwhile, and Cancel stops it with a message in the page."""
    page.goto(f"{app_server}?model=King2019")
    readout = page.locator(".readout p").first
    expect(readout).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    page.locator(".bk-tab", has_text="Experiments").first.click()
    page.locator(".experiment-task select").first.select_option(label="detection: amplitude modulation of noise")
    page.locator(".run-experiment button").first.click()
    progress = page.locator(".experiment-progress p").first
    expect(progress).to_contain_text("trials done", timeout=240000)
    expect(progress).to_contain_text("reversals")
    expect(page.locator(".cancel-experiment button").first).to_be_visible()
    page.screenshot(path=str(artifacts / "app_experiment_progress.png"), full_page=True)
    page.locator(".bk-tab", has_text="Models").first.click()
    expect(page.locator(".param-level_db_spl .noUi-handle").first).to_be_visible()
    time.sleep(1.0)  # the sidebar is drawn again after the tab switch
    text = readout.inner_text()
    _press(page, ".param-level_db_spl", "ArrowRight", 1)
    _, seconds = _wait_change(page, readout, text, 30)
    page.locator(".bk-tab", has_text="Experiments").first.click()
    page.locator(".cancel-experiment button").first.click()
    message = page.locator(".experiments-message").first
    expect(message).to_contain_text("cancelled", timeout=30000)
    expect(page.locator(".run-experiment button").first).to_be_enabled()
    (artifacts / "slider_during_experiment.json").write_text(json.dumps({"slider_step_s": round(seconds, 3)}))


@pytest.mark.skipif(
    not os.environ.get("WORKBENCH_LATENCY_ALL"), reason="set WORKBENCH_LATENCY_ALL=1 to time every model"
)
@pytest.mark.parametrize("model", list(MODELS))
def test_slider_latency_per_model(page, app_server, artifacts, model):
    """Slider step -> new readout in the browser, per model (0.5 s stimulus); writes JSON."""
    page.goto(f"{app_server}?model={model}")
    readout = page.locator(".readout p").first
    expect(readout).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    expect(page.locator(".stimulus-audio audio.audio-a")).to_have_attribute(
        "src", re.compile("^data:audio"), timeout=60000
    )
    steps = []
    for _ in range(3):
        text = readout.inner_text()
        _press(page, ".param-level_db_spl", "ArrowLeft", 1)
        steps.append(_wait_change(page, readout, text, 60)[1])
        time.sleep(1.5)
    result = {"model": model, "slider_step_to_readout_s": [round(s, 3) for s in steps], "load": os.getloadavg()[0]}
    (artifacts / f"latency_{model}.json").write_text(json.dumps(result))
    print(result)


# --------------------------------------------------------------------------- sound, downloads, phones
def _served_audio(locator) -> tuple[np.ndarray, int]:
    """Decode the WAV a player element serves (its data: URL): samples in full scale, rate."""
    data = base64.b64decode(locator.get_attribute("src").split(",", 1)[1])
    with wave.open(io.BytesIO(data)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return pcm / 32767.0, w.getframerate()


def _rms_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples**2))))


def test_two_levels_play_at_two_levels_and_downloads_have_their_types(page, app_server, artifacts):
    """A 60 dB SPL tone kept as B, then A at 50 dB SPL: the served audio differs by 10 dB and
    sits at the stated calibration (rms 1 = 100 dB SPL); every download is a file of its type."""
    page.goto(f"{app_server}?model={_model()}")
    expect(page.locator(".readout p").first).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
    audio_a, audio_b = page.locator(".stimulus-audio audio.audio-a"), page.locator(".stimulus-audio audio.audio-b")
    expect(audio_a).to_have_attribute("src", re.compile("^data:audio/wav"), timeout=60000)
    expect(page.locator(".playback-note")).to_contain_text("rms of 1 (digital full scale) is 100 dB SPL")
    expect(page.locator(".stimulus-audio .label-a")).to_contain_text("A: 1000 Hz tone, 60 dB SPL, 500 ms")
    expect(page.locator(".stimulus-audio .time-a")).to_have_text("0.50 s")  # not the browser's "0:00"
    page.locator(".keep-b button").click()
    expect(audio_b).to_have_attribute("src", re.compile("^data:audio/wav"), timeout=60000)
    _press(page, ".param-level_db_spl", "ArrowLeft", 10)  # A: 60 -> 50 dB SPL
    expect(page.locator(".stimulus-audio .label-a")).to_contain_text("50 dB SPL", timeout=60000)
    expect(page.locator(".stimulus-audio .label-b")).to_contain_text("B: 1000 Hz tone, 60 dB SPL")
    expect(page.locator(".compare-readout p").first).to_contain_text("B", timeout=60000)
    a, fs = _served_audio(audio_a)
    b, _ = _served_audio(audio_b)
    steady = slice(int(0.02 * fs), int(0.48 * fs))  # between the 10 ms ramps
    level_a, level_b = _rms_db(a[steady]), _rms_db(b[steady])
    assert abs((level_b - level_a) - 10.0) < 0.05, (level_a, level_b)
    assert abs(level_b - (60.0 - 100.0)) < 0.05 and abs(level_a - (50.0 - 100.0)) < 0.05  # the stated mapping
    expect(page.locator(".clip-warning")).to_be_hidden()
    page.screenshot(path=str(artifacts / "app_compare_ab.png"), full_page=True)

    magic = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "npz": b"PK\x03\x04", "csv": b"# ", "wav": b"RIFF"}
    for fmt, head in magic.items():
        with page.expect_download(timeout=60000) as download:
            page.locator(f".download-{fmt} button").click()
        data = open(download.value.path(), "rb").read()
        assert download.value.suggested_filename.endswith(f".{fmt}") and len(data) > 200, fmt
        assert data.startswith(head), (fmt, data[:16])
    npz = np.load(io.BytesIO(_download_bytes(page, "npz")))
    assert "filterbank" in npz.files and "about" in npz.files and npz["filterbank"].ndim == 2

    # a loud noise would clip at this calibration: the page says so
    page.locator(".param-kind select").first.select_option(label="white noise")
    _press(page, ".param-level_db_spl", "End", 1)
    expect(page.locator(".clip-warning")).to_contain_text("Clipped", timeout=60000)


def _download_bytes(page, fmt: str) -> bytes:
    with page.expect_download(timeout=60000) as download:
        page.locator(f".download-{fmt} button").click()
    return open(download.value.path(), "rb").read()


def test_phone_sized_viewport_stays_usable(browser, app_server, artifacts):
    phone = browser.new_page(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    try:
        phone.goto(f"{app_server}?model={_model()}")
        expect(phone.locator(".readout p").first).to_contain_text("compute time", timeout=FIRST_RUN_S * 1000)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, f"the page scrolls sideways on a phone: {width} px wide"
        for css in (".stimulus-controls", ".stage-plot canvas", ".readout", ".downloads"):
            box = phone.locator(css).first.bounding_box()
            assert box and box["x"] >= -1 and box["x"] + box["width"] <= 392, (css, box)
        phone.screenshot(path=str(artifacts / "app_phone.png"), full_page=True)
    finally:
        phone.close()
