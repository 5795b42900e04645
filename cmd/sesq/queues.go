package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/config"
)

const dlqRetention = 14 * 24 * time.Hour

const queuesUsage = "sesq queues create [--fifo] [--json] NAME"

// fifoMaxReceiveCount is a FIFO queue's redrive maxReceiveCount, SQS's
// largest: on a FIFO queue the worker hands a message back by its
// visibility (a new message would go to the end of its group), so every
// retry after a long backoff, every quota deferral and every hold is one
// more receive of the same message, and so is each hand-back of an earlier
// message of its group that it waited behind.
const fifoMaxReceiveCount = 1000

// fifoSuffix ends the name of every SQS FIFO queue.
const fifoSuffix = ".fifo"

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
	fifo := fs.Bool("fifo", false, "create FIFO queues NAME.fifo and NAME-dlq.fifo (per-group order; producers set MessageGroupId and MessageDeduplicationId) instead of standard queues (which producers use as SQS fair queues, the tenant as MessageGroupId)")
	if err := fs.parse(args[1:], 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"usage: " + queuesUsage}
	}
	name := fs.Arg(0)
	if *fifo {
		name = strings.TrimSuffix(name, fifoSuffix)
	} else if strings.HasSuffix(name, fifoSuffix) {
		return &usageError{fmt.Sprintf("queues create: %s names a FIFO queue: add --fifo (or leave out %s for a standard queue)", shellQuote(name), fifoSuffix)}
	}
	cfg, err := loadConfig(config.ForQueues)
	if err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	client := newSQS(awsCfg)
	srcName, dlqName := name, name+"-dlq"
	// A FIFO queue's dead-letter queue must be FIFO too. Deduplication is
	// by the producers' MessageDeduplicationId (envelope.Producer's: a hash
	// of the envelope's key), never by content: two envelopes with the same
	// body and different ids are two emails.
	queueType := map[string]string{}
	if *fifo {
		srcName, dlqName = srcName+fifoSuffix, dlqName+fifoSuffix
		queueType[string(types.QueueAttributeNameFifoQueue)] = "true"
		queueType[string(types.QueueAttributeNameContentBasedDeduplication)] = "false"
	}
	dlqAttrs := map[string]string{
		string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(dlqRetention / time.Second)),
	}
	maps.Copy(dlqAttrs, queueType)
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(dlqName), Attributes: dlqAttrs})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", dlqName, err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("get ARN of %s: %w", dlqName, err)
	}
	maxReceive := cfg.MaxReceiveCount
	if *fifo {
		maxReceive = fifoMaxReceiveCount
	}
	redrive, _ := json.Marshal(map[string]any{
		"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     maxReceive,
	})
	srcAttrs := map[string]string{
		string(types.QueueAttributeNameRedrivePolicy):                 string(redrive),
		string(types.QueueAttributeNameVisibilityTimeout):             strconv.Itoa(int(cfg.VisibilityTimeout / time.Second)),
		string(types.QueueAttributeNameReceiveMessageWaitTimeSeconds): strconv.Itoa(int(cfg.WaitTime / time.Second)),
	}
	maps.Copy(srcAttrs, queueType)
	src, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(srcName), Attributes: srcAttrs})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", srcName, err)
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
