#!/bin/bash
# LocalStack ready hook: the queues sesq works, and the identity owner's side
# (a verified identity with a sending-authorization policy) in two regions.
set -euo pipefail

awslocal sqs create-queue --queue-name sesq-dlq --attributes MessageRetentionPeriod=1209600
dlq_arn=$(awslocal sqs get-queue-attributes \
  --queue-url http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/sesq-dlq \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)
awslocal sqs create-queue --queue-name sesq --attributes "{
  \"VisibilityTimeout\": \"60\",
  \"ReceiveMessageWaitTimeSeconds\": \"20\",
  \"RedrivePolicy\": \"{\\\"deadLetterTargetArn\\\":\\\"${dlq_arn}\\\",\\\"maxReceiveCount\\\":\\\"20\\\"}\"
}"

for region in us-east-1 eu-west-1; do
  awslocal ses verify-domain-identity --domain example.com --region "$region"
  awslocal ses verify-email-identity --email-address sender@example.com --region "$region"
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
echo "sesq: queues and identities ready"
