"""The README describes the models' API itself: its examples run and its stage table is true."""

import re
from pathlib import Path

import pytest
import torch

import workbench

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
API = README[README.index("## The models' API") : README.index("## Gallery")]
FS = {"Glasberg2002": 32000, "Moore2016": 32000}


def _table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in API.splitlines():
        match = re.match(r"\| `(\w+)` \|", line)
        if match and hasattr(workbench, match.group(1)):
            rows[match.group(1)] = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return rows


def test_api_section_runs():
    blocks = re.findall(r"```python\n(.*?)```", API, re.S)
    runnable = [b for b in blocks if "Model(" not in b]  # the first block is the calling pattern
    assert runnable
    namespace = {}
    for block in runnable:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert abs(float(namespace["loudest"]) - 1.0) < 0.03  # 1 kHz at 40 dB SPL: 1 sone
    assert tuple(namespace["stages"]["drnl"].shape) == (1, 50, 11025)
    assert len(namespace["internal_repr"]) == 50 and namespace["internal_repr"][0].shape[-1] == 11025 // 4


@pytest.mark.parametrize("name", ["Dau1997", "Osses2021", "King2019", "Paulick2024", "Glasberg2002", "Moore2016"])
def test_stage_table_lists_each_models_keys_in_order(name):
    rows = _table_rows()
    assert name in rows, f"README API table lacks {name}"
    listed = [k for k in re.findall(r"`([a-z_*]+)`", rows[name][-1]) if not k.startswith("_")]
    if name == "Moore2016":  # one list for both ears: `filtered_*` = filtered_left, filtered_right
        listed = [k.replace("_*", f"_{side}") for side in ("left", "right") for k in listed]
    fs = FS.get(name, 44100)
    model = getattr(workbench, name)(fs=fs, return_stages=True)
    x = torch.randn(1, 2, 3200) * 0.02 if name == "Moore2016" else torch.randn(1, int(0.05 * fs)) * 0.02
    with torch.no_grad():
        _, stages = model(x)
    assert listed == list(stages), (listed, list(stages))  # every key, in processing order
    assert "Pa" in rows[name][2] or "full scale" in rows[name][2]  # input calibration stated
