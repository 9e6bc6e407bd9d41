"""The hostile corpus, interleaved with valid deploys, through a real worker."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import OTHER_REPO, REPO, World, default_entry, deploy, drain
from deployworker.observe.logs import configure_logging

CORPUS = Path(__file__).parent / "corpus"
SQS_MAX = 256 * 1024


def load_corpus() -> list[tuple[str, dict[str, Any], str]]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        case = json.loads(path.read_text())
        if "body_repeat" in case:
            prefix, unit, count, suffix = case["body_repeat"]
            if count == "fill":
                count = (SQS_MAX - len(prefix) - len(suffix)) // len(unit)
            body = prefix + unit * count + suffix
        else:
            body = case["body"]
        cases.append((path.stem, case, body))
    return cases


def test_corpus_is_large_and_documented() -> None:
    cases = load_corpus()
    assert len(cases) >= 60
    for name, case, body in cases:
        assert case["why"] and case["reason"], name
        assert case["outcome"] in ("rejected_invalid", "rejected_not_allowed"), name
        assert len(body.encode()) <= SQS_MAX, name
    assert any(len(body.encode()) == SQS_MAX for _, _, body in cases)


def test_bad_messages_go_to_the_dlq_and_valid_ones_deploy(world: World) -> None:
    before = world.service(containers=("app",))
    # Superseding off: every valid deploy must run, whatever batch it lands in.
    app = world.app(world.allowlist([default_entry()]), account_id="123456789012", supersede=False)
    stream = io.StringIO()
    configure_logging("debug", stream)
    cases = load_corpus()
    expected: dict[str, tuple[str, dict[str, Any]]] = {}
    valid = []
    try:
        for index, (name, case, body) in enumerate(cases):
            message_id = world.send(body, group="prod/web", dedup=f"bad-{index}")
            expected[message_id] = (name, case)
            if index % 6 == 0:
                deploy_id = f"good-{index}"
                world.send(
                    deploy(f"{REPO}:{index}", deploy_id=deploy_id),
                    group="prod/web",
                    dedup=deploy_id,
                )
                valid.append(index)
        drain(app, rounds=400)
    finally:
        configure_logging()

    dead = world.dead_letters()
    got = {m["MessageAttributes"]["deployworker.message_id"]["StringValue"]: m for m in dead}
    assert set(got) == set(expected)
    for message_id, (name, case) in expected.items():
        attributes = got[message_id]["MessageAttributes"]
        assert case["reason"] in attributes["deployworker.reason"]["StringValue"], name
        assert attributes["deployworker.outcome"]["StringValue"] == case["outcome"], name
    oversize = [m for m in dead if "deployworker.truncated" in m["MessageAttributes"]]
    assert len(oversize) == 1

    assert world.images()["app"] == f"{REPO}:{valid[-1]}"
    assert len(world.revisions()) == len(valid) + 1
    assert before in world.revisions()
    assert world.queue_depth() == 0

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    names = {line["event"] for line in lines}
    assert not names & {"deploy.crashed", "poll.crashed", "watch.poll_failed"}
    text = stream.getvalue()
    assert "APP_MODE" not in text
    assert "db-password" not in text

    deploys = app.metrics.registry.get_sample_value
    series = [s for f in app.metrics.registry.collect() for s in f.samples if "cluster" in s.labels]
    assert {(s.labels["cluster"], s.labels["service"]) for s in series} == {("prod", "web")}
    assert deploys("deployworker_messages_total", {"outcome": "deployed"}) == len(valid)
    invalid = sum(1 for _, case in expected.values() if case["outcome"] == "rejected_invalid")
    assert deploys("deployworker_messages_total", {"outcome": "rejected_invalid"}) == invalid
    assert (
        deploys("deployworker_messages_total", {"outcome": "rejected_not_allowed"})
        == len(expected) - invalid
    )


@pytest.mark.parametrize("name", [n for n, _, _ in load_corpus()])
def test_each_corpus_message_is_rejected_by_the_pure_stages(name: str) -> None:
    """Fast feedback per file: parse + scope + allowlist reject it, with its reason,
    except the one that needs the task definition to be refused."""
    from deployworker.errors import Rejection
    from deployworker.intake.allowlist import check_scope, decide, load_allowlist
    from deployworker.intake.parse import parse_message

    _, case, body = next(c for c in load_corpus() if c[0] == name)
    allowlist = load_allowlist(
        json.dumps({"version": 1, "services": [default_entry(images=[REPO, OTHER_REPO])]})
    )

    def run() -> None:
        request = parse_message(body)
        check_scope(request, "eu-west-1", "123456789012")
        decide(allowlist, request)

    if "not in task definition" in case["reason"]:
        run()  # only the task definition can refuse this one; the worker test covers it
        return
    with pytest.raises(Rejection) as caught:
        run()
    assert case["reason"] in caught.value.reason


# The parser attacks: each must end in the DLQ with its reason whatever kind of message
# (deploy, release, vote) its group says it is, and never hold the group.
PARSER_ATTACKS = (
    "011-nan-number",
    "012-oversize-256k",
    "013-deep-nesting-array",
    "015-very-deep-nesting",
    "090-infinity-literal",
    "091-negative-infinity",
    "092-float-overflow",
    "093-huge-integer",
    "094-duplicate-key",
    "095-lone-surrogate",
    "096-nesting-past-recursion-limit",
)


def _as_kind(body: str, kind: str) -> str:
    """The same hostile text, shaped as a release or a vote where it has an object to
    reshape (the bytes that attack the parser stay as they are)."""
    if kind == "release" and body.startswith("{"):
        return '{"release": "shop", ' + body[1:]
    if kind == "vote" and body.startswith("{"):
        return '{"action": "approve", ' + body[1:]
    return body


@pytest.mark.parametrize("kind", ["deploy", "release", "vote"])
def test_a_parser_attack_of_any_kind_is_dead_lettered_and_the_group_moves_on(
    world: World, kind: str
) -> None:
    import time

    import yaml

    world.service(containers=("app",))
    document: dict[str, Any] = {"version": 1, "services": [default_entry()]}
    if kind == "release":  # a member's deploys take the release's group
        document["releases"] = [
            {
                "name": "shop",
                "cluster": "prod",
                "images": [REPO],
                "members": [{"service": "web", "containers": ["app"]}],
            }
        ]
    path = world.tmp / "allowlist.yaml"
    path.write_text(yaml.safe_dump(document))
    app = world.app(path, account_id="123456789012", supersede=False)
    group = {"deploy": "prod/web", "release": "release/shop", "vote": "prod/web/approvals"}[kind]
    cases = [c for c in load_corpus() if c[0] in PARSER_ATTACKS]
    assert len(cases) == len(PARSER_ATTACKS)
    sent: dict[str, tuple[str, dict[str, Any]]] = {}
    for index, (name, case, body) in enumerate(cases):
        text = _as_kind(body, kind)
        if len(text.encode()) > SQS_MAX:
            text = body
        sent[world.send(text, group=group, dedup=f"{kind}-{index}")] = (name, case)
    # The next message of the same group (for votes: the deploy's own group) deploys.
    if kind == "release":
        world.send(
            {"release": "shop", "image": f"{REPO}:7", "deploy_id": "after"},
            group="release/shop",
            dedup="after",
        )
    else:
        world.send(deploy(f"{REPO}:7", deploy_id="after"), group="prod/web", dedup="after")
    began = time.monotonic()
    drain(app, rounds=100)
    elapsed = time.monotonic() - began

    dead = world.dead_letters()
    got = {m["MessageAttributes"]["deployworker.message_id"]["StringValue"]: m for m in dead}
    assert set(got) == set(sent)
    for message_id, (name, case) in sent.items():
        reason = got[message_id]["MessageAttributes"]["deployworker.reason"]["StringValue"]
        assert case["reason"] in reason, (name, reason)
    assert world.images()["app"] == f"{REPO}:7"
    assert world.queue_depth() == 0
    assert elapsed < 60, elapsed
