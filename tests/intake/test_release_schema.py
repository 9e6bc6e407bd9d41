"""The allowlist's releases and the release message: validation, images, groups (pure)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from deployworker.errors import Rejection
from deployworker.intake.admit import check_group
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.parse import Unwrapped, parse_message
from deployworker.intake.release_message import (
    admit_release,
    is_release,
    member_images,
    parse_release,
)

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop"


def shop(**changes: Any) -> dict[str, Any]:
    release: dict[str, Any] = {
        "name": "shop",
        "cluster": "prod",
        "images": [REPO],
        "members": [
            {"service": "web", "containers": ["app"]},
            {"service": "worker", "containers": ["app", "sidecar"]},
            {"schedule": "nightly-report", "schedule_group": "default", "containers": ["app"]},
            {"rule": "cleanup", "event_bus": "default", "containers": ["app"]},
        ],
        "migrate": {
            "service": "web",
            "container": "app",
            "command": ["./manage.py", "migrate"],
            "timeout": "10m",
        },
        "phases": [["worker"], ["web"], ["nightly-report", "cleanup"]],
    }
    release.update(changes)
    return release


def text(*releases: dict[str, Any], services: list[dict[str, Any]] | None = None) -> str:
    return yaml.safe_dump({"version": 1, "services": services or [], "releases": list(releases)})


def test_the_issue_example_loads() -> None:
    allowlist = load_allowlist(text(shop()))
    release = allowlist.release("shop")
    assert release is not None
    assert release.group == "release/shop"
    assert release.migrate is not None and release.migrate.timeout == 600
    assert [[m.name for m in p] for p in release.ordered_phases()] == [
        ["worker"],
        ["web"],
        ["nightly-report", "cleanup"],
    ]
    assert allowlist.release_of("prod", "web") is release
    assert allowlist.release_of("prod", "api") is None


def test_default_phases_are_each_service_in_order_then_schedules_and_rules() -> None:
    release = load_allowlist(text(shop(phases=None))).release("shop")
    assert release is not None
    assert [[m.name for m in p] for p in release.ordered_phases()] == [
        ["web"],
        ["worker"],
        ["nightly-report", "cleanup"],
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"phases": [["worker"], ["web"]]}, "in no phase"),
        ({"phases": [["worker", "web"], ["web", "nightly-report", "cleanup"]]}, "more than one"),
        ({"phases": [["worker", "web", "nightly-report", "cleanup", "nope"]]}, "nope not a member"),
        ({"phases": [[], ["worker", "web", "nightly-report", "cleanup"]]}, "at least one"),
        ({"migrate": {"service": "cleanup", "container": "app", "command": ["x"]}}, "not a member"),
        ({"migrate": {"service": "web", "container": "sidecar", "command": ["x"]}}, "sidecar"),
        ({"images": ["shop:1"]}, "not a repository"),
        ({"members": [{"service": "web", "schedule": "x", "containers": ["app"]}]}, "exactly one"),
        ({"members": [{"schedule": "x", "cluster": "prod", "containers": ["app"]}]}, "service"),
        ({"members": [{"service": "web", "containers": ["app"]}] * 2}, "listed twice"),
        ({"members": [{"rule": "bad name", "containers": ["app"]}]}, "EventBridge name"),
        ({"members": [{"service": "web", "containers": []}]}, "at least 1"),
        ({"name": "a/b"}, "not a valid name"),
        ({"name": "approvals"}, "reserved"),
        ({"colour": "blue"}, "colour: is not a field here"),
        ({"timeout": "4h"}, "needs 12h10m"),
    ],
)
def test_invalid_releases_name_the_problem_and_its_line(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AllowlistError) as raised:
        load_allowlist(text(shop(**changes)))
    assert reason in str(raised.value)
    assert raised.value.line is not None


def test_a_service_in_two_releases_and_a_release_twice_are_refused() -> None:
    with pytest.raises(AllowlistError, match="belongs to releases shop and shop2"):
        load_allowlist(text(shop(), shop(name="shop2", migrate=None, phases=None)))
    with pytest.raises(AllowlistError, match="listed more than once"):
        load_allowlist(text(shop(), shop()))


def unwrapped(document: dict[str, Any]) -> Unwrapped:
    import json

    return Unwrapped(json.dumps(document), {}, False)


def test_image_goes_to_every_container_and_images_only_to_the_members_that_list_them() -> None:
    release = load_allowlist(text(shop())).release("shop")
    assert release is not None
    one = parse_release(unwrapped({"release": "shop", "image": f"{REPO}:2", "deploy_id": "d"}))
    assert member_images(release, one) == {
        "web": {"app": f"{REPO}:2"},
        "worker": {"app": f"{REPO}:2", "sidecar": f"{REPO}:2"},
        "nightly-report": {"app": f"{REPO}:2"},
        "cleanup": {"app": f"{REPO}:2"},
    }
    some = parse_release(unwrapped({"release": "shop", "images": {"sidecar": f"{REPO}:3"}}))
    assert member_images(release, some) == {"worker": {"sidecar": f"{REPO}:3"}}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"release": "shop", "images": {"db": f"{REPO}:2"}}, "in no member"),
        ({"release": "shop", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1"}, "x'"),
    ],
)
def test_images_outside_the_release_are_not_allowed(document: dict[str, Any], reason: str) -> None:
    release = load_allowlist(text(shop())).release("shop")
    assert release is not None
    with pytest.raises(Rejection, match=reason):
        member_images(release, parse_release(unwrapped(document)))


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"release": "shop"}, "needs image or images"),
        ({"release": "shop", "image": f"{REPO}:1", "images": {"app": f"{REPO}:1"}}, "either"),
        ({"release": "shop", "action": "rollback"}, "to_deploy_id"),
        ({"release": "shop", "to_deploy_id": "d", "image": f"{REPO}:1"}, "only it"),
        (
            {"release": "shop", "action": "rollback", "image": f"{REPO}:1", "to_deploy_id": "d"},
            "no",
        ),
        ({"release": "shop", "image": f"{REPO}:1", "cluster": "prod"}, "unknown field 'cluster'"),
        ({"release": "shop", "image": f"{REPO}:1", "deploy_id": "aws:x"}, "reserves"),
        ({"release": "shop/x", "image": f"{REPO}:1"}, "release name"),
        ({"release": "shop", "action": "promote"}, "names its source in 'from'"),
        ({"release": "shop", "image": f"{REPO}:1", "from": {"release": "s"}}, "only a promote"),
    ],
)
def test_invalid_release_messages_are_rejected_with_every_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Rejection, match=reason):
        parse_release(unwrapped(document))


def test_release_messages_are_admitted_only_in_their_group() -> None:
    allowlist = load_allowlist(text(shop()))
    request = parse_release(unwrapped({"release": "shop", "image": f"{REPO}:2"}))
    assert admit_release(allowlist, request, "release/shop").name == "shop"
    with pytest.raises(Rejection, match="'release/shop'"):
        admit_release(allowlist, request, "prod/web")
    other = parse_release(unwrapped({"release": "cart", "image": f"{REPO}:2"}))
    with pytest.raises(Rejection, match="not in the allowlist"):
        admit_release(allowlist, other, "release/cart")


def test_a_member_deploy_must_use_its_release_group() -> None:
    allowlist = load_allowlist(text(shop()))
    request = parse_message(
        '{"cluster":"prod","service":"web","container":"app","image":"' + REPO + ':2"}'
    )
    check_group(request, "release/shop", allowlist)
    with pytest.raises(Rejection) as raised:
        check_group(request, "prod/web", allowlist)
    assert "member of release 'shop'" in raised.value.reason
    assert "'release/shop'" in raised.value.reason
    api = parse_message('{"cluster":"prod","service":"api","container":"app","image":"x:1"}')
    check_group(api, "prod/api", allowlist)


@given(st.text(max_size=200))
def test_is_release_never_raises_and_needs_a_release_key(body: str) -> None:
    assert is_release(Unwrapped(body, {}, False)) in (True, False)


def test_is_release_reads_the_key_not_the_text() -> None:
    assert is_release(Unwrapped('{"release": "shop"}', {}, False))
    assert not is_release(Unwrapped('{"service": "release"}', {}, False))
    assert not is_release(Unwrapped('["release"]', {}, False))


def gated_web(gate: dict[str, Any]) -> dict[str, Any]:
    return {
        "cluster": "prod",
        "service": "web",
        "containers": ["app"],
        "images": [REPO],
        "gates": [gate],
    }


@pytest.mark.parametrize(
    "gate",
    [
        {"at": "converged", "analysis": [{"name": "alarms", "cloudwatch_alarms": ["web-5xx"]}]},
        {
            "at": "POST_TEST_TRAFFIC_SHIFT",
            "approval": {"approvers": ["arn:aws:iam::123456789012:role/release-managers"]},
        },
    ],
)
def test_a_gated_service_cannot_be_a_release_member(gate: dict[str, Any]) -> None:
    # A release runs no member's gates: its web would go out unjudged.
    with pytest.raises(AllowlistError) as refused:
        load_allowlist(text(shop(), services=[gated_web(gate)]))
    assert "prod/web has gates" in str(refused.value)
    assert "member of release shop, which does not run its members' gates" in str(refused.value)
    ungated = {k: v for k, v in gated_web(gate).items() if k != "gates"}
    assert load_allowlist(text(shop(), services=[ungated])).release("shop") is not None


def test_check_allowlist_refuses_a_gated_release_member(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from deployworker.cli.main import main

    gate = {"at": "converged", "analysis": [{"name": "alarms", "cloudwatch_alarms": ["a"]}]}
    path = tmp_path / "allowlist.yaml"
    path.write_text(text(shop(), services=[gated_web(gate)]))
    assert main(["check-allowlist", str(path)]) == 1
    assert "which does not run its members' gates" in capsys.readouterr().err
