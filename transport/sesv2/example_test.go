package sesv2_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/testsupport/sesv2test"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesv2"
)

// The SES guide's Python example (SendEmail with SourceArn and
// ReturnPathArn), written as an envelope, sent through SES v2 under a
// tenant: the ARNs arrive as FromEmailAddressIdentityArn and
// FeedbackForwardingEmailAddressIdentityArn, signed for the identity's
// region.
func Example() {
	srv, err := sesv2test.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	tr, err := sesv2.New(context.Background(), transport.Setup{AWS: aws.Config{
		Region:       "eu-west-1", // the identity's region wins
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), // in production: AWS_ENDPOINT_URL_SESV2, or none
	}})
	if err != nil {
		panic(err)
	}
	defer tr.Close()

	e, err := envelope.Parse([]byte(`{
		"version": 1,
		"action": "SendEmail",
		"source": "sender@example.com",
		"sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
		"returnPath": "feedback@example.com",
		"returnPathArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
		"destination": {"to": ["recipient@example.com"]},
		"message": {
			"subject": {"data": "Amazon SES Test", "charset": "UTF-8"},
			"body": {"html": {"data": "This email was sent with Amazon SES.", "charset": "UTF-8"}}
		},
		"tenantName": "customer-42"
	}`))
	if err != nil {
		panic(err)
	}
	if err := tr.Validate(e); err != nil {
		panic(err)
	}
	id, err := tr.Send(context.Background(), e)
	if err != nil {
		panic(err)
	}

	r := srv.Sent()[0]
	in := r.Input
	fmt.Println("message id:", id)
	fmt.Println("signed for:", r.Region)
	fmt.Println("FromEmailAddress:", in.FromEmailAddress)
	fmt.Println("FromEmailAddressIdentityArn:", in.FromEmailAddressIdentityArn)
	fmt.Println("FeedbackForwardingEmailAddress:", in.FeedbackForwardingEmailAddress)
	fmt.Println("FeedbackForwardingEmailAddressIdentityArn:", in.FeedbackForwardingEmailAddressIdentityArn)
	fmt.Println("Destination.ToAddresses:", in.Destination.ToAddresses)
	fmt.Println("Content.Simple.Subject:", in.Content.Simple.Subject.Data)
	fmt.Println("TenantName:", in.TenantName)
	// Output:
	// message id: 0100sesv2test-000001-us-east-1
	// signed for: us-east-1
	// FromEmailAddress: sender@example.com
	// FromEmailAddressIdentityArn: arn:aws:ses:us-east-1:123456789012:identity/example.com
	// FeedbackForwardingEmailAddress: feedback@example.com
	// FeedbackForwardingEmailAddressIdentityArn: arn:aws:ses:us-east-1:123456789012:identity/example.com
	// Destination.ToAddresses: [recipient@example.com]
	// Content.Simple.Subject: Amazon SES Test
	// TenantName: customer-42
}
