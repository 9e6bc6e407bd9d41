#!/bin/sh
# Publish one deploy and wait for its outcome with `deployworker` (the production image,
# or `pip install deployworker`). The exit code is the deploy's: 0 only if it succeeded.
#
# Set in the environment (any character is safe: each value is one argument):
#   DEPLOY_TOPIC_ARN  the deployworker SNS FIFO topic (Terraform output deploy_topic_arn)
#   CLUSTER SERVICE CONTAINER IMAGE
#   DEPLOY_ID         unique per build, e.g. "build-$BUILD_NUMBER": the idempotency key
#   COMMIT ACTOR      recorded in logs and task-definition tags
#   DEPLOYWORKER_SIGNING_KEY  the HMAC key, when the worker requires signed messages
# The credentials need the Terraform output publisher_policy_json (sns:Publish on the
# topic) and, to wait, read access to ECS (DescribeServices, ListServiceDeployments,
# DescribeServiceDeployments, DescribeTaskDefinition).
set -eu

deployworker publish \
  "--topic-arn=$DEPLOY_TOPIC_ARN" \
  "--cluster=$CLUSTER" \
  "--service=$SERVICE" \
  "--container=$CONTAINER" \
  "--image=$IMAGE" \
  "--deploy-id=$DEPLOY_ID" \
  "--commit=$COMMIT" \
  "--actor=$ACTOR" \
  --wait --timeout 1800
