package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/config"
)

const dlqRetention = 14 * 24 * time.Hour

const queuesUsage = "sesq queues create [--json] NAME"

func cmdQueues(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "usage: "+queuesUsage)
			return errHelp
		}
		return &usageError{"usage: " + queuesUsage}
	}
	fs := newFlags("queues create", queuesUsage, stdout)
	asJSON := fs.Bool("json", false, `print {"SESQ_QUEUE_URL": …, "SESQ_DLQ_URL": …}`)
	if err := fs.parse(args[1:], 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"usage: " + queuesUsage}
	}
	name := fs.Arg(0)
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
	if *asJSON {
		return printJSON(stdout, map[string]string{"SESQ_QUEUE_URL": aws.ToString(src.QueueUrl), "SESQ_DLQ_URL": aws.ToString(dlq.QueueUrl)})
	}
	// export lines, so that eval "$(sesq queues create NAME)" hands them to
	// the commands run next in the same shell.
	fmt.Fprintf(stdout, "export SESQ_QUEUE_URL=%s\nexport SESQ_DLQ_URL=%s\n", shellQuote(aws.ToString(src.QueueUrl)), shellQuote(aws.ToString(dlq.QueueUrl)))
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it (queue URLs do
// not, but a name is the user's).
func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
