# The deploy board (docs/board.md) behind an existing HTTPS ALB listener: a rule that
# signs people in with OIDC, then forwards /board and its API to the workers' metrics
# port. Nothing here exists unless board_listener_arn is set. Only /board is routed:
# /metrics and the health probes stay inside the VPC.

resource "aws_lb_target_group" "board" {
  # checkov:skip=CKV_AWS_378: the ALB's listener terminates TLS; this hop stays inside the VPC to the worker's metrics port, which serves plain HTTP like /metrics.
  count       = length(compact([var.board_listener_arn]))
  name_prefix = "dwbd-"
  port        = 9102
  protocol    = "HTTP" # inside the VPC; the listener terminates TLS
  target_type = "ip"   # Fargate tasks (awsvpc)
  vpc_id      = var.board_vpc_id

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
    precondition {
      condition = alltrue([
        can(coalesce(var.board_vpc_id)),
        can(var.board_oidc.issuer),
        can(coalesce(var.board_oidc_client_secret)),
      ])
      error_message = "board_listener_arn needs board_vpc_id, board_oidc and board_oidc_client_secret."
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "board" {
  count        = length(compact([var.board_listener_arn]))
  listener_arn = var.board_listener_arn
  priority     = var.board_listener_priority

  action {
    type = "authenticate-oidc"
    authenticate_oidc {
      issuer                     = var.board_oidc.issuer
      authorization_endpoint     = var.board_oidc.authorization_endpoint
      token_endpoint             = var.board_oidc.token_endpoint
      user_info_endpoint         = var.board_oidc.user_info_endpoint
      client_id                  = var.board_oidc.client_id
      client_secret              = var.board_oidc_client_secret
      scope                      = "openid email"
      session_timeout            = 3600 # an hour, then the IdP is asked again
      on_unauthenticated_request = "authenticate"
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.board[0].arn
  }

  condition {
    path_pattern {
      values = ["/board", "/board/*"]
    }
  }

  dynamic "condition" {
    for_each = compact([var.board_host_header])
    content {
      host_header {
        values = [condition.value]
      }
    }
  }

  tags = var.tags
}
