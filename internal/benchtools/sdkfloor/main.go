// Command sdkfloor is not a worker: it is the least an SQS → SES worker built
// on aws-sdk-go-v2 can do, measured with the benchmark harness to show the
// CPU floor that the SDK and HTTP set (README, Performance). It receives
// batches, decodes the envelope's few fields SendEmail needs, sends with the
// region's SES client and deletes in batches. No validation, no retries, no
// dead-letter queue, no logs, no metrics: a message SES refuses is left to
// come back. Do not run it on real queues.
//
//	go build -o bin/sdkfloor ./internal/benchtools/sdkfloor
//	go run -C ../shared/bench . -worker "floor=$PWD/bin/sdkfloor" -worker "sesq=$PWD/bin/sesq run"
package main

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	sestypes "github.com/aws/aws-sdk-go-v2/service/ses/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/awsclient"
)

type envelope struct {
	SourceArn     string `json:"sourceArn"`
	ReturnPathArn string `json:"returnPathArn"`
	Source        string `json:"source"`
	ReturnPath    string `json:"returnPath"`
	Destination   struct {
		To []string `json:"to"`
	} `json:"destination"`
	Message struct {
		Subject struct{ Data, Charset string } `json:"subject"`
		Body    struct {
			Text struct{ Data, Charset string } `json:"text"`
		} `json:"body"`
	} `json:"message"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	cfg.HTTPClient = awsclient.HTTPClient(0) // as sesq's clients (internal/awsclient)
	queue := os.Getenv("SESQ_QUEUE_URL")
	conc, _ := strconv.Atoi(os.Getenv("SESQ_CONCURRENCY"))
	if conc <= 0 {
		conc = 32
	}
	q := sqs.NewFromConfig(cfg)
	var mu sync.Mutex
	clients := map[string]*ses.Client{}
	sesFor := func(region string) *ses.Client {
		mu.Lock()
		defer mu.Unlock()
		c, ok := clients[region]
		if !ok {
			c = ses.NewFromConfig(cfg, func(o *ses.Options) { o.Region = region; o.Retryer = aws.NopRetryer{} })
			clients[region] = c
		}
		return c
	}

	msgs := make(chan sqstypes.Message, 20)
	dels := make(chan string, 2*conc)
	var wg sync.WaitGroup
	for range (conc + 9) / 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
				if err != nil {
					continue
				}
				for _, m := range out.Messages {
					msgs <- m
				}
			}
		}()
	}
	for range conc {
		go func() {
			for m := range msgs {
				var e envelope
				if json.Unmarshal([]byte(aws.ToString(m.Body)), &e) != nil {
					continue
				}
				region := strings.Split(e.SourceArn, ":")[3]
				_, err := sesFor(region).SendEmail(context.Background(), &ses.SendEmailInput{
					Source:        &e.Source,
					Destination:   &sestypes.Destination{ToAddresses: e.Destination.To},
					ReturnPath:    &e.ReturnPath,
					SourceArn:     &e.SourceArn,
					ReturnPathArn: &e.ReturnPathArn,
					Message: &sestypes.Message{
						Subject: &sestypes.Content{Data: &e.Message.Subject.Data, Charset: &e.Message.Subject.Charset},
						Body:    &sestypes.Body{Text: &sestypes.Content{Data: &e.Message.Body.Text.Data, Charset: &e.Message.Body.Text.Charset}},
					},
				})
				if err == nil {
					dels <- aws.ToString(m.ReceiptHandle)
				}
			}
		}()
	}
	go func() {
		var batch []sqstypes.DeleteMessageBatchRequestEntry
		t := time.NewTicker(50 * time.Millisecond)
		flush := func() {
			if len(batch) > 0 {
				q.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: &queue, Entries: batch})
				batch = nil
			}
		}
		for {
			select {
			case h := <-dels:
				batch = append(batch, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(batch))), ReceiptHandle: aws.String(h)})
				if len(batch) == 10 {
					flush()
				}
			case <-t.C:
				flush()
			}
		}
	}()
	<-ctx.Done()
}
