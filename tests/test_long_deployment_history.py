"""A service with more than 20 stored service deployments: ListServiceDeployments
documents no order (local mode lists oldest first), so the worker must not read one
page and trust it as newest first; a stopped deploy is not falsely `overtaken`."""

from __future__ import annotations

from conftest import REPO, World, deploy, drain, metric
from deployworker.local.simulator import Rules


def pad_history(world: World, count: int) -> None:
    """`count` earlier service deployments of prod/web, each superseding the last."""
    for n in range(count):
        target = world.register(f"{REPO}:old-{n}")
        world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    world.wait_deployment(
        world.describe()["currentServiceDeployment"], lambda d: d["status"] == "SUCCESSFUL"
    )


def test_a_stopped_deploy_on_a_long_history_is_restored_not_overtaken(world: World) -> None:
    world.service(
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    )
    world.simulator.rules = Rules(converge_seconds=0.05)
    pad_history(world, 24)
    previous = world.describe()["taskDefinition"]
    world.simulator.rules = Rules(converge_seconds=0.3)
    app = world.app()
    world.send(deploy(f"{REPO}:2-fail", deploy_id="long-history"))

    drain(app)

    assert metric(app, "deployworker_messages_total", outcome="overtaken") == 0
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == previous
    assert world.queue_depth() == 0
    listed = world.ecs.list_service_deployments(cluster="prod", service="web")
    assert "nextToken" in listed  # more than one page of 20: the case in point
