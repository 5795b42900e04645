#!/bin/bash
# LocalStack ready hook: the queues sesq works, and the identity owner's side
# (a verified identity with a sending-authorization policy) in two regions.
#
# The queues are required: without them the hook fails. The SES steps are
# best effort: an emulator that lacks one (identity policies are a likely
# one) is said so in the log and in the status, and the hook goes on, so that
# the second region is still set up. The status file is what the compose
# health check reads: its first line is "ready" or "failed", the lines after
# it say what was skipped.
set -uo pipefail

status=${SESQ_INIT_STATUS:-/tmp/sesq-init.status}
endpoint=${SESQ_INIT_QUEUE_HOST:-http://sqs.us-east-1.localhost.localstack.cloud:4566}
notes=()
rm -f "$status"

fail() {
  echo "sesq: $1" >&2
  { echo failed; echo "$1"; } > "$status"
  exit 1
}

# try runs an SES step; a failure is noted, not fatal.
try() {
  local what=$1; shift
  if ! out=$("$@" 2>&1); then
    echo "sesq: skipped: $what (the emulator refused it: $(echo "$out" | tail -n 1))" >&2
    notes+=("skipped: $what")
  fi
}

awslocal sqs create-queue --queue-name sesq-dlq --attributes MessageRetentionPeriod=1209600 >/dev/null ||
  fail "could not create the dead-letter queue sesq-dlq"
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$endpoint/000000000000/sesq-dlq" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text) && [ -n "$dlq_arn" ] ||
  fail "could not read the ARN of sesq-dlq"
awslocal sqs create-queue --queue-name sesq --attributes "{
  \"VisibilityTimeout\": \"60\",
  \"ReceiveMessageWaitTimeSeconds\": \"20\",
  \"RedrivePolicy\": \"{\\\"deadLetterTargetArn\\\":\\\"${dlq_arn}\\\",\\\"maxReceiveCount\\\":\\\"20\\\"}\"
}" >/dev/null || fail "could not create the queue sesq"

for region in us-east-1 eu-west-1; do
  try "verify example.com in $region" awslocal ses verify-domain-identity --domain example.com --region "$region"
  try "verify sender@example.com in $region" awslocal ses verify-email-identity --email-address sender@example.com --region "$region"
  try "the sending-authorization policy of example.com in $region" \
    awslocal ses put-identity-policy --region "$region" --identity example.com --policy-name sesq-delegate --policy "{
    \"Version\": \"2012-10-17\",
    \"Statement\": [{
      \"Sid\": \"AuthorizeSesqDelegate\",
      \"Effect\": \"Allow\",
      \"Principal\": {\"AWS\": \"arn:aws:iam::000000000000:root\"},
      \"Action\": [\"ses:SendEmail\", \"ses:SendRawEmail\", \"ses:SendTemplatedEmail\"],
      \"Resource\": \"arn:aws:ses:${region}:000000000000:identity/example.com\"
    }]
  }"
done

{ echo ready; for n in ${notes[@]+"${notes[@]}"}; do echo "$n"; done; } > "$status"
echo "sesq: queues and identities ready (${#notes[@]} SES steps skipped)"
