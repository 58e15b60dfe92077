"""An ipywidgets lesson as a student meets it: JupyterLab in headless chromium, cells run
with Shift+Enter, the dashboard's widgets rendered and answering a slider move, and a static
figure drawn by workbench.plots shown as an image (not as "<Figure size ...>" text)."""

import secrets
import sys

import nbformat
import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")
from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import child_env, free_port, require_chromium, running_server  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, artifacts):
    """JupyterLab on a free 127.0.0.1 port with a one-widget notebook; yields (url, notebook name)."""
    require_chromium()
    model = "Dau1997"
    root = tmp_path_factory.mktemp("lab")
    book = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    )
    book.cells = [
        nbformat.v4.new_code_cell("from workbench.dashboards.notebook import StageExplorerWidget"),
        nbformat.v4.new_code_cell(f'w = StageExplorerWidget("{model}", duration_s=0.2)\nw'),
        nbformat.v4.new_code_cell(
            "from workbench import plots, stimuli\nplots.plot_waveform(stimuli.tone(1000, 0.05, 44100, 60), 44100)"
        ),
    ]
    nbformat.write(book, root / "dashboard.ipynb")
    token, port = secrets.token_hex(16), free_port()
    env = child_env()
    env.update(JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    log = artifacts / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--allow-root",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={root / 'ws'}",
        f"--LabApp.user_settings_dir={root / 'settings'}",
    ]
    with running_server(command, log, f"http://127.0.0.1:{port}/api/status?token={token}", 120, env=env):
        yield f"http://127.0.0.1:{port}/lab/tree/dashboard.ipynb?reset&token={token}"


def test_dashboard_widgets_render_in_jupyterlab(page, lab, artifacts):
    page.goto(lab)
    expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=90000)
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():  # a kernel picker, should a saved workspace bring one up
        dialog.first.click()
    expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(timeout=90000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.keyboard.press("Escape")
    for _ in range(3):
        page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-OutputArea")
    figure_cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(2)
    expect(figure_cell.locator(".jp-RenderedImage img").first).to_be_visible(timeout=180000)
    expect(page.locator(".jp-OutputArea-output", has_text="<Figure size")).to_have_count(0)
    readout = output.locator(".widget-html-content", has_text="compute time").first
    expect(readout).to_be_visible(timeout=180000)
    expect(output.locator(".widget-slider").first).to_be_visible()
    assert output.locator(".widget-slider").count() >= 6  # stimulus sliders (+ model parameters)
    expect(output.locator(".widget-dropdown").first).to_be_visible()
    expect(output.locator("audio")).to_have_count(1)
    expect(output.locator(".widget-output img").first).to_be_visible()
    before = readout.inner_text()
    level = output.locator(".widget-slider", has_text="level (dB SPL)").locator(".noUi-handle").first
    level.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(readout).not_to_have_text(before, timeout=60000)
    expect(readout).to_contain_text("stimulus level (dB SPL): 64.", timeout=60000)  # one update per press
    no_news = page.locator(".jp-toast-button", has_text="No")
    if no_news.count():  # JupyterLab's "news?" toast would cover the screenshot
        no_news.first.click()
        expect(page.locator(".jp-toast-button", has_text="No")).to_have_count(0, timeout=10000)
    page.screenshot(path=str(artifacts / "jupyterlab_dashboard.png"), full_page=True)
