import os

# Without a GPU the Triton kernels run in the Triton interpreter, so the device code path is
# tested on CPU tensors. Must be set before workbench loads its Triton kernels.
os.environ.setdefault("TRITON_INTERPRET", "0" if os.environ.get("WORKBENCH_TEST_CUDA") else "1")

import pytest  # noqa: E402

from tests.reference.harness import load_reference  # noqa: E402

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


@pytest.fixture(scope="module")
def single_thread():
    """One torch intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("single_thread")``):
    modules of many small tensor ops only contend on a shared 2-core machine (10-30x slower
    measured under load)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
