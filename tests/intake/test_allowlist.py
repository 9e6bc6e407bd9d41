"""Allowlist loading (with line numbers) and decisions, table-driven and fuzzed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.errors import Rejection, RejectionKind
from deployworker.intake.allowlist import (
    AllowlistError,
    check_scope,
    decide,
    load_allowlist,
)
from deployworker.intake.fields import parse_duration
from deployworker.intake.parse import parse_message

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
GOOD = textwrap.dedent(
    f"""\
    version: 1
    services:
      - cluster: prod
        service: web
        containers: [app, worker]
        images:
          - {REPO}
        timeout: 15m
      - cluster: staging
        service: web
        containers: [app]
        images: [{REPO}]
        rollback: false
    """
)


def test_example_file_in_the_repo_is_valid() -> None:
    allowlist = load_allowlist(Path("config/allowlist.yaml").read_text())
    assert len(allowlist.services) >= 1


def test_good_allowlist_loads_with_defaults() -> None:
    allowlist = load_allowlist(GOOD)
    prod = allowlist.entry("prod", "web")
    staging = allowlist.entry("staging", "web")
    assert prod is not None and prod.timeout == 900 and prod.rollback is True
    assert staging is not None and staging.timeout is None and staging.rollback is False
    assert allowlist.entry("prod", "api") is None


BAD = [
    ("version: 1\nservices: [\n", 3, "YAML"),
    ("- a\n- b\n", 1, "must be a mapping"),
    ("version: 2\nservices: []\n", 1, "unsupported allowlist version 2"),
    (GOOD.replace("timeout: 15m", "timeout: soon"), 8, "'soon' is not a duration"),
    (GOOD.replace("containers: [app, worker]", "containers: []"), 5, "at least 1 item"),
    (GOOD.replace(f"- {REPO}", f"- {REPO}:1.0"), 7, "not a repository"),
    (GOOD.replace("rollback: false", "rollbak: false"), 13, "rollbak: is not a field here"),
    # At the second entry's own line, not the file's first.
    (GOOD.replace("cluster: staging", "cluster: prod"), 9, "prod/web is listed more than once"),
    (
        GOOD.replace("service: web\n    containers: [app]\n", "containers: [app]\n"),
        9,
        "service: is required",
    ),
    (
        GOOD.replace("cluster: prod", "cluster: arn:aws:ecs:eu-west-1:1:cluster/prod"),
        3,
        "use the name",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), BAD)
def test_bad_allowlist_names_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(AllowlistError) as caught:
        load_allowlist(text)
    assert caught.value.line == line
    assert reason in caught.value.reason


def message(**changes: object) -> str:
    base: dict[str, object] = {
        "cluster": "prod",
        "service": "web",
        "container": "app",
        "image": f"{REPO}:1",
    }
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not None})


DECISIONS = [
    (message(), None),
    (message(cluster="arn:aws:ecs:eu-west-1:123456789012:cluster/prod"), None),
    (
        message(
            container=None,
            image=None,
            images={"app": f"{REPO}:1", "worker": f"{REPO}@sha256:{'b' * 64}"},
        ),
        None,
    ),
    (message(container=None, image=None, action="rollback"), None),
    (message(cluster="dev"), "service dev/web is not in the allowlist"),
    (message(service="api"), "service prod/api is not in the allowlist"),
    (message(container="sidecar"), "container 'sidecar' of prod/web is not allowlisted"),
    (message(image=f"{REPO}-evil:1"), "web-evil' is not allowlisted"),
    (message(image=f"{REPO}/evil:1"), "web/evil' is not allowlisted"),
    (message(image=f"evil.example/{REPO}:1"), "is not allowlisted"),
    (message(cluster="staging", container="worker"), "container 'worker' of staging/web"),
    (
        message(container=None, image=None, images={"app": f"{REPO}:1", "worker": "nginx:1"}),
        "'nginx' is not allowlisted",
    ),
]


@pytest.mark.parametrize(("text", "reason"), DECISIONS)
def test_decisions(text: str, reason: str | None) -> None:
    allowlist = load_allowlist(GOOD)
    request = parse_message(text)
    if reason is None:
        assert decide(allowlist, request).entry.service == "web"
    else:
        with pytest.raises(Rejection) as caught:
            decide(allowlist, request)
        assert caught.value.kind == RejectionKind.NOT_ALLOWED
        assert reason in caught.value.reason


SCOPES = [
    ("arn:aws:ecs:eu-west-1:123456789012:cluster/prod", None),
    ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "in region us-east-1"),
    ("arn:aws:ecs:eu-west-1:999999999999:cluster/prod", "in account 999999999999"),
    ("prod", None),
]


@pytest.mark.parametrize(
    ("region", "account", "reason"),
    [
        (None, "123456789012", "names a region, and this worker's is unknown"),
        ("eu-west-1", None, "names an account, and this worker's is unknown"),
    ],
)
def test_an_arn_the_worker_cannot_check_is_denied(
    region: str | None, account: str | None, reason: str
) -> None:
    request = parse_message(message(cluster="arn:aws:ecs:eu-west-1:123456789012:cluster/prod"))
    with pytest.raises(Rejection, match=reason):
        check_scope(request, region, account)
    check_scope(parse_message(message(cluster="prod")), region, account)  # a name: nothing to check


@pytest.mark.parametrize(("cluster", "reason"), SCOPES)
def test_arns_must_be_in_the_workers_region_and_account(cluster: str, reason: str | None) -> None:
    request = parse_message(message(cluster=cluster))
    if reason is None:
        check_scope(request, "eu-west-1", "123456789012")
    else:
        with pytest.raises(Rejection, match=reason):
            check_scope(request, "eu-west-1", "123456789012")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), (30, 30)]
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_./:@ 0123456789", min_size=0, max_size=30)


@given(names, names, names, names)
def test_decide_never_raises_anything_but_rejection(
    cluster: str, service: str, container: str, repo: str
) -> None:
    allowlist = load_allowlist(GOOD)
    try:
        request = parse_message(
            message(cluster=cluster, service=service, container=container, image=f"{repo}:1")
        )
        decision = decide(allowlist, request)
    except Rejection:
        return
    # Anything that got through is exactly a listed combination.
    entry = decision.entry
    assert container in entry.containers
    assert f"{repo}" in entry.images


@given(st.text(max_size=400))
def test_load_never_raises_anything_but_allowlist_error(text: str) -> None:
    try:
        load_allowlist(text)
    except AllowlistError:
        pass
