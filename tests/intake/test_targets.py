"""Target accounts and regions in the allowlist and the message, table-driven and fuzzed."""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.errors import Rejection
from deployworker.intake.accounts import Target
from deployworker.intake.admit import Intake, canonical_group
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.entries import Allowlist
from deployworker.intake.message import DeployRequest
from deployworker.intake.parse import parse_message

HOME = Target("123456789012", "eu-west-1")
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
ALLOWLIST = textwrap.dedent(
    f"""\
    version: 1
    accounts:
      prod:
        account_id: "222222222222"
        role_arn: arn:aws:iam::222222222222:role/deployworker-target
        external_id: deployworker-prod
    services:
      - cluster: prod
        service: web
        containers: [app]
        images: [{REPO}]
      - account: prod
        region: us-west-2
        cluster: prod
        service: web
        containers: [app]
        images: [{REPO}]
      - region: us-east-1
        cluster: prod
        service: web
        containers: [app]
        images: [{REPO}]
    """
)


def request(**fields: object) -> DeployRequest:
    body: dict[str, object] = {"cluster": "prod", "service": "web", "container": "app"}
    body["image"] = f"{REPO}:2"
    body.update(fields)
    return parse_message(json.dumps(body))


def intake(allowlist: Allowlist | None = None, serves: Target | None = None) -> Intake:
    loaded = allowlist or load_allowlist(ALLOWLIST)
    return Intake(lambda: loaded, HOME.region, HOME.account, serves=serves)


TARGETS = [
    ({}, None),
    ({"account": "prod", "region": "us-west-2"}, Target("222222222222", "us-west-2")),
    ({"account": "222222222222", "region": "us-west-2"}, Target("222222222222", "us-west-2")),
    ({"account": "prod"}, Target("222222222222", "eu-west-1")),
    ({"region": "us-east-1"}, Target(HOME.account, "us-east-1")),
    ({"account": HOME.account, "region": HOME.region}, None),
    (
        {"service": "arn:aws:ecs:us-west-2:222222222222:service/prod/web"},
        Target("222222222222", "us-west-2"),
    ),
    ({"cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"}, None),
]


@pytest.mark.parametrize(("fields", "target"), TARGETS, ids=lambda v: str(v)[:50])
def test_the_target_comes_from_arns_or_fields_and_defaults_to_home(
    fields: dict[str, str], target: Target | None
) -> None:
    assert intake().target_of(request(**fields)) == target


REFUSED = [
    ({"account": "333333333333"}, "account '333333333333' has no entry in the allowlist's"),
    ({"account": "staging"}, "account 'staging' has no entry in the allowlist's accounts"),
    (
        {"service": "arn:aws:ecs:us-west-2:222222222222:service/prod/web", "region": "us-east-1"},
        "region 'us-east-1' is not the region of the ARNs",
    ),
    (
        {
            "cluster": "arn:aws:ecs:us-west-2:222222222222:cluster/prod",
            "service": "arn:aws:ecs:us-east-1:222222222222:service/prod/web",
        },
        "name different accounts or regions",
    ),
]


@pytest.mark.parametrize(("fields", "reason"), REFUSED, ids=lambda v: str(v)[:50])
def test_targets_outside_the_allowlist_are_refused_with_the_reason(
    fields: dict[str, str], reason: str
) -> None:
    with pytest.raises(Rejection) as caught:
        intake().target_of(request(**fields))
    assert reason in caught.value.reason


ADMIT = [
    ({}, "prod/web"),
    ({"account": "prod", "region": "us-west-2"}, "222222222222/us-west-2/prod/web"),
    ({"region": "us-east-1"}, "123456789012/us-east-1/prod/web"),
]


@pytest.mark.parametrize(("fields", "group"), ADMIT, ids=str)
def test_each_target_has_its_canonical_group_and_only_its_pipeline_admits_it(
    fields: dict[str, str], group: str
) -> None:
    req = request(**fields)
    target = intake().target_of(req)
    assert canonical_group(req, None, target, HOME) == group
    decision = intake(serves=target).admit(req, group)
    assert decision.target == target
    with pytest.raises(Rejection, match="MessageGroupId"):
        intake(serves=target).admit(req, "other/web")
    if target is not None:  # home's pipeline never deploys another target's service
        with pytest.raises(Rejection, match="not served by this pipeline"):
            intake().admit(req, group)


def test_a_listed_account_without_the_entry_is_not_allowed() -> None:
    req = request(account="prod", region="eu-west-1")
    target = Target("222222222222", "eu-west-1")
    with pytest.raises(Rejection, match="prod/web in 222222222222/eu-west-1 is not in the allowl"):
        intake(serves=target).admit(req, "222222222222/eu-west-1/prod/web")


BAD = [
    ("accounts:\n  prod: {account_id: '22', role_arn: x}\n", "not a 12-digit account id"),
    (
        "accounts:\n  prod: {account_id: '222222222222', "
        "role_arn: 'arn:aws:iam::333333333333:role/x'}\n",
        "is in account 333333333333, not 222222222222",
    ),
    (
        "accounts:\n  '222222222222': {account_id: '222222222222', "
        "role_arn: 'arn:aws:iam::222222222222:role/x'}\n",
        "must be a name starting with a letter",
    ),
    (
        "services:\n  - {account: nope, cluster: a, service: b, containers: [app], "
        f"images: [{REPO}]}}\n",
        "account 'nope' is not in accounts",
    ),
    (
        "services:\n  - {region: mars, cluster: a, service: b, containers: [app], "
        f"images: [{REPO}]}}\n",
        "'mars' is not an AWS region name",
    ),
]


@pytest.mark.parametrize(("text", "reason"), BAD, ids=lambda v: str(v)[:40])
def test_bad_accounts_are_errors_with_their_reason(text: str, reason: str) -> None:
    with pytest.raises(AllowlistError) as caught:
        load_allowlist("version: 1\n" + text)
    assert reason in str(caught.value)


def test_one_service_may_be_listed_once_per_account_and_region() -> None:
    duplicated = ALLOWLIST + textwrap.indent(
        textwrap.dedent(
            f"""\
            - account: "222222222222"
              region: us-west-2
              cluster: prod
              service: web
              containers: [app]
              images: [{REPO}]
            """
        ),
        "  ",
    )
    with pytest.raises(AllowlistError, match="listed more than once"):
        load_allowlist(duplicated)


@given(
    account=st.from_regex(r"[0-9]{12}", fullmatch=True),
    region=st.sampled_from(["eu-west-1", "us-west-2", "ap-southeast-2"]),
    cluster=st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
)
def test_groups_are_short_only_at_home(account: str, region: str, cluster: str) -> None:
    group = Target(account, region).group(HOME, cluster, "web")
    if (account, region) == (HOME.account, HOME.region):
        assert group == f"{cluster}/web"
    else:
        assert group == f"{account}/{region}/{cluster}/web"


def test_accounts_and_message_import_each_other_in_one_direction_only() -> None:
    """`message` imports `accounts` (its field types); `accounts` describes what it reads
    of a message with a Protocol, so not even a TYPE_CHECKING import closes a circle."""
    import ast
    from pathlib import Path

    import deployworker.intake.accounts as accounts

    tree = ast.parse(Path(accounts.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "deployworker.intake.message" not in imported
