package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/internal/sesmtp"
	"github.com/sesq/sesq/worker"
)

// newTransport builds the transport SESQ_TRANSPORT names. The SMTP one needs
// SMTP credentials now: given, or derived from static IAM keys; a problem
// is a configuration error (exit 2).
func newTransport(ctx context.Context, cfg config.Config, awsCfg aws.Config) (worker.Transport, func(), error) {
	if cfg.Transport != "smtp" {
		return worker.API{Mailers: worker.NewSESClients(awsCfg, cfg.Concurrency)}, func() {}, nil
	}
	sc := sesmtp.Config{
		Endpoint: cfg.SMTPEndpoint, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS,
		Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		MaxConns: cfg.Concurrency, CommandTimeout: cfg.SendTimeout,
	}
	if sc.Username == "" {
		if awsCfg.Credentials == nil {
			return nil, nil, &usageError{"SESQ_SMTP_USERNAME: no SMTP credentials and no AWS credentials to derive them from"}
		}
		creds, err := awsCfg.Credentials.Retrieve(ctx)
		switch {
		case err != nil:
			return nil, nil, &usageError{fmt.Sprintf("SESQ_SMTP_USERNAME: not set, and no AWS credentials to derive an SMTP password from: %v", err)}
		case creds.SessionToken != "":
			return nil, nil, &usageError{"SESQ_SMTP_USERNAME: not set, and the AWS credentials are temporary (a role or session): SES derives SMTP passwords only from an IAM user's static keys; set SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD"}
		}
		sc.AccessKeyID, sc.SecretAccessKey = creds.AccessKeyID, creds.SecretAccessKey
	}
	t, err := sesmtp.New(sc)
	if err != nil {
		return nil, nil, &usageError{"SESQ_SMTP: " + err.Error()}
	}
	return t, t.Close, nil
}
