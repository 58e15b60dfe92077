import os

import pytest

from tests.reference.harness import load_reference

# Deterministic, bounded CPU use in tests (2-core CI machine).
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def amt_reference():
    """Factory: ``amt_reference('dau1997')`` -> harness.Reference (skip/fail when missing)."""
    cache = {}

    def get(model: str):
        if model not in cache:
            cache[model] = load_reference(model)
        return cache[model]

    return get
