package worker

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/awsclient"
)

// Transport sends one envelope through SES, in its identity's region, and
// returns the message id SES gave it. API sends with the SES API; the SMTP
// interface is the other transport (internal/sesmtp).
type Transport interface {
	Send(ctx context.Context, e *envelope.Envelope) (string, error)
}

// Validator is a Transport that cannot carry every valid envelope: what it
// refuses is dead-lettered as invalid before any send.
type Validator interface {
	Validate(e *envelope.Envelope) error
}

// API is the SES API transport: SendEmail, SendTemplatedEmail or
// SendRawEmail with the ARN parameters, on the identity region's client.
type API struct{ Mailers Mailers }

var _ Transport = API{}

// Send makes the one SES call the envelope asks for.
func (a API) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	return send(ctx, a.Mailers.For(e.Region()), e)
}

// SendQuota is the account's MaxSendRate in the region, from GetSendQuota.
func (a API) SendQuota(ctx context.Context, region string) (float64, error) {
	out, err := a.Mailers.For(region).GetSendQuota(ctx, &ses.GetSendQuotaInput{})
	if err != nil {
		return 0, fmt.Errorf("get send quota in %s: %w", region, err)
	}
	return out.MaxSendRate, nil
}

// QuotaSource is a Transport that can tell the account's send rate quota.
type QuotaSource interface {
	SendQuota(ctx context.Context, region string) (float64, error)
}

// Mailer is the SES calls the worker makes; *ses.Client has them.
type Mailer interface {
	SendEmail(ctx context.Context, in *ses.SendEmailInput, opts ...func(*ses.Options)) (*ses.SendEmailOutput, error)
	SendTemplatedEmail(ctx context.Context, in *ses.SendTemplatedEmailInput, opts ...func(*ses.Options)) (*ses.SendTemplatedEmailOutput, error)
	SendRawEmail(ctx context.Context, in *ses.SendRawEmailInput, opts ...func(*ses.Options)) (*ses.SendRawEmailOutput, error)
	GetSendQuota(ctx context.Context, in *ses.GetSendQuotaInput, opts ...func(*ses.Options)) (*ses.GetSendQuotaOutput, error)
}

// Mailers gives the SES client of a region.
type Mailers interface {
	For(region string) Mailer
}

// SESClients is one SES client per region, created on first use and reused,
// all sharing one pool of HTTP connections. The SDK's own retries are off:
// the worker's retry policy is the only one, so every attempt is counted.
type SESClients struct {
	cfg     aws.Config
	mu      sync.Mutex
	clients map[string]*ses.Client
}

var _ Mailers = (*SESClients)(nil)

// NewSESClients prepares regional clients from the SDK configuration (its
// credentials and endpoint settings, AWS_ENDPOINT_URL_SES included), keeping
// up to maxConns idle connections per endpoint, on the guarded HTTP client
// (internal/awsclient).
func NewSESClients(cfg aws.Config, maxConns int) *SESClients {
	cfg = cfg.Copy()
	cfg.HTTPClient = awsclient.HTTPClient(maxConns)
	return &SESClients{cfg: cfg, clients: map[string]*ses.Client{}}
}

// For returns the client that sends in region, signing for it.
func (c *SESClients) For(region string) Mailer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[region]; ok {
		return cl
	}
	cl := ses.NewFromConfig(c.cfg, func(o *ses.Options) {
		o.Region = region
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0 // AWS_MAX_ATTEMPTS must not bring the SDK's retries back
	})
	c.clients[region] = cl
	return cl
}

// send makes the one SES call the envelope asks for and returns the SES
// message id.
func send(ctx context.Context, m Mailer, e *envelope.Envelope) (string, error) {
	switch e.Action {
	case envelope.SendEmail:
		msg := &types.Message{Subject: content(e.Message.Subject), Body: &types.Body{}}
		if b := e.Message.Body; b != nil {
			msg.Body.Text, msg.Body.Html = content(b.Text), content(b.HTML)
		}
		out, err := m.SendEmail(ctx, &ses.SendEmailInput{
			Source:               aws.String(e.Source),
			Destination:          destination(e.Destination),
			Message:              msg,
			ReplyToAddresses:     e.ReplyTo,
			ReturnPath:           optional(e.ReturnPath),
			SourceArn:            optional(e.SourceArn),
			ReturnPathArn:        optional(e.ReturnPathArn),
			ConfigurationSetName: optional(e.ConfigurationSetName),
			Tags:                 tags(e.Tags),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.MessageId), nil
	case envelope.SendTemplatedEmail:
		out, err := m.SendTemplatedEmail(ctx, &ses.SendTemplatedEmailInput{
			Source:               aws.String(e.Source),
			Destination:          destination(e.Destination),
			Template:             aws.String(e.Template),
			TemplateData:         aws.String(e.TemplateData),
			ReplyToAddresses:     e.ReplyTo,
			ReturnPath:           optional(e.ReturnPath),
			SourceArn:            optional(e.SourceArn),
			ReturnPathArn:        optional(e.ReturnPathArn),
			ConfigurationSetName: optional(e.ConfigurationSetName),
			Tags:                 tags(e.Tags),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.MessageId), nil
	default: // SendRawEmail; Parse admits no other action
		out, err := m.SendRawEmail(ctx, &ses.SendRawEmailInput{
			RawMessage:           &types.RawMessage{Data: e.Raw},
			Source:               optional(e.Source),
			Destinations:         e.Destinations,
			SourceArn:            optional(e.SourceArn),
			FromArn:              optional(e.FromArn),
			ReturnPathArn:        optional(e.ReturnPathArn),
			ConfigurationSetName: optional(e.ConfigurationSetName),
			Tags:                 tags(e.Tags),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.MessageId), nil
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func content(c *envelope.Content) *types.Content {
	if c == nil {
		return nil
	}
	return &types.Content{Data: aws.String(c.Data), Charset: optional(c.Charset)}
}

func destination(d *envelope.Destination) *types.Destination {
	return &types.Destination{ToAddresses: d.To, CcAddresses: d.Cc, BccAddresses: d.Bcc}
}

func tags(ts []envelope.Tag) []types.MessageTag {
	if len(ts) == 0 {
		return nil
	}
	out := make([]types.MessageTag, len(ts))
	for i, t := range ts {
		out[i] = types.MessageTag{Name: aws.String(t.Name), Value: aws.String(t.Value)}
	}
	return out
}
