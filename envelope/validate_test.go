package envelope_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/envelope"
)

const (
	east = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	west = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
)

// env builds an envelope body from a base (SendEmail, the SES guide's
// example) with fields replaced (nil deletes).
func env(over map[string]any) []byte {
	e := map[string]any{
		"version": 1, "action": "SendEmail",
		"sourceArn": east, "returnPathArn": east,
		"source": "sender@example.com", "returnPath": "feedback@example.com",
		"destination": map[string]any{"to": []string{"recipient@example.com"}},
		"message": map[string]any{
			"subject": map[string]any{"data": "Amazon SES Test", "charset": "UTF-8"},
			"body":    map[string]any{"html": map[string]any{"data": "This email was sent with Amazon SES.", "charset": "UTF-8"}},
		},
	}
	return jsonWith(e, over)
}

// jsonWith marshals base with the fields of over put in: nil deletes a
// field, null{} writes it as null.
func jsonWith(base, over map[string]any) []byte {
	for k, v := range over {
		switch v.(type) {
		case nil:
			delete(base, k)
		case null:
			base[k] = nil
		default:
			base[k] = v
		}
	}
	b, err := json.Marshal(base)
	if err != nil {
		panic(err)
	}
	return b
}

// null in an override of env, rawEnv or templated writes the field as JSON
// null.
type null struct{}

func raw(headers string) string {
	return base64.StdEncoding.EncodeToString([]byte(headers + "From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: s\r\n\r\nbody\r\n"))
}

// rawEnv is a SendRawEmail envelope.
func rawEnv(headers string, over map[string]any) []byte {
	base := map[string]any{"action": "SendRawEmail", "raw": raw(headers), "source": nil, "returnPath": nil, "destination": nil, "message": nil, "sourceArn": nil, "returnPathArn": nil}
	for k, v := range over {
		base[k] = v
	}
	return env(base)
}

func templated(over map[string]any) []byte {
	base := map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "Welcome", "templateData": `{"name":"Ana"}`}
	for k, v := range over {
		base[k] = v
	}
	return env(base)
}

