// Package sesapi sends envelopes with the Amazon SES v1 API (SendEmail,
// SendTemplatedEmail, SendRawEmail), passing the sending-authorization ARNs
// as the SourceArn, FromArn and ReturnPathArn parameters, on a client that
// signs for the identity's region.
package sesapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/transport"
)

// Transport is the SES v1 API transport: SendEmail, SendTemplatedEmail or
// SendRawEmail with the ARN parameters, on the identity region's client.
type Transport struct{ Mailers Mailers }

var (
	_ transport.Transport   = Transport{}
	_ transport.Describer   = Transport{}
	_ transport.CodeLabeler = Transport{}
)

// New is the transport for SESQ_TRANSPORT=api: one SES client per region,
// from the SDK configuration (AWS_ENDPOINT_URL_SES included).
func New(_ context.Context, s transport.Setup) (transport.Transport, error) {
	return Transport{Mailers: NewClients(s.AWS, s.MaxConns)}, nil
}

// Send makes the one SES call the envelope asks for. A failure is a
// *transport.Error, classified by the error table (errors.go).
func (a Transport) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	id, err := send(ctx, a.Mailers.For(e.Region()), e)
	if err != nil {
		return "", Classify(err)
	}
	return id, nil
}

// Validate refuses what the v1 API cannot carry: an SES tenant is a v2
// feature.
func (Transport) Validate(e *envelope.Envelope) error {
	if e.TenantName != "" {
		return &envelope.Error{Field: "tenantName", Reason: "SES tenants need the SES v2 API (SESQ_TRANSPORT=api-v2); the v1 API cannot carry them"}
	}
	return transport.CheckSize(e, transport.MaxMessageV1, "the SES v1 API")
}

// SendQuota is the account's MaxSendRate in the region, from GetSendQuota.
func (a Transport) SendQuota(ctx context.Context, region string) (float64, error) {
	out, err := a.Mailers.For(region).GetSendQuota(ctx, &ses.GetSendQuotaInput{})
	if err != nil {
		return 0, fmt.Errorf("get send quota in %s: %w", region, err)
	}
	return out.MaxSendRate, nil
}

// Call is the SES v1 API operation of the action: the action's own name.
func (Transport) Call(action string) transport.Call {
	return transport.Call{System: "aws-api", Service: "SES", Method: action}
}

// CodeLabel keeps the codes of the error table and those every AWS API
// answers with; any other is transport.CodeOther.
func (Transport) CodeLabel(code string) string { return transport.MetricCode(code, errorTable) }

// Close does nothing: the HTTP connections close with the process.
func (Transport) Close() error { return nil }

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

// Clients is one SES client per region, created on first use and reused,
// all sharing one pool of HTTP connections. The SDK's own retries are off:
// the worker's retry policy is the only one, so every attempt is counted.
type Clients struct {
	cfg     aws.Config
	regions transport.Regional[*ses.Client]
}

var _ Mailers = (*Clients)(nil)

// NewClients prepares regional clients from the SDK configuration (its
// credentials and endpoint settings, AWS_ENDPOINT_URL_SES included), keeping
// up to maxConns idle connections per endpoint, on the guarded HTTP client
// (internal/awsclient).
func NewClients(cfg aws.Config, maxConns int) *Clients {
	cfg = cfg.Copy()
	cfg.HTTPClient = awsclient.HTTPClient(maxConns)
	c := &Clients{cfg: cfg}
	c.regions.New = func(region string) *ses.Client {
		return ses.NewFromConfig(c.cfg, func(o *ses.Options) {
			o.Region = region
			o.Retryer = aws.NopRetryer{}
			o.RetryMaxAttempts = 0 // AWS_MAX_ATTEMPTS must not bring the SDK's retries back
		})
	}
	return c
}

// For returns the client that sends in region, signing for it.
func (c *Clients) For(region string) Mailer { return c.regions.For(region) }

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
