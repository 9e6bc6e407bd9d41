"""The allowlist cannot mislead its reviewer: duplicate keys, every problem at its line in
the file's own words, durations with units, and the schema and reference the models
generate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from deployworker.cli.main import main
from deployworker.cli.schema import REFERENCE_PATH, SCHEMA_PATH, reference, schema
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.fields import DURATION_PATTERN, parse_duration

HEAD = "version: 1\nservices:\n"
WEB = "  - cluster: prod\n    service: web\n    containers: [app]\n    images: [r.example/web]\n"


def problems(text: str) -> list[str]:
    with pytest.raises(AllowlistError) as caught:
        load_allowlist(text)
    return [str(p) for p in caught.value.problems]


def test_a_key_given_twice_is_an_error_with_both_lines() -> None:
    text = HEAD + WEB + "    rollback: false\n    timeout: 15m\n    rollback: true\n"
    assert problems(text) == [
        "line 9: services[0].rollback: given twice, at lines 7 and 9 "
        "(YAML would keep the last silently): remove one"
    ]


def test_every_problem_is_reported_at_its_line_in_the_files_words() -> None:
    text = (
        HEAD
        + "  - cluster: prod\n    service: web\n    containers: app\n    images: [r.example/web]\n"
        + "  - cluster: prod\n    service: api\n    containers: [api]\n    images: [r.example/api]\n"
        + "    timeout: 30\n    colour: blue\n    rollback: maybe\n"
    )
    assert problems(text) == [
        "line 5: services[0].containers: must be a list, such as [a, b]",
        "line 11: services[1].timeout: 30 has no unit: write 30s for seconds "
        "(durations look like 90s, 15m, 1h30m)",
        "line 12: services[1].colour: is not a field here",
        "line 13: services[1].rollback: must be true or false",
    ]


def test_a_duplicate_entry_is_reported_at_its_own_line() -> None:
    assert problems(HEAD + WEB + WEB) == ["line 7: services[1]: prod/web is listed more than once"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1m30s", 90)]
)
def test_durations_accept_compound_forms(text: str, seconds: int) -> None:
    allowlist = load_allowlist(HEAD + WEB + f"    timeout: {text}\n")
    assert allowlist.services[0].timeout == seconds
    assert re.fullmatch(DURATION_PATTERN, text)


@pytest.mark.parametrize("bad", ["30", '"30"', "1m30", "h", "1.5h", "-5m"])
def test_a_duration_without_a_unit_or_grammar_is_refused(bad: str) -> None:
    (found,) = problems(HEAD + WEB + f"    timeout: {bad}\n")
    assert found.startswith("line 7: services[0].timeout: ")
    assert not re.fullmatch(DURATION_PATTERN, bad.strip('"'))
    assert parse_duration(30) == 30  # models built in code still take seconds


def test_check_allowlist_prints_every_problem_and_github_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "allowlist.yaml"
    path.write_text(HEAD + WEB + "    rollback: false\n    rollback: true\n    colour: x\n")
    assert main(["check-allowlist", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:8: services[0].rollback: given twice, at lines 7 and 8 "
        "(YAML would keep the last silently): remove one",
        f"{path}:9: services[0].colour: is not a field here",
    ]
    assert main(["check-allowlist", "--format", "github", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"::error file={path},line=9,title=allowlist%3A services[0].colour::"
        "services[0].colour: is not a field here"
    )
    assert out[0].startswith(f"::error file={path},line=8,")


def test_the_shipped_schema_and_reference_match_the_models() -> None:
    found = schema()
    assert json.loads(SCHEMA_PATH.read_text()) == found, "run `make generated`"
    assert REFERENCE_PATH.read_text() == reference(found), "run `make generated`"
    timeout = found["$defs"]["Entry"]["properties"]["timeout"]["anyOf"][0]
    assert (timeout["type"], timeout["pattern"]) == ("string", DURATION_PATTERN)
    assert found["$defs"]["Migrate"]["properties"]["timeout"]["default"] == "10m"
    # Every field of every model has a row in the reference.
    for name, model in found["$defs"].items():
        assert f"## {name}" in REFERENCE_PATH.read_text()
        for key in model["properties"]:
            assert f"| `{key}` |" in REFERENCE_PATH.read_text(), (name, key)


def test_the_example_allowlist_names_the_schema_for_editors() -> None:
    first = Path("config/allowlist.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=allowlist.schema.json"
    assert (Path("config") / first.split("=", 1)[1]).resolve() == SCHEMA_PATH.resolve()


@given(hours=st.integers(0, 23), minutes=st.integers(0, 120), seconds=st.integers(0, 200))
def test_any_compound_duration_reads_as_its_sum(hours: int, minutes: int, seconds: int) -> None:
    parts = [(hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    total = hours * 3600 + minutes * 60 + seconds
    assume(text and 1 <= total <= 24 * 3600)
    assert re.fullmatch(DURATION_PATTERN, text)  # the schema agrees with the parser
    assert parse_duration(text, bare=False) == total


@given(st.text(alphabet="0123456789hms. -", max_size=8))
def test_the_schema_pattern_and_the_parser_agree(text: str) -> None:
    try:
        parse_duration(text, bare=False, most=10**12)  # 8 characters: at most 9999999h
        parsed = True
    except ValueError:
        parsed = False
    zero = re.fullmatch(r"(0+[hms])+", text) is not None  # grammatical, but under 1 second
    assert parsed == (re.fullmatch(DURATION_PATTERN, text) is not None and not zero)