func TestParse(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = "r@example.com"
	}
	cases := []struct {
		name       string
		body       []byte
		wantField  string // "" = valid
		wantReason string
		wantRegion string
	}{
		// Valid envelopes.
		{name: "SES guide SendEmail", body: env(nil), wantRegion: "us-east-1"},
		{name: "sourceArn only", body: env(map[string]any{"returnPathArn": nil}), wantRegion: "us-east-1"},
		{name: "returnPathArn only", body: env(map[string]any{"sourceArn": nil}), wantRegion: "us-east-1"},
		{name: "templated", body: templated(nil), wantRegion: "us-east-1"},
		{name: "raw with parameters", body: rawEnv("", map[string]any{"sourceArn": west, "fromArn": west, "returnPathArn": west}), wantRegion: "eu-west-1"},
		{name: "raw SES guide headers", body: env(map[string]any{"action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(docRaw)), "source": nil, "returnPath": nil, "destination": nil, "message": nil, "sourceArn": nil, "returnPathArn": nil}), wantRegion: "us-east-1"},
		{name: "raw header only sets region", body: rawEnv("X-SES-FROM-ARN: "+west+"\r\n", nil), wantRegion: "eu-west-1"},
		{name: "raw header and agreeing parameter", body: rawEnv("X-SES-SOURCE-ARN: "+west+"\r\n", map[string]any{"sourceArn": west}), wantRegion: "eu-west-1"},
		{name: "raw later header instance ignored", body: rawEnv("X-SES-SOURCE-ARN: "+west+"\r\nX-SES-SOURCE-ARN: "+east+"\r\nX-SES-SOURCE-ARN: garbage\r\n", nil), wantRegion: "eu-west-1"},
		{name: "aws-cn", body: env(map[string]any{"sourceArn": "arn:aws-cn:ses:cn-north-1:123456789012:identity/example.cn", "returnPathArn": nil}), wantRegion: "cn-north-1"},
		{name: "aws-us-gov", body: env(map[string]any{"sourceArn": "arn:aws-us-gov:ses:us-gov-west-1:123456789012:identity/example.gov", "returnPathArn": nil}), wantRegion: "us-gov-west-1"},
		{name: "display name source", body: env(map[string]any{"source": "Example Shop <sender@example.com>"}), wantRegion: "us-east-1"},
		{name: "display name in windows-1252 (net/mail cannot decode it; SES takes it)", body: env(map[string]any{"source": "=?windows-1252?Q?M=FCller?= <sender@example.com>"}), wantRegion: "us-east-1"},
		{name: "display name in ISO-2022-JP", body: env(map[string]any{"source": "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= <sender@example.com>"}), wantRegion: "us-east-1"},
		{name: "tags and configuration set", body: env(map[string]any{"configurationSetName": "transactional-1", "tags": []map[string]string{{"name": "campaign", "value": "receipt_2026"}}}), wantRegion: "us-east-1"},
		{name: "notAfter", body: env(map[string]any{"notAfter": "2030-01-01T00:00:00Z"}), wantRegion: "us-east-1"},
		{name: "tenantName", body: env(map[string]any{"tenantName": "customer-42_eu"}), wantRegion: "us-east-1"},
		{name: "tenantName of 64", body: env(map[string]any{"tenantName": strings.Repeat("t", 64)}), wantRegion: "us-east-1"},
		{name: "tenant", body: env(map[string]any{"tenant": "acme_EU-1"}), wantRegion: "us-east-1"},
		{name: "tenant of 64", body: env(map[string]any{"tenant": strings.Repeat("t", 64)}), wantRegion: "us-east-1"},
		{name: "tenantName empty is none", body: env(map[string]any{"tenantName": ""}), wantRegion: "us-east-1"},
		{name: "group an address", body: env(map[string]any{"group": "recipient@example.com"}), wantRegion: "us-east-1"},
		{name: "group of 128, all punctuation", body: env(map[string]any{"group": strings.Repeat("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 4)}), wantRegion: "us-east-1"},
		{name: "group empty is none", body: env(map[string]any{"group": ""}), wantRegion: "us-east-1"},

		// Decoding.
		{name: "empty", body: []byte(""), wantReason: "empty body"},
		{name: "not JSON", body: []byte("hello"), wantReason: "not a JSON envelope"},
		{name: "JSON array", body: []byte("[1]"), wantReason: "must be a JSON object"},
		{name: "truncated", body: []byte(`{"version":1,`), wantReason: "not a JSON envelope"},
		{name: "trailing data", body: append(env(nil), []byte(` {}`)...), wantReason: "data after"},
		{name: "unknown field", body: env(map[string]any{"sourceIdentity": east}), wantReason: "unknown field sourceIdentity"},
		{name: "wrong type", body: env(map[string]any{"version": "1"}), wantField: "version", wantReason: "must be an integer"},
		{name: "raw not base64", body: rawEnv("", map[string]any{"raw": "%%%"}), wantField: "raw", wantReason: "not base64"},
		{name: "version missing", body: env(map[string]any{"version": nil}), wantField: "version"},
		{name: "version 2", body: env(map[string]any{"version": 2}), wantField: "version"},
		{name: "action missing", body: env(map[string]any{"action": nil}), wantField: "action"},
		{name: "action unknown", body: env(map[string]any{"action": "SendBulkEmail"}), wantField: "action"},

		// Rule 1: one region.
		{name: "rule 1: parameters in two regions", body: env(map[string]any{"returnPathArn": west}), wantField: "returnPathArn", wantReason: "one region"},
		{name: "rule 1: header and parameter in two regions", body: rawEnv("X-SES-FROM-ARN: "+west+"\r\n", map[string]any{"sourceArn": east}), wantField: "raw: X-SES-FROM-ARN header", wantReason: "one region"},
		{name: "rule 1: bad ARN", body: env(map[string]any{"sourceArn": "arn:aws:ses:us-east-1:123:identity/x"}), wantField: "sourceArn", wantReason: "12 digits"},
		{name: "rule 1: bad header ARN", body: rawEnv("X-SES-SOURCE-ARN: example.com\r\n", nil), wantField: "raw: X-SES-SOURCE-ARN header", wantReason: "not an ARN"},
		// Rule 2: SendEmail and SendTemplatedEmail take no fromArn and no X-headers.
		{name: "rule 2: fromArn with SendEmail", body: env(map[string]any{"fromArn": east}), wantField: "fromArn"},
		{name: "rule 2: fromArn with SendTemplatedEmail", body: templated(map[string]any{"fromArn": east}), wantField: "fromArn"},
		{name: "rule 2: raw with SendEmail", body: env(map[string]any{"raw": raw("X-SES-SOURCE-ARN: " + east + "\r\n")}), wantField: "raw"},
		// Rule 3: parameter and header agree.
		{name: "rule 3: parameter disagrees with header", body: rawEnv("X-SES-RETURN-PATH-ARN: "+west+"\r\n", map[string]any{"returnPathArn": "arn:aws:ses:eu-west-1:123456789012:identity/other.example"}), wantField: "returnPathArn", wantReason: "disagrees"},
		// Rule 4: at least one ARN.
		{name: "rule 4: SendEmail without ARN", body: env(map[string]any{"sourceArn": nil, "returnPathArn": nil}), wantField: "sourceArn", wantReason: "no identity ARN"},
		{name: "rule 4: raw without ARN", body: rawEnv("", nil), wantField: "sourceArn", wantReason: "no identity ARN"},
		// Rule 5: DKIM must not sign X-SES headers.
		{name: "rule 5: DKIM signs X-SES header", body: rawEnv("DKIM-Signature: v=1; d=example.com; h=From:X-SES-SOURCE-ARN; b=x\r\nX-SES-SOURCE-ARN: "+east+"\r\n", nil), wantField: "raw", wantReason: "DKIM"},

		// Fields per action.
		{name: "SendEmail without source", body: env(map[string]any{"source": nil}), wantField: "source"},
		{name: "SendEmail without destination", body: env(map[string]any{"destination": nil}), wantField: "destination"},
		{name: "SendEmail empty destination", body: env(map[string]any{"destination": map[string]any{}}), wantField: "destination", wantReason: "no recipient"},
		{name: "SendEmail 51 recipients", body: env(map[string]any{"destination": map[string]any{"to": many}}), wantField: "destination", wantReason: "at most 50"},
		{name: "SendEmail without message", body: env(map[string]any{"message": nil}), wantField: "message"},
		{name: "SendEmail without subject", body: env(map[string]any{"message": map[string]any{"body": map[string]any{"text": map[string]any{"data": "x"}}}}), wantField: "message.subject"},
		{name: "SendEmail without body", body: env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x"}, "body": map[string]any{}}}), wantField: "message.body"},
		{name: "SendEmail subject with line break", body: env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x\r\nBcc: a@b.c"}, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), wantField: "message.subject.data"},
		{name: "SendEmail with template", body: env(map[string]any{"template": "x"}), wantField: "template"},
		{name: "SendEmail with destinations", body: env(map[string]any{"destinations": []string{"a@example.com"}}), wantField: "destinations"},
		{name: "templated without template", body: templated(map[string]any{"template": nil}), wantField: "template"},
		{name: "templated without data", body: templated(map[string]any{"templateData": nil}), wantField: "templateData"},
		{name: "templated data not JSON", body: templated(map[string]any{"templateData": "name=Ana"}), wantField: "templateData"},
		{name: "templated data not an object", body: templated(map[string]any{"templateData": "[1]"}), wantField: "templateData"},
		{name: "templated with message", body: templated(map[string]any{"message": map[string]any{}}), wantField: "message"},
		{name: "raw without raw", body: rawEnv("", map[string]any{"raw": nil, "sourceArn": east}), wantField: "raw"},
		{name: "raw with destination", body: rawEnv("", map[string]any{"sourceArn": east, "destination": map[string]any{"to": []string{"a@example.com"}}}), wantField: "destination"},
		{name: "raw with replyTo", body: rawEnv("", map[string]any{"sourceArn": east, "replyTo": []string{"a@example.com"}}), wantField: "replyTo"},
		{name: "raw with returnPath", body: rawEnv("", map[string]any{"sourceArn": east, "returnPath": "a@example.com"}), wantField: "returnPath"},
		{name: "raw without headers", body: rawEnv("", map[string]any{"sourceArn": east, "raw": base64.StdEncoding.EncodeToString([]byte("\r\nbody"))}), wantField: "raw", wantReason: "no header section"},
		{name: "raw without From or source", body: rawEnv("", map[string]any{"sourceArn": east, "raw": base64.StdEncoding.EncodeToString([]byte("To: a@example.com\r\n\r\nbody"))}), wantField: "raw", wantReason: "From"},
		{name: "raw 51 destinations", body: rawEnv("", map[string]any{"sourceArn": east, "destinations": many}), wantField: "destinations"},

		// Addresses and names.
		{name: "source not an address", body: env(map[string]any{"source": "sender"}), wantField: "source"},
		{name: "source with CRLF", body: env(map[string]any{"source": "a@example.com\r\nBcc: v@example.com"}), wantField: "source"},
		{name: "unicode domain", body: env(map[string]any{"destination": map[string]any{"to": []string{"a@bücher.example"}}}), wantField: "destination.to[0]", wantReason: "punycode"},
		{name: "long local part", body: env(map[string]any{"destination": map[string]any{"cc": []string{strings.Repeat("a", 65) + "@example.com"}}}), wantField: "destination.cc[0]", wantReason: "64"},
		{name: "returnPath with name", body: env(map[string]any{"returnPath": "Bounces <b@example.com>"}), wantField: "returnPath"},
		{name: "replyTo bad", body: env(map[string]any{"replyTo": []string{"ok@example.com", "nope"}}), wantField: "replyTo[1]"},
		{name: "tag name with space", body: env(map[string]any{"tags": []map[string]string{{"name": "a b", "value": "c"}}}), wantField: "tags[0].name"},
		{name: "tag value too long", body: env(map[string]any{"tags": []map[string]string{{"name": "a", "value": strings.Repeat("v", 257)}}}), wantField: "tags[0].value"},
		{name: "tag value empty", body: env(map[string]any{"tags": []map[string]string{{"name": "a", "value": ""}}}), wantField: "tags[0].value"},
		{name: "configuration set too long", body: env(map[string]any{"configurationSetName": strings.Repeat("c", 65)}), wantField: "configurationSetName"},
		{name: "configuration set bad char", body: env(map[string]any{"configurationSetName": "a.b"}), wantField: "configurationSetName"},
		{name: "tenantName too long", body: env(map[string]any{"tenantName": strings.Repeat("t", 65)}), wantField: "tenantName", wantReason: "longer than 64"},
		{name: "tenantName with a space", body: env(map[string]any{"tenantName": "customer 42"}), wantField: "tenantName", wantReason: "may contain only letters, digits, _ and -"},
		{name: "tenantName unicode", body: env(map[string]any{"tenantName": "kunde-ä"}), wantField: "tenantName", wantReason: "may contain only"},
		{name: "tenant too long", body: env(map[string]any{"tenant": strings.Repeat("t", 65)}), wantField: "tenant", wantReason: "longer than 64"},
		{name: "tenant with a dot", body: env(map[string]any{"tenant": "acme.eu"}), wantField: "tenant", wantReason: "may contain only letters, digits, _ and -"},
		{name: "tenant with a line break", body: env(map[string]any{"tenant": "acme\r\nX: y"}), wantField: "tenant", wantReason: "may contain only"},
		{name: "tenant a number", body: env(map[string]any{"tenant": 42}), wantField: "tenant", wantReason: "must be a string"},
		{name: "group too long", body: env(map[string]any{"group": strings.Repeat("g", 129)}), wantField: "group", wantReason: "longer than 128"},
		{name: "group with a space", body: env(map[string]any{"group": "a b"}), wantField: "group", wantReason: "may contain only letters, digits and punctuation"},
		{name: "group with a line break", body: env(map[string]any{"group": "a\r\nX: y"}), wantField: "group", wantReason: "may contain only"},
		{name: "group not ASCII", body: env(map[string]any{"group": "empfänger"}), wantField: "group", wantReason: "may contain only"},
		{name: "group DEL", body: env(map[string]any{"group": "a\u007f"}), wantField: "group", wantReason: "may contain only"},
		{name: "group a number", body: env(map[string]any{"group": 42}), wantField: "group", wantReason: "must be a string"},
		{name: "id with newline", body: env(map[string]any{"id": "a\nb"}), wantField: "id"},
		{name: "charset injection", body: env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x", "charset": "utf-8; x=\"y\""}, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), wantField: "message.subject.charset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := envelope.Parse(c.body)
			if c.wantField == "" && c.wantReason == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if e.Region() != c.wantRegion {
					t.Errorf("Region() = %q, want %q", e.Region(), c.wantRegion)
				}
				return
			}
			var ve *envelope.Error
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v (%T), want an *envelope.Error", err, err)
			}
			if ve.Field != c.wantField {
				t.Errorf("field = %q, want %q (error: %v)", ve.Field, c.wantField, err)
			}
			if !strings.Contains(ve.Error(), c.wantReason) {
				t.Errorf("error %q does not say %q", ve.Error(), c.wantReason)
			}
		})
	}
}

// Errors name the field, never its value: they are logged and attached to
// dead-lettered messages.
func TestParseErrorsDoNotEchoValues(t *testing.T) {
	secret := "victim-7f3a@example.com"
	bodies := [][]byte{
		env(map[string]any{"source": secret + "\r\n"}),
		env(map[string]any{"destination": map[string]any{"to": []string{secret + " x"}}}),
		env(map[string]any{"sourceArn": "arn:aws:ses:us-east-1:1:identity/" + secret}),
		env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": secret + "\n"}, "body": map[string]any{"text": map[string]any{"data": "x"}}}}),
		[]byte(`{"version":1,"action":"SendEmail","` + secret + `":1}`),
		[]byte(`{"version":1,"source":` + secret + `}`),
	}
	for _, b := range bodies {
		_, err := envelope.Parse(b)
		if err == nil {
			t.Fatalf("Parse(%s) succeeded", b)
		}
		if strings.Contains(err.Error(), "victim-7f3a") {
			t.Errorf("error echoes the value: %v", err)
		}
	}
}

func TestKeyAndIdentities(t *testing.T) {
	a, err := envelope.Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := envelope.Parse(append(env(nil), ' '))
	if !strings.HasPrefix(a.Key(), "sha256:") || a.Key() == b.Key() {
		t.Errorf("keys %q and %q: want SHA-256 of each body", a.Key(), b.Key())
	}
	c, _ := envelope.Parse(env(map[string]any{"id": "order-4711-receipt"}))
	if c.Key() != "order-4711-receipt" {
		t.Errorf("Key() = %q, want the id", c.Key())
	}
	if got := a.IdentityARNs(); len(got) != 1 || got[0] != east {
		t.Errorf("IdentityARNs() = %v, want [%s]", got, east)
	}
	r, err := envelope.Parse(rawEnv("X-SES-FROM-ARN: "+west+"\r\n", map[string]any{"sourceArn": west, "returnPathArn": "arn:aws:ses:eu-west-1:123456789012:identity/bounce.example"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.IdentityARNs(); len(got) != 2 {
		t.Errorf("IdentityARNs() = %v, want the two distinct ARNs", got)
	}
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	x, _ := envelope.Parse(env(map[string]any{"notAfter": past}))
	if !x.Expired(time.Now()) || a.Expired(time.Now()) {
		t.Errorf("Expired wrong")
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{{"SendEmail", env(nil)}, {"SendRawEmail", rawEnv("X-SES-SOURCE-ARN: "+east+"\r\n", nil)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, err := envelope.Parse(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Tenant: the tenant field, else tenantName, else the account of the first
// identity ARN (parameters before X-SES headers).
func TestTenant(t *testing.T) {
	other := "arn:aws:ses:us-east-1:999999999999:identity/other.example"
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"tenant", env(map[string]any{"tenant": "acme", "tenantName": "ses-tenant"}), "acme"},
		{"tenantName when no tenant", env(map[string]any{"tenantName": "ses-tenant"}), "ses-tenant"},
		{"empty tenant is none", env(map[string]any{"tenant": "", "tenantName": "ses-tenant"}), "ses-tenant"},
		{"null tenant is none", env(map[string]any{"tenant": null{}}), "123456789012"},
		{"account of sourceArn", env(map[string]any{"sourceArn": other}), "999999999999"},
		{"account of returnPathArn without sourceArn", env(map[string]any{"sourceArn": nil, "returnPathArn": other}), "999999999999"},
		{"raw: fromArn parameter", rawEnv("", map[string]any{"fromArn": "arn:aws:ses:us-east-1:111111111111:identity/example.com"}), "111111111111"},
		{"raw: X-SES header only", rawEnv("X-SES-SOURCE-ARN: "+other+"\r\n", nil), "999999999999"},
		{"raw: tenant over headers", rawEnv("X-SES-SOURCE-ARN: "+other+"\r\n", map[string]any{"tenant": "acme"}), "acme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := envelope.Parse(c.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := e.Tenant(); got != c.want {
				t.Errorf("Tenant() = %q, want %q", got, c.want)
			}
		})
	}
	// Built by a producer, not parsed: the parameters still give the account.
	if got := (&envelope.Envelope{ReturnPathArn: other}).Tenant(); got != "999999999999" {
		t.Errorf("unparsed envelope: Tenant() = %q", got)
	}
	if got := (&envelope.Envelope{}).Tenant(); got != "" {
		t.Errorf("no ARN: Tenant() = %q, want empty", got)
	}
}

// GroupID: the group field, else the tenant by Tenant's rule.
func TestGroupID(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"group", env(map[string]any{"group": "recipient@example.com", "tenant": "acme"}), "recipient@example.com"},
		{"tenant when no group", env(map[string]any{"tenant": "acme"}), "acme"},
		{"empty group is none", env(map[string]any{"group": "", "tenantName": "ses-tenant"}), "ses-tenant"},
		{"null group is none", env(map[string]any{"group": null{}}), "123456789012"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := envelope.Parse(c.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := e.GroupID(); got != c.want {
				t.Errorf("GroupID() = %q, want %q", got, c.want)
			}
		})
	}
}

// DeduplicationID is the hex SHA-256 of the key: of the id when given,
// else of "sha256:" and the body's hex SHA-256.
func TestDeduplicationID(t *testing.T) {
	hexSum := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	long := strings.Repeat("ü", 256) // 512 bytes: a valid id SQS would not take
	noID := env(nil)
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"id", env(map[string]any{"id": "order-4711"}), "173d0ddbff034193face7ce60d3f58b416940a4c29306f9af512e4e8f2bf61e3"},
		{"id of 512 bytes, not ASCII", env(map[string]any{"id": long}), hexSum(long)},
		{"no id: the body's hash", noID, hexSum("sha256:" + hexSum(string(noID)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := envelope.Parse(c.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := e.DeduplicationID(); got != c.want {
				t.Errorf("DeduplicationID() = %q, want %q", got, c.want)
			}
		})
	}
	if got := (&envelope.Envelope{ID: "order-4711"}).DeduplicationID(); got != "" {
		t.Errorf("not from Parse: DeduplicationID() = %q, want empty", got)
	}
}
