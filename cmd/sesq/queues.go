package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/config"
)

const dlqRetention = 14 * 24 * time.Hour

func cmdQueues(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "create" {
		return &usageError{"usage: sesq queues create NAME"}
	}
	name := args[1]
	cfg, err := loadConfig(config.ForQueues)
	if err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	client := newSQS(awsCfg)
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(name + "-dlq"),
		Attributes: map[string]string{
			string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(dlqRetention / time.Second)),
		},
	})
	if err != nil {
		return fmt.Errorf("create queue %s-dlq: %w", name, err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("get ARN of %s-dlq: %w", name, err)
	}
	redrive, _ := json.Marshal(map[string]any{
		"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     cfg.MaxReceiveCount,
	})
	src, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(name),
		Attributes: map[string]string{
			string(types.QueueAttributeNameRedrivePolicy):                 string(redrive),
			string(types.QueueAttributeNameVisibilityTimeout):             strconv.Itoa(int(cfg.VisibilityTimeout / time.Second)),
			string(types.QueueAttributeNameReceiveMessageWaitTimeSeconds): strconv.Itoa(int(cfg.WaitTime / time.Second)),
		},
	})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "SESQ_QUEUE_URL=%s\nSESQ_DLQ_URL=%s\n", aws.ToString(src.QueueUrl), aws.ToString(dlq.QueueUrl))
	return nil
}
