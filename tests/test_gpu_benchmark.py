"""Smoke test of benchmarks/gpu.py: its --device cpu mode runs every part of the script (the
float64 comparison through the Triton interpreter, timings, the meta-tensor host-read check,
the table and the JSON) for one modulation model and one loudness model, at tiny sizes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.kernels.backend import triton_available

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not triton_available(), reason="triton is not installed")
def test_gpu_check_script_runs_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu.py"),
            "--device",
            "cpu",
            "--models",
            "Dau1997,Glasberg2002",
            "--batch",
            "1",
            "--seconds",
            "0.005",
            "--check-seconds",
            "0.005",
            "--repeats",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.splitlines()
    assert any(line.startswith("Dau1997") for line in table) and any(line.startswith("Glasberg2002") for line in table)
    result = json.loads(out.read_text())
    assert result["info"]["device"] and result["info"]["triton"]
    for row in result["models"]:
        assert not row.get("errors"), row["errors"]
        assert row["max_rel_error_f64"] < 1e-9 and not row["nonfinite"]
        assert row["forward_ms"] > 0 and row["forward_backward_ms"] > 0
        assert row["meta_forward_backward"] == "ok"
        assert set(row["stages"]) >= {"output"}
