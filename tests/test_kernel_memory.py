"""Output allocation of the CPU kernels (``workbench.kernels.memory``)."""

import numpy as np
import pytest
import torch

from workbench.kernels import memory


@pytest.mark.parametrize("shape", [(3, 5), (4, 2**20)])  # below and above the huge-page threshold
def test_empty_output_is_a_plain_cpu_tensor_of_that_shape(shape):
    out = memory.empty_output(*shape, dtype=torch.float32)
    assert out.shape == shape and out.dtype == torch.float32 and out.device.type == "cpu" and out.is_contiguous()
    out.fill_(2.5)  # every page writable
    assert float(out.sum()) == 2.5 * out.numel()


def test_numpy_twin_shares_memory_with_a_tensor():
    a = np.zeros((2, 3), dtype=np.float64)
    out = memory.empty_output_like_numpy(a)
    assert out.shape == (2, 3) and out.dtype == np.float64
    t = torch.from_numpy(out)
    out[:] = 7.0
    assert float(t.sum()) == 42.0
    big = memory.empty_output_like_numpy(shape=(8, 2**18), dtype=np.float32)
    assert big.shape == (8, 2**18) and big.dtype == np.float32


def test_large_outputs_are_advised_as_huge_pages_where_linux_has_thp():
    import pathlib

    mode = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not mode.exists() or "[never]" in mode.read_text():
        pytest.skip("no transparent huge pages on this system")
    out = memory.empty_output(16, 2**20, dtype=torch.float32)  # 64 MB
    start = out.data_ptr()
    flags, inside = None, False
    for line in pathlib.Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            lo, hi = (int(v, 16) for v in head.split("-"))
            inside = lo <= start < hi
        elif line.startswith("VmFlags:") and inside:
            flags = line.split()[1:]
            break
    assert flags is not None and "hg" in flags, flags  # hg: MADV_HUGEPAGE advised on the mapping
    del out
