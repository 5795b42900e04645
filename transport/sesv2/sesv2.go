// Package sesv2 sends envelopes with the Amazon SES v2 API's one send
// operation, SendEmail, on a client that signs for the identity's region
// (SESQ_TRANSPORT=api-v2). Envelopes are written in the v1 API's words; the
// mapping to v2 is:
//
//	envelope (v1)          SES v2 SendEmail
//	action SendEmail       Content.Simple: Subject, Body.Text, Body.Html (data and charset)
//	SendTemplatedEmail     Content.Template: TemplateName, TemplateData
//	SendRawEmail           Content.Raw: Data, the message as given, its X-SES headers left to SES
//	source                 FromEmailAddress
//	sourceArn              FromEmailAddressIdentityArn (raw: unless the From ARN differs, below)
//	fromArn (raw only)     none of its own: the same ARN as sourceArn goes in sourceArn's parameter;
//	                       another is written into the message as X-SES-FROM-ARN (below)
//	returnPath             FeedbackForwardingEmailAddress
//	returnPathArn          FeedbackForwardingEmailAddressIdentityArn
//	destination            Destination: ToAddresses, CcAddresses, BccAddresses
//	destinations (raw)     Destination.BccAddresses
//	replyTo                ReplyToAddresses
//	configurationSetName   ConfigurationSetName
//	tags                   EmailTags
//	tenantName             TenantName (v2 only: the v1 transport refuses it)
//
// Sending authorization: v2 has one ARN where v1 has two. For the From
// address and the source alike it takes FromEmailAddressIdentityArn, which
// for raw content overrides the X-SES-SOURCE-ARN and X-SES-FROM-ARN headers
// (SES v2 API reference). So a raw envelope whose sourceArn and From ARN
// (fromArn, or the X-SES-FROM-ARN header) differ, or that gives fromArn
// without sourceArn, cannot be said with the parameter: its sourceArn and
// fromArn go into the message as X-SES-SOURCE-ARN and X-SES-FROM-ARN
// headers, put in front of the others (when the message does not already
// carry the same one), where SES reads them, as v1 reads its parameters,
// and which it removes before sending. Nothing else of a message is
// touched, and a DKIM signature cannot cover those headers (the envelope
// refuses one that does).
//
// Recipients of a raw message: v1's destinations is a flat list of envelope
// recipients; SES does not rewrite a raw message's headers, and of v2's
// three lists Bcc is the one that can name no header, so destinations go
// there. Without destinations, Destination is left out and SES sends to the
// message's To, Cc and Bcc headers, as v1 does.
package sesv2

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/transport"
)

// Transport is the SES v2 API transport: SendEmail on the identity
// region's client.
type Transport struct{ Mailers Mailers }

var (
	_ transport.Transport   = (*Transport)(nil)
	_ transport.Describer   = (*Transport)(nil)
	_ transport.CodeLabeler = (*Transport)(nil)
)

// New is the transport for SESQ_TRANSPORT=api-v2: one SES v2 client per
// region, from the SDK configuration (AWS_ENDPOINT_URL_SESV2 included).
func New(_ context.Context, s transport.Setup) (transport.Transport, error) {
	return &Transport{Mailers: NewClients(s.AWS, s.MaxConns)}, nil
}

// Send makes the SendEmail call the envelope asks for. A failure is a
// *transport.Error, classified by the error table (errors.go).
func (t *Transport) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	out, err := t.Mailers.For(e.Region()).SendEmail(ctx, input(e))
	if err != nil {
		return "", Classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

// Validate refuses only a message over the v2 API's 40 MB: SES v2 carries
// every envelope, tenantName included.
func (*Transport) Validate(e *envelope.Envelope) error {
	return transport.CheckSize(e, transport.MaxMessageV2, "the SES v2 API")
}

// SendQuota is the account's MaxSendRate in the region, from GetAccount.
func (t *Transport) SendQuota(ctx context.Context, region string) (float64, error) {
	out, err := t.Mailers.For(region).GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return 0, fmt.Errorf("get account in %s: %w", region, err)
	}
	if out.SendQuota == nil {
		return 0, fmt.Errorf("get account in %s: no SendQuota in the answer: %w", region, transport.ErrNoQuota)
	}
	return out.SendQuota.MaxSendRate, nil
}

// Call is SendEmail whatever the action: the v2 API has one send
// operation.
func (*Transport) Call(string) transport.Call {
	return transport.Call{System: "aws-api", Service: "SESv2", Method: "SendEmail"}
}

// CodeLabel keeps the codes of the error table and those every AWS API
// answers with; any other is transport.CodeOther.
func (*Transport) CodeLabel(code string) string { return transport.MetricCode(code, errorTable) }

// Close does nothing: the HTTP connections close with the process.
func (*Transport) Close() error { return nil }

