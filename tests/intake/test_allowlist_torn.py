"""A half-written allowlist is never loaded, even when it parses (it may have lost the
entries or gates that followed the cut)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployworker.intake.allowlist_file import AllowlistFile


def document(*services: str) -> str:
    entries = [
        {"cluster": "prod", "service": s, "containers": ["app"], "images": ["r.example/app"]}
        for s in services
    ]
    return yaml.safe_dump({"version": 1, "services": entries})


def test_a_torn_write_of_the_allowlist_is_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "allowlist.yaml"
    path.write_text(document("web"))
    source = AllowlistFile(path, min_interval=0)
    assert source.refresh(force=True)
    full = document("api", "web")
    second = full.index("- cluster", full.index("- cluster") + 1)
    cut = full[:second]  # the writer has written only the first entry
    assert yaml.safe_load(cut)["services"]  # ...and it parses

    real = Path.read_bytes
    path.write_text(cut)

    def racing(self: Path) -> bytes:
        data = real(self)
        if self == path and len(data) == len(cut.encode()):
            path.write_text(full)  # the write finishes while the reader holds the cut
        return data

    monkeypatch.setattr(Path, "read_bytes", racing)
    assert not source.refresh()  # the torn read is not loaded
    assert [e.service for e in source.current().services] == ["web"]
    monkeypatch.undo()
    assert source.refresh()  # the finished file is, at the next refresh
    assert sorted(e.service for e in source.current().services) == ["api", "web"]
