"""Step outputs for GitHub Actions: under Actions (`GITHUB_OUTPUT` names a file),
`publish` and `status` append what CI reads next (deploy_id, state, task_definition,
exit_code), so a workflow needs no parsing of the printed lines.

Each value is written in the file's multi-line form, `name<<DELIMITER`, with a random
delimiter, so no character in a value (a newline included) can forge another output.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping


def write_outputs(values: Mapping[str, str | int | None]) -> None:
    """Append `values` to the file `GITHUB_OUTPUT` names; nothing when it is unset."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    lines = []
    for name, value in values.items():
        text = "" if value is None else str(value)
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in text:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        lines.append(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
    with open(path, "a", encoding="utf-8") as file:
        file.write("".join(lines))
