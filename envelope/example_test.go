package envelope_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/envelope"
)

// A Go producer validates and enqueues envelopes with Producer; the SQS
// client comes from the SDK's usual configuration.
func ExampleProducer() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	p := &envelope.Producer{
		Client:   sqs.NewFromConfig(cfg),
		QueueURL: "https://sqs.us-east-1.amazonaws.com/111122223333/sesq",
	}
	identity := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	results, err := p.Enqueue(ctx, []*envelope.Envelope{{
		Version:       envelope.Version,
		ID:            "order-4711-receipt",
		Action:        envelope.SendEmail,
		SourceArn:     identity,
		ReturnPathArn: identity,
		Source:        "sender@example.com",
		ReturnPath:    "feedback@example.com",
		Destination:   &envelope.Destination{To: []string{"recipient@example.com"}},
		Message: &envelope.Message{
			Subject: &envelope.Content{Data: "Your receipt", Charset: "UTF-8"},
			Body:    &envelope.Body{Text: &envelope.Content{Data: "Thank you for your order.", Charset: "UTF-8"}},
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil {
			fmt.Println("not enqueued:", r.Err) // an *envelope.Error names the field
			continue
		}
		fmt.Println("enqueued", r.MessageID)
	}
}
