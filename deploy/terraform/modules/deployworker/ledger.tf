# The deploy ledger: one item per (target, deploy_id), written by the worker at each
# transition (DEPLOYWORKER_LEDGER_TABLE) and read by `deployworker status`, `publish
# --wait` and `history`. Keys and indexes are those `aws/dynamodb.table_definition`
# creates in local mode: `by_time` (a service's history, newest first) and `by_phase`
# (in flight, ended and rejected per UTC day).

resource "aws_dynamodb_table" "ledger" {
  name         = "${var.name}-ledger"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "target"
  range_key    = "deploy_id"

  attribute {
    name = "target"
    type = "S"
  }
  attribute {
    name = "deploy_id"
    type = "S"
  }
  attribute {
    name = "created_at"
    type = "N"
  }
  attribute {
    name = "phase"
    type = "S"
  }
  attribute {
    name = "updated_at"
    type = "N"
  }

  local_secondary_index {
    name            = "by_time"
    range_key       = "created_at"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_phase"
    hash_key        = "phase"
    range_key       = "updated_at"
    projection_type = "ALL"
  }

  # Items expire `ledger_ttl_days` after their last write (the worker sets `expires_at`).
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = true
}