// Mailer is the SES v2 calls the transport makes; *sesv2.Client has them.
type Mailer interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, opts ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// Mailers gives the SES v2 client of a region.
type Mailers interface {
	For(region string) Mailer
}

// Clients is one SES v2 client per region, created on first use and
// reused, all sharing one pool of HTTP connections. The SDK's own retries
// are off: the worker's retry policy is the only one, so every attempt is
// counted.
type Clients struct {
	cfg     aws.Config
	regions transport.Regional[*sesv2.Client]
}

var _ Mailers = (*Clients)(nil)

// NewClients prepares regional clients from the SDK configuration (its
// credentials and endpoint settings, AWS_ENDPOINT_URL_SESV2 included),
// keeping up to maxConns idle connections per endpoint, on the guarded HTTP
// client (internal/awsclient).
func NewClients(cfg aws.Config, maxConns int) *Clients {
	cfg = cfg.Copy()
	cfg.HTTPClient = awsclient.HTTPClient(maxConns)
	c := &Clients{cfg: cfg}
	c.regions.New = func(region string) *sesv2.Client {
		return sesv2.NewFromConfig(c.cfg, func(o *sesv2.Options) {
			o.Region = region
			o.Retryer = aws.NopRetryer{}
			o.RetryMaxAttempts = 0 // AWS_MAX_ATTEMPTS must not bring the SDK's retries back
		})
	}
	return c
}

// For returns the client that sends in region, signing for it.
func (c *Clients) For(region string) Mailer { return c.regions.For(region) }

// input is the SendEmail request for an envelope, by the mapping of the
// package documentation.
func input(e *envelope.Envelope) *sesv2.SendEmailInput {
	in := &sesv2.SendEmailInput{
		FromEmailAddress:                          optional(e.Source),
		FromEmailAddressIdentityArn:               optional(e.SourceArn),
		FeedbackForwardingEmailAddress:            optional(e.ReturnPath),
		FeedbackForwardingEmailAddressIdentityArn: optional(e.ReturnPathArn),
		ReplyToAddresses:                          e.ReplyTo,
		ConfigurationSetName:                      optional(e.ConfigurationSetName),
		EmailTags:                                 tags(e.Tags),
		TenantName:                                optional(e.TenantName),
	}
	if d := e.Destination; d != nil {
		in.Destination = &types.Destination{ToAddresses: d.To, CcAddresses: d.Cc, BccAddresses: d.Bcc}
	}
	switch e.Action {
	case envelope.SendEmail:
		msg := &types.Message{Subject: content(e.Message.Subject), Body: &types.Body{}}
		if b := e.Message.Body; b != nil {
			msg.Body.Text, msg.Body.Html = content(b.Text), content(b.HTML)
		}
		in.Content = &types.EmailContent{Simple: msg}
	case envelope.SendTemplatedEmail:
		in.Content = &types.EmailContent{Template: &types.Template{
			TemplateName: aws.String(e.Template),
			TemplateData: aws.String(e.TemplateData),
		}}
	default: // SendRawEmail; Parse admits no other action
		var data []byte
		data, in.FromEmailAddressIdentityArn = rawARNs(e)
		in.Content = &types.EmailContent{Raw: &types.RawMessage{Data: data}}
		if len(e.Destinations) > 0 {
			in.Destination = &types.Destination{BccAddresses: e.Destinations}
		}
	}
	return in
}

// rawARNs returns a raw envelope's message and FromEmailAddressIdentityArn.
// The parameter is sourceArn when it stands for the From address too: when
// the envelope names no other From ARN (by fromArn or X-SES-FROM-ARN; a
// parameter and its header agree, Parse sees to it). Otherwise sourceArn
// and fromArn are written into the message as X-SES-SOURCE-ARN and
// X-SES-FROM-ARN, where v2 reads them apart, and the parameter is left out,
// for it would override both headers.
func rawARNs(e *envelope.Envelope) ([]byte, *string) {
	h := e.Headers()
	from := e.FromArn
	if from == "" {
		from = h.FromArn
	}
	if e.SourceArn != "" && (from == "" || from == e.SourceArn) {
		return e.Raw, aws.String(e.SourceArn)
	}
	var add []string
	if e.SourceArn != "" && h.SourceArn == "" {
		add = append(add, envelope.HeaderSourceArn+": "+e.SourceArn)
	}
	if e.FromArn != "" && h.FromArn == "" {
		add = append(add, envelope.HeaderFromArn+": "+e.FromArn)
	}
	if len(add) == 0 {
		return e.Raw, nil
	}
	eol := "\r\n"
	if i := bytes.IndexByte(e.Raw, '\n'); i >= 0 && (i == 0 || e.Raw[i-1] != '\r') {
		eol = "\n" // the message's own line ends
	}
	var b bytes.Buffer
	b.Grow(len(e.Raw) + 200)
	for _, line := range add {
		b.WriteString(line)
		b.WriteString(eol)
	}
	b.Write(e.Raw)
	return b.Bytes(), nil
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
