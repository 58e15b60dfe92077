"""Notebook runs under nbval: rerun a notebook cell that fails once.

ipykernel 7 occasionally never answers the first execution request (seen on this machine
kind, see the stack notes); a fresh kernel succeeds. Only notebook items get reruns: a real
error fails every attempt, so nothing is masked.
"""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))
