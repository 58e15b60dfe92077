"""The command line a teacher meets first: ``workbench --version`` and ``workbench serve --help``."""

import re
import subprocess
import sys

import pytest

import workbench
from workbench import cli
from workbench.dashboards.registry import MODELS


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def _option_help(text: str) -> dict[str, str]:
    """``{flag: its explanation}`` for each entry of the options section of a help text."""
    section = text.split("\noptions:\n", 1)[1].split("\n\n", 1)[0]
    entries = {}
    for entry in re.split(r"\n(?=  -)", section):
        first, _, rest = entry.partition("\n")
        usage, *explanation = re.split(r"\s{2,}", first.strip(), maxsplit=1)
        for flag in usage.split():
            entries[flag.rstrip(",")] = " ".join([*explanation, *rest.split()])
    return entries


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"workbench {workbench.__version__}"


def test_version_from_the_installed_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--version"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert out.split() == ["workbench", workbench.__version__]


def test_serve_help_names_the_app_path_the_model_argument_and_every_option(capsys):
    text = _help(capsys, "serve")
    assert "http://127.0.0.1:5006/app" in text and "/app path" in text
    assert "?model=NAME" in text and "app?model=Paulick2024" in text
    assert all(name in text for name in MODELS)
    entries = _option_help(text)
    settings = vars(cli.build_parser().parse_args(["serve"]))  # every option's value, by its dest
    assert settings.pop("command") == "serve" and len(settings) >= 12
    for dest in settings:
        flag = "--" + dest.replace("_", "-")  # (argparse's dest of a long option)
        assert entries.get(flag), flag  # listed (not suppressed) and explained
    assert "/app" in _help(capsys)  # the top-level help says where the app is too
