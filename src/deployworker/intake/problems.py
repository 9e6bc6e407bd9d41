"""What is wrong with an allowlist file, every problem at its line, in the file's own
terms (pure).

`duplicate_keys` finds a key given twice in one mapping, which PyYAML would accept,
keeping the last while a reviewer reads the first. `problems` turns a pydantic
`ValidationError` into `Problem`s: the field's path (`services[2].timeout`), its line
(followed through the YAML node tree) and a message that speaks of lists, mappings and
durations, not of pydantic's types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from deployworker.intake.fields import Located

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# pydantic's error types, in the allowlist's words; `{name}` comes from the error's ctx.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field here",
    "tuple_type": "must be a list, such as [a, b]",
    "list_type": "must be a list, such as [a, b]",
    "string_type": "must be a text value",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "string_pattern_mismatch": "must match {pattern}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its 1-based line (None: unknown), the field's path ('' for the file)
    and what is wrong."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"


def path_text(loc: tuple[int | str, ...]) -> str:
    """`services[2].gates[0].at` for ('services', 2, 'gates', 0, 'at')."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a location through the YAML node tree to the line of its deepest node."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if k.value == key]
            # A missing key's line is its mapping's; an unknown key's is the key's own.
            node = found[-1][1] if found else None
            if found and not isinstance(node, yaml.CollectionNode):
                node = found[-1][0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def duplicate_keys(node: yaml.Node | None, loc: tuple[int | str, ...] = ()) -> list[Problem]:
    """Every key given twice in one mapping, with both lines."""
    found: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name in first:
                found.append(
                    Problem(
                        line,
                        path_text((*loc, name)),
                        f"given twice, at lines {first[name]} and {line} "
                        "(YAML would keep the last silently): remove one",
                    )
                )
            elif name is not None:
                first[name] = line
            found += duplicate_keys(value, (*loc, name if name is not None else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += duplicate_keys(item, (*loc, index))
    return found


def message_of(error: ErrorDetails) -> str:
    """An error's message in the allowlist's words."""
    if error["type"] in ("value_error", "assertion_error"):
        return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    template = _MESSAGES.get(error["type"])
    if template is None:
        return error["msg"]
    try:
        return template.format(**error.get("ctx", {}))
    except (KeyError, IndexError):
        return error["msg"]


def problems(exc: ValidationError, node: yaml.Node | None) -> list[Problem]:
    """Every error of one validation, at its line, once each, in the file's order."""
    found: dict[Problem, None] = {}
    for error in exc.errors(include_url=False, include_input=False):
        # Union branches and validators add parts like 'function-after[...]': not keys.
        loc = tuple(p for p in error["loc"] if isinstance(p, int) or _FIELD.fullmatch(p))
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, Located):
            loc = (*loc, *cause.loc)
        found[Problem(line_of(node, loc), path_text(loc), message_of(error))] = None
    return sorted(found, key=lambda p: p.line or 0)
