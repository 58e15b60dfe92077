"""The command line a teacher meets first: ``workbench --version`` and ``workbench serve --help``."""

import argparse
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
    serve = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["serve"]
    for action in serve._actions:
        assert action.help and action.help != argparse.SUPPRESS, action.option_strings
        assert all(flag in text for flag in action.option_strings), action.option_strings
    assert "/app" in _help(capsys)  # the top-level help says where the app is too
