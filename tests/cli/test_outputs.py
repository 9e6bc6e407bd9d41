"""Step outputs for GitHub Actions: no character in a value can forge another output."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployworker.cli.outputs import write_outputs


def test_outputs_are_written_only_under_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    write_outputs({"state": "succeeded"})  # nowhere to write: nothing happens
    path = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    forged = "x\nstate=succeeded\nexit_code<<EOF\n0\nEOF"
    write_outputs({"deploy_id": forged, "state": "failed", "exit_code": 1, "task_definition": None})
    lines = path.read_text().split("\n")
    # Each value sits between `name<<D` and `D`, with a delimiter it does not contain.
    found = {}
    i = 0
    while i < len(lines) - 1:
        name, delimiter = lines[i].split("<<")
        end = lines.index(delimiter, i + 1)
        found[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    assert found == {
        "deploy_id": forged,
        "state": "failed",
        "exit_code": "1",
        "task_definition": "",
    }
