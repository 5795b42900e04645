package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/config"
)

// loadConfig reads SESQ_* for purpose; a problem is a usage error (exit 2).
func loadConfig(purpose config.Purpose) (config.Config, error) {
	c, err := config.Load(purpose)
	if err != nil {
		return c, &usageError{err.Error()}
	}
	return c, nil
}

// loadAWS reads the SDK's configuration: AWS_REGION, the default credential
// chain, AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_SES. It contacts nothing.
func loadAWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, &usageError{fmt.Sprintf("AWS configuration: %v", err)}
	}
	if cfg.Region == "" {
		return cfg, &usageError{"AWS_REGION: required (the queue's region)"}
	}
	// Every client made from cfg (SQS, SES, DynamoDB) gets the guarded
	// HTTP client: no call is sent twice because of smithy-go's request
	// body (internal/awsclient).
	cfg.HTTPClient = awsclient.HTTPClient(0)
	return cfg, nil
}

// newS3 is the S3 client for payloads (package payload). Path-style
// addressing when AWS_ENDPOINT_URL_S3 points elsewhere (an emulator on a
// loopback address has no bucket subdomains); AWS's own endpoint takes the
// default, virtual-hosted style.
func newS3(cfg aws.Config) *s3.Client {
	cfg = cfg.Copy()
	cfg.HTTPClient = awsclient.HTTPClient(16)
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
		// An object without a checksum (one written without, or by an
		// emulator) is read all the same; the SDK's note about it would be a
		// line of plain text among the JSON logs.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

// newSQS is the SQS client, with the SDK's own retries and enough idle
// connections for the pollers and batch calls.
func newSQS(cfg aws.Config, apiOptions ...func(*middleware.Stack) error) *sqs.Client {
	cfg = cfg.Copy()
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), apiOptions...)
	cfg.HTTPClient = awsclient.HTTPClient(32)
	return sqs.NewFromConfig(cfg)
}
