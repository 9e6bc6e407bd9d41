"""Generate the allowlist's JSON Schema and its field reference from the models, and the
table of log events from the source: `python -m deployworker.cli.schema` (or
`make generated`) rewrites `config/allowlist.schema.json`, `docs/allowlist-reference.md`
and the table in `docs/logs.md`; tests fail when any is stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from deployworker.cli.logdoc import rewrite
from deployworker.intake.budget import duration_text
from deployworker.intake.entries import Allowlist
from deployworker.intake.fields import DURATION_PATTERN

SCHEMA_PATH = Path("config/allowlist.schema.json")
REFERENCE_PATH = Path("docs/allowlist-reference.md")
LOGS_PATH = Path("docs/logs.md")  # its table of events (cli.logdoc)
# Examples by key, where the type alone says too little.
EXAMPLES = {
    "cluster": "prod",
    "service": "web",
    "containers": "[app, worker]",
    "images": "[123456789012.dkr.ecr.eu-west-1.amazonaws.com/web]",
    "account": "prod",
    "region": "eu-west-1",
    "account_id": '"123456789012"',
    "role_arn": "arn:aws:iam::123456789012:role/deployworker-target",
    "external_id": "deployworker-prod",
    "approvers": "[arn:aws:iam::123456789012:role/release-managers]",
    "prometheus": "sum(rate(http_errors_total[1m])) / sum(rate(http_requests_total[1m]))",
    "command": "[./manage.py, migrate]",
    "name": "error-ratio",
    "at": "POST_TEST_TRAFFIC_SHIFT",
    "version": "1",
    "registry_account": "shared",
    "namespace": "AWS/ApplicationELB",
    "metric": "HTTPCode_Target_5XX_Count",
    "cloudwatch_alarms": "[web-5xx]",
    "schedule": "web-nightly",
    "rule": "web-events",
}


def schema() -> dict[str, Any]:
    """The JSON Schema of the allowlist file, as editors read it."""
    found = Allowlist.model_json_schema(mode="validation")
    for model in found["$defs"].values():
        for spec in model.get("properties", {}).values():
            # A duration's default as the file would write it (600 -> "10m").
            if _is_duration(spec) and isinstance(spec.get("default"), int):
                spec["default"] = duration_text(spec["default"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **found,
        "title": "deployworker allowlist, version 1",
    }


def _is_duration(spec: dict[str, Any]) -> bool:
    kinds = spec.get("anyOf", [spec])
    return any(k.get("pattern") == DURATION_PATTERN for k in kinds)


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return f"[{spec['$ref'].rsplit('/', 1)[-1]}](#{spec['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in spec:
        kinds = [_type(s) for s in spec["anyOf"] if s.get("type") != "null"]
        return " or ".join(kinds)
    if "enum" in spec or "const" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec.get("enum", [spec.get("const")]))
    kind = spec.get("type", "any")
    if kind == "string" and "pattern" in spec and "examples" in spec:
        return "duration"
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and "additionalProperties" in spec:
        return f"mapping of name to {_type(spec['additionalProperties'])}"
    names = {"string": "text", "integer": "whole number", "number": "number"}
    return names.get(str(kind), str(kind))


def _example(key: str, spec: dict[str, Any]) -> str:
    inner = next((s for s in spec.get("anyOf", []) if s.get("type") != "null"), spec)
    if key in EXAMPLES:
        return f"`{EXAMPLES[key]}`"
    if "examples" in inner:
        return f"`{inner['examples'][-1]}`"
    if "enum" in inner:
        return f"`{inner['enum'][0]}`"
    if "$ref" in inner or inner.get("type") in ("array", "object"):
        return "see its section" if "$ref" in inner else ""
    return {"boolean": "`true`", "integer": "`3`", "number": "`0.01`"}.get(
        inner.get("type", ""), ""
    )


def _default(key: str, spec: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in spec or spec["default"] is None:
        return "none"
    value = spec["default"]
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _section(name: str, model: dict[str, Any]) -> list[str]:
    out = [f"## {name}", "", model.get("description", "").strip(), ""]
    out += ["| key | type | default | example |", "|---|---|---|---|"]
    required = set(model.get("required", []))
    for key, spec in model.get("properties", {}).items():
        row = [f"`{key}`", _type(spec), _default(key, spec, key in required), _example(key, spec)]
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return [*out, ""]


def reference(found: dict[str, Any]) -> str:
    """The field reference (Markdown) of `found`, the schema."""
    out = [
        "# Allowlist reference",
        "",
        "Generated from the models by `python -m deployworker.cli.schema` (`make generated`);",
        "do not edit by hand. Durations are text with a unit: `90s`, `15m`, `2h`, `1h30m`",
        "(a bare number is refused). Editors that read `# yaml-language-server: $schema=...`",
        "check the file against `config/allowlist.schema.json` as it is typed.",
        "",
    ]
    out += _section("Allowlist", found)
    for name, model in sorted(found["$defs"].items()):
        out += _section(name, model)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write both files under the directory given (default: here); returns 0."""
    root = Path((argv if argv is not None else sys.argv[1:] or ["."])[0])
    found = schema()
    (root / SCHEMA_PATH).write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    (root / REFERENCE_PATH).write_text(reference(found), encoding="utf-8")
    logs = root / LOGS_PATH
    logs.write_text(rewrite(logs.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
