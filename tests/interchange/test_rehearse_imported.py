"""The imported pretalx example rehearses one session end to end (real media, recorded to files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from tests.interchange.conftest import EXAMPLE_TEMPLATE, PRETALX

SESSION = "8079583e-8321-506c-95af-fd2903a5f075"  # "Focused 5thgeneration hardware", Gray Room, 30 min


@pytest.mark.slow
def test_the_imported_pretalx_example_rehearses_one_session(tmp_path: Path) -> None:
    schedule = tmp_path / "democon.yaml"
    args = ["import", str(PRETALX), "--format", "schedule-json", "--template", str(EXAMPLE_TEMPLATE)]
    assert main([*args, "-o", str(schedule)]) == 0
    report = tmp_path / "report.json"
    rc = main(
        ["rehearse", str(schedule), "--only", SESSION, "--outputs", "files", "--speed", "600", "--no-progress",
         "--run-dir", str(tmp_path / "run"), "--media-dir", str(tmp_path / "media"), "--report", str(report)]
    )  # fmt: skip
    assert rc == 0
    data = json.loads(report.read_text())
    summary = data["summary"]
    assert summary["sessions"] == 1 and summary["failed"] == 0 and summary["not_run"] == 0 and summary["ok"] > 0
    outputs = {o["destination"]: o for o in data["outputs"]}
    assert set(outputs) == {"rec-gray-en", "rec-gray-ko"}
    for o in outputs.values():
        assert o["session"] == SESSION and o["video_codec"] == "h264" and o["audio_codec"] == "aac"
        assert Path(o["path"]).stat().st_size > 0
