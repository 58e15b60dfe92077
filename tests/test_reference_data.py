"""The AMT reference outputs ship in the repository, so the reference tests run in any clone."""

import json

import numpy as np
import pytest

from tests.reference import harness

MODELS = ("dau1997", "osses2021", "king2019", "paulick2024", "glasberg2002", "moore2016")


@pytest.mark.reference
def test_reference_files_ship_with_the_repository(monkeypatch):
    monkeypatch.delenv("WORKBENCH_AMT_REFERENCE", raising=False)
    assert harness.reference_dir() == harness.SHIPPED
    assert harness.SHIPPED.is_relative_to(harness.REPO)
    readme = (harness.SHIPPED / "README.md").read_text()
    for model in MODELS:
        ref = harness.load_reference(model)
        assert ref.meta["model"] == model and ref.meta["amt_version"] == "1.4.0" and ref.stimuli
        assert f"`{model}.npz`" in readme and f"### {model}" in readme
        for stim in ref.meta["stimuli"]:  # each case's exact AMT call is recorded in the file
            assert model in stim["call"] and f"`{stim['name']}`" in readme


@pytest.mark.reference
def test_override_folder_is_used_and_a_missing_file_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_AMT_REFERENCE", str(tmp_path))
    assert harness.reference_dir() == tmp_path
    np.savez(tmp_path / "dau1997.npz", meta_json=json.dumps({"model": "dau1997"}), fc=np.ones(3))
    assert harness.load_reference("dau1997").meta == {"model": "dau1997"}
    with pytest.raises(pytest.fail.Exception, match="WORKBENCH_AMT_REFERENCE"):
        harness.load_reference("king2019")
