"""A message must be sent in its target's canonical group, `<cluster>/<service>`: FIFO
order within one group is what keeps two replicas from deploying one service at once."""

from __future__ import annotations

import pytest

from conftest import REPO, World, deploy, drain, metric
from deployworker.errors import Rejection
from deployworker.intake.admit import canonical_group, check_group
from deployworker.intake.parse import parse_message
from test_follow_deployments import Calls

SERVICE_ARN = "arn:aws:ecs:eu-west-1:123456789012:service/prod/web"


@pytest.mark.parametrize(
    ("cluster", "service", "group", "ok"),
    [
        ("prod", "web", "prod/web", True),
        ("arn:aws:ecs:eu-west-1:123456789012:cluster/prod", SERVICE_ARN, "prod/web", True),
        ("prod", "web", "web", False),
        ("prod", "web", "prod/web ", False),
        ("prod", "web", "Prod/web", False),
        ("prod", "web", "prod", False),
        ("prod", "web", "", False),
        ("prod", SERVICE_ARN, SERVICE_ARN, False),  # names, not ARNs
        ("prod", "web", "pipeline-42", False),
    ],
)
def test_the_canonical_group_is_cluster_slash_service_by_name(
    cluster: str, service: str, group: str, ok: bool
) -> None:
    body = f'{{"cluster":"{cluster}","service":"{service}","container":"app","image":"r/w:1"}}'
    request = parse_message(body)
    assert canonical_group(request) == "prod/web"
    if ok:
        check_group(request, group)
    else:
        with pytest.raises(
            Rejection, match=r"MessageGroupId .* must all be sent with .*'prod/web'"
        ):
            check_group(request, group)


def test_a_deploy_sent_in_another_group_is_dead_lettered_naming_the_group(world: World) -> None:
    before = world.service()
    app = world.app()
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="pipeline-group"), group="pipeline-42")
    world.send(deploy(f"{REPO}:3.0", deploy_id="right-group"), group="prod/web")
    drain(app)
    (dead,) = world.dead_letters()
    attributes = dead["MessageAttributes"]
    reason = attributes["deployworker.reason"]["StringValue"]
    assert "MessageGroupId 'pipeline-42'" in reason and "'prod/web'" in reason
    assert attributes["deployworker.group_id"]["StringValue"] == "pipeline-42"
    assert metric(app, "deployworker_messages_total", outcome="rejected_not_allowed") == 1
    # Only the correctly grouped deploy ran.
    assert world.images() == {"app": f"{REPO}:3.0"}
    assert calls.writes() == ["RegisterTaskDefinition", "UpdateService"]
    assert world.describe()["taskDefinition"] != before
    assert world.queue_depth() == 0
