#!/bin/sh
# Publish one deploy message with nothing but the AWS CLI.
#
# Set in the environment:
#   DEPLOY_TOPIC_ARN  the deployworker SNS FIFO topic (Terraform output deploy_topic_arn)
#   CLUSTER SERVICE CONTAINER IMAGE
#   DEPLOY_ID         unique per build, e.g. "build-$BUILD_NUMBER"; the idempotency key
#   COMMIT            optional, recorded in logs and task-definition tags
# The credentials need only sns:Publish on the topic (Terraform output publisher_policy_json).
# The message group must be "$CLUSTER/$SERVICE" (the worker rejects any other), and the
# deduplication id is unique per group and deploy_id (sha256 of "<group>\n<deploy_id>",
# as `deployworker publish` sends it), so one DEPLOY_ID may deploy several services.
set -eu

aws sns publish \
  --topic-arn "$DEPLOY_TOPIC_ARN" \
  --message-group-id "$CLUSTER/$SERVICE" \
  --message-deduplication-id "$(printf '%s\n%s' "$CLUSTER/$SERVICE" "$DEPLOY_ID" | sha256sum | cut -d' ' -f1)" \
  --message "{\"cluster\":\"$CLUSTER\",\"service\":\"$SERVICE\",\"container\":\"$CONTAINER\",\"image\":\"$IMAGE\",\"deploy_id\":\"$DEPLOY_ID\",\"source\":{\"commit\":\"${COMMIT:-unknown}\",\"actor\":\"ci\"}}"
