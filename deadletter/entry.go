package deadletter

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/payload"
)

// ReasonRedrive is the reason shown for a message SQS moved to the
// dead-letter queue by its own redrive policy: it carries no sesq attributes.
const ReasonRedrive = "redrive"

// Entry is what operators filter and group dead letters by.
type Entry struct {
	MessageID string
	Reason    string // sesq-reason, or ReasonRedrive
	ErrorCode string
	Error     string
	Region    string // of the envelope's identity ARNs ("" when none could be read)
	Identity  string // the envelope's first identity ARN ("" when none)
	Tenant    string // sesq-tenant, else the envelope's tenant ("" when none could be read)
	FailedAt  time.Time
	Replays   int
	// PayloadBucket is the bucket of the S3 payload the body points at (an
	// SQS Extended Client pointer, package payload); "" when the body is
	// the envelope. The envelope is not fetched, so such a dead letter has
	// no Region or Identity, and its Tenant is sesq-tenant's.
	PayloadBucket string
}

// Describe reads a dead-lettered message: its sesq attributes and, from the
// body, the identity and region, even when the envelope is invalid.
func Describe(m types.Message) Entry {
	attr := func(k string) string {
		if v, ok := m.MessageAttributes[k]; ok {
			return aws.ToString(v.StringValue)
		}
		return ""
	}
	e := Entry{MessageID: aws.ToString(m.MessageId), Reason: attr(AttrReason), ErrorCode: attr(AttrErrorCode), Error: attr(AttrError)}
	if e.Reason == "" {
		e.Reason = ReasonRedrive
	}
	if e.ErrorCode == "-" {
		e.ErrorCode = ""
	}
	e.Replays, _ = strconv.Atoi(attr(AttrReplays))
	if t, err := time.Parse(time.RFC3339, attr(AttrFailedAt)); err == nil {
		e.FailedAt = t
	} else if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		e.FailedAt = time.UnixMilli(ms).UTC() // a redriven message: when it was first sent
	}
	if t := attr(AttrTenant); t != "-" && validTenant(t) {
		e.Tenant = t
	}
	if payload.IsPointer(aws.ToString(m.Body)) {
		if p, err := payload.Parse(aws.ToString(m.Body)); err == nil {
			e.PayloadBucket = p.Bucket
		}
		return e
	}
	body := []byte(aws.ToString(m.Body))
	if env, err := envelope.Parse(body); err == nil {
		e.Region = env.Region()
		if ids := env.IdentityARNs(); len(ids) > 0 {
			e.Identity = ids[0]
		}
		if e.Tenant == "" { // redriven by SQS, or written before sesq-tenant
			e.Tenant = env.Tenant()
		}
		return e
	}
	// An invalid envelope: take the first ARN field that parses, and the
	// tenant by the same rule as Envelope.Tenant from fields that are
	// valid tenant names.
	// A field of the wrong type (the reason the envelope is invalid, at
	// times) fails only that field: json fills the others.
	var loose struct{ SourceArn, FromArn, ReturnPathArn, Tenant, TenantName string }
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(body, &loose); err == nil || errors.As(err, &typeErr) {
		var account string
		for _, a := range []string{loose.SourceArn, loose.FromArn, loose.ReturnPathArn} {
			if p, err := envelope.ParseIdentityARN(a); err == nil {
				e.Region, e.Identity, account = p.Region, a, p.Account
				break
			}
		}
		if e.Tenant == "" {
			for _, t := range []string{loose.Tenant, loose.TenantName, account} {
				if validTenant(t) {
					e.Tenant = t
					break
				}
			}
		}
	}
	return e
}

// validTenant: 1 to 64 letters, digits, _ and -, safe to show.
func validTenant(s string) bool {
	if s == "" || len(s) > envelope.MaxTenantNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
