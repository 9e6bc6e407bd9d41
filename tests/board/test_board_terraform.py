"""The module's optional board rule, read from the HCL: off by default, OIDC before
forwarding, only /board routed, to the port the worker serves the board on."""

from __future__ import annotations

from typing import Any

from deployworker.settings import Settings
from test_terraform import MODULE, _one, hcl


def _resource(kind: str, name: str) -> dict[str, Any]:
    for block in hcl(MODULE / "board.tf")["resource"]:
        if kind in block and name in block[kind]:
            found: dict[str, Any] = block[kind][name]
            return found
    raise AssertionError(f"no {kind}.{name}")


def _variables() -> dict[str, Any]:
    return {k: v for block in hcl(MODULE / "variables.tf")["variable"] for k, v in block.items()}


def test_the_board_rule_is_off_unless_a_listener_is_given() -> None:
    variables = _variables()
    assert _one(variables["board_listener_arn"]["default"]) is None
    assert _one(variables["board_oidc_client_secret"]["sensitive"]) is True
    for kind, name in (("aws_lb_target_group", "board"), ("aws_lb_listener_rule", "board")):
        count = _one(_resource(kind, name)["count"])
        assert count.startswith("${length(compact(") and "var.board_listener_arn" in count


def test_people_sign_in_before_the_rule_forwards_only_the_board() -> None:
    rule = _resource("aws_lb_listener_rule", "board")
    actions = [_one(a["type"]) for a in rule["action"]]
    assert actions == ["authenticate-oidc", "forward"]
    oidc = _one(_one(rule["action"][0]["authenticate_oidc"]))
    assert _one(oidc["on_unauthenticated_request"]) == "authenticate"
    paths = _one(_one(_one(rule["condition"])["path_pattern"])["values"])
    assert paths == ["/board", "/board/*"]  # never /metrics


def test_the_target_group_reaches_the_port_the_worker_serves_the_board_on() -> None:
    group = _resource("aws_lb_target_group", "board")
    assert _one(group["port"]) == Settings.model_fields["metrics_port"].default
    assert _one(group["target_type"]) == "ip"
    main = (MODULE / "main.tf").read_text()
    assert "DEPLOYWORKER_BOARD_ENABLED          = tostring(var.board_enabled)" in main
    assert "for_each = aws_lb_target_group.board[*].arn" in main
    assert (
        _one(_variables()["board_enabled"]["default"])
        is Settings.model_fields["board_enabled"].default
    )
