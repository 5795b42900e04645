package envelope_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesq/sesq/envelope"
)

// null for an optional field, at any level, reads as the field left out:
// Python's json.dumps writes None as null.
func TestNullMeansAbsent(t *testing.T) {
	msg := func(body map[string]any) map[string]any {
		return map[string]any{"subject": map[string]any{"data": "Hi", "charset": "UTF-8"}, "body": body}
	}
	text := map[string]any{"data": "Hello"}
	cases := []struct {
		name              string
		withNull, without []byte
	}{
		{"id", env(map[string]any{"id": null{}}), env(nil)},
		{"sourceArn", env(map[string]any{"sourceArn": null{}}), env(map[string]any{"sourceArn": nil})},
		{"returnPathArn", env(map[string]any{"returnPathArn": null{}}), env(map[string]any{"returnPathArn": nil})},
		{"fromArn with SendEmail", env(map[string]any{"fromArn": null{}}), env(nil)},
		{"returnPath", env(map[string]any{"returnPath": null{}}), env(map[string]any{"returnPath": nil})},
		{"replyTo", env(map[string]any{"replyTo": null{}}), env(nil)},
		{"raw with SendEmail", env(map[string]any{"raw": null{}}), env(nil)},
		{"destinations with SendEmail", env(map[string]any{"destinations": null{}}), env(nil)},
		{"template with SendEmail", env(map[string]any{"template": null{}, "templateData": null{}}), env(nil)},
		{"configurationSetName", env(map[string]any{"configurationSetName": null{}}), env(nil)},
		{"tags", env(map[string]any{"tags": null{}}), env(nil)},
		{"notAfter", env(map[string]any{"notAfter": null{}}), env(nil)},
		{"tenantName", env(map[string]any{"tenantName": null{}}), env(nil)},
		{"tenant", env(map[string]any{"tenant": null{}}), env(nil)},
		{"group", env(map[string]any{"group": null{}}), env(nil)},
		{"destination.cc and bcc", env(map[string]any{"destination": map[string]any{"to": []string{"r@example.com"}, "cc": nil, "bcc": nil}}),
			env(map[string]any{"destination": map[string]any{"to": []string{"r@example.com"}}})},
		{"destination.to", env(map[string]any{"destination": map[string]any{"to": nil, "cc": []string{"r@example.com"}}}),
			env(map[string]any{"destination": map[string]any{"cc": []string{"r@example.com"}}})},
		{"message.body.html", env(map[string]any{"message": msg(map[string]any{"text": text, "html": nil})}), env(map[string]any{"message": msg(map[string]any{"text": text})})},
		{"message.body.text", env(map[string]any{"message": msg(map[string]any{"text": nil, "html": text})}), env(map[string]any{"message": msg(map[string]any{"html": text})})},
		{"message.subject.charset", env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "Hi", "charset": nil}, "body": map[string]any{"text": text}}}),
			env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "Hi"}, "body": map[string]any{"text": text}}})},
		{"message.body.text.charset", env(map[string]any{"message": msg(map[string]any{"text": map[string]any{"data": "x", "charset": nil}})}),
			env(map[string]any{"message": msg(map[string]any{"text": map[string]any{"data": "x"}})})},
		{"message with SendTemplatedEmail", templated(map[string]any{"message": null{}}), templated(nil)},
		{"replyTo and returnPath with SendRawEmail", rawEnv("", map[string]any{"sourceArn": east, "replyTo": null{}, "returnPath": null{}}), rawEnv("", map[string]any{"sourceArn": east})},
		{"destination and message with SendRawEmail", rawEnv("", map[string]any{"sourceArn": east, "destination": null{}, "message": null{}}), rawEnv("", map[string]any{"sourceArn": east})},
		{"source and destinations with SendRawEmail", rawEnv("", map[string]any{"sourceArn": east, "source": null{}, "destinations": null{}}), rawEnv("", map[string]any{"sourceArn": east})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(c.withNull, []byte("null")) {
				t.Fatalf("test body has no null: %s", c.withNull)
			}
			a, err := envelope.Parse(c.withNull)
			if err != nil {
				t.Fatalf("with null: %v", err)
			}
			b, err := envelope.Parse(c.without)
			if err != nil {
				t.Fatalf("without the field: %v", err)
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if !bytes.Equal(ja, jb) || a.Region() != b.Region() || a.Headers() != b.Headers() {
				t.Errorf("null reads as\n%s\nleft out as\n%s", ja, jb)
			}
		})
	}
}

// null for a required field is the field missing.
func TestNullForARequiredFieldIsMissing(t *testing.T) {
	cases := []struct {
		body []byte
		want string
	}{
		{env(map[string]any{"version": null{}}), "version: missing"},
		{env(map[string]any{"action": null{}}), "action: missing"},
		{env(map[string]any{"source": null{}}), "source: required for SendEmail"},
		{env(map[string]any{"destination": null{}}), "destination: required for SendEmail"},
		{env(map[string]any{"message": null{}}), "message: required for SendEmail"},
		{env(map[string]any{"sourceArn": null{}, "returnPathArn": null{}}), "sourceArn: no identity ARN: give sourceArn or returnPathArn"},
		{env(map[string]any{"message": map[string]any{"subject": nil, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), "message.subject: required"},
		{env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x"}, "body": nil}}), "message.body: needs text, html or both"},
		{env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x"}, "body": map[string]any{"text": nil, "html": nil}}}), "message.body: needs text, html or both"},
		{env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": nil}, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), "message.subject.data: required"},
		{env(map[string]any{"tags": []map[string]any{{"name": nil, "value": "v"}}}), "tags[0].name: missing"},
		{templated(map[string]any{"template": null{}}), "template: required for SendTemplatedEmail"},
		{templated(map[string]any{"templateData": null{}}), "templateData: required for SendTemplatedEmail (a JSON object as a string, {} for none)"},
		{rawEnv("", map[string]any{"sourceArn": east, "raw": null{}}), "raw: required for SendRawEmail (base64 of the MIME message)"},
	}
	for _, c := range cases {
		_, err := envelope.Parse(c.body)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.body, err, c.want)
		}
	}
}

// Every decoding error is an *Error that names the field by its path and
// what is wrong, never its value.
func TestDecodingErrorsNameTheField(t *testing.T) {
	const v = "victim-5e1b@example.net" // must never be echoed
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"time not RFC 3339", env(map[string]any{"notAfter": "tomorrow " + v}), "notAfter: not an RFC 3339 time (like 2026-11-27T12:00:00Z)"},
		{"time with a space", env(map[string]any{"notAfter": "2030-01-01 00:00:00Z"}), "notAfter: not an RFC 3339 time (like 2026-11-27T12:00:00Z)"},
		{"time a number", env(map[string]any{"notAfter": 1893456000}), "notAfter: must be a string (an RFC 3339 time)"},
		{"version a string", env(map[string]any{"version": "1"}), "version: must be an integer"},
		{"version a fraction", env(map[string]any{"version": 1.5}), "version: must be an integer"},
		{"recipients a string", env(map[string]any{"destination": map[string]any{"to": v}}), "destination.to: must be an array of strings"},
		{"recipient an object", env(map[string]any{"destination": map[string]any{"to": []any{"r@example.com", map[string]any{"a": v}}}}), "destination.to[1]: must be a string"},
		{"destination an array", env(map[string]any{"destination": []string{v}}), "destination: must be an object"},
		{"replyTo a string", env(map[string]any{"replyTo": v}), "replyTo: must be an array of strings"},
		{"subject a string", env(map[string]any{"message": map[string]any{"subject": v}}), "message.subject: must be an object"},
		{"body data a number", env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x"}, "body": map[string]any{"html": map[string]any{"data": 7}}}}), "message.body.html.data: must be a string"},
		{"tags an object", env(map[string]any{"tags": map[string]any{"name": v}}), "tags: must be an array of objects"},
		{"tag null", env(map[string]any{"tags": []any{nil}}), "tags[0]: must be an object"},
		{"tag value a number", env(map[string]any{"tags": []any{map[string]any{"name": "a", "value": 1}}}), "tags[0].value: must be a string"},
		{"id a number", env(map[string]any{"id": 4711}), "id: must be a string"},
		{"tenantName an array", env(map[string]any{"tenantName": []string{v}}), "tenantName: must be a string"},
		{"group an object", env(map[string]any{"group": map[string]any{"to": v}}), "group: must be a string"},
		{"group in another case", env(map[string]any{"Group": "g"}), "unknown field Group (did you mean group?)"},
		{"raw a number", rawEnv("", map[string]any{"raw": 5}), "raw: must be a string"},
		{"raw not base64", rawEnv("", map[string]any{"raw": "RnJv" + v}), "raw: not base64 (at byte 10)"},
		{"raw without padding", rawEnv("", map[string]any{"sourceArn": east, "raw": strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("From: a@b.cd\r\n\r\n")), "=")}), "raw: not base64 (at byte 20)"},
		{"field in another case", env(map[string]any{"SourceArn": east}), "unknown field SourceArn (did you mean sourceArn?)"},
		{"field in upper case", env(map[string]any{"ACTION": "SendEmail", "action": nil}), "unknown field ACTION (did you mean action?)"},
		{"long s", env(map[string]any{"ſource": "sender@example.com", "source": nil}), "unknown field (did you mean source?)"},
		{"nested field in another case", env(map[string]any{"destination": map[string]any{"To": []string{v}}}), "destination: unknown field To (did you mean to?)"},
		{"tag field in another case", env(map[string]any{"tags": []any{map[string]any{"Name": "a", "value": "b"}}}), "tags[0]: unknown field Name (did you mean name?)"},
		{"unsafe unknown key", env(map[string]any{v: 1}), "unknown field"},
		{"subject without data", env(map[string]any{"message": map[string]any{"subject": map[string]any{}, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), "message.subject.data: required"},
		{"duplicate key", []byte(`{"version":1,"action":"SendEmail","action":"SendRawEmail"}`), "duplicate field action"},
		{"duplicate nested key", []byte(`{"version":1,"destination":{"to":["a@example.com"],"to":["` + v + `"]}}`), "destination: duplicate field to"},
		{"not JSON", []byte(`{"version":1,`), "not a JSON envelope: truncated JSON"},
		{"syntax error", []byte(`{"version":1 "action":"SendEmail"}`), "not a JSON envelope: syntax error at byte 14"},
		{"not an object", []byte(`["` + v + `"]`), "not a JSON envelope: the body must be a JSON object"},
		{"data after", append(env(nil), `{}`...), "not a JSON envelope: data after the JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := envelope.Parse(c.body)
			var ve *envelope.Error
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error %v (%T), want an *envelope.Error", err, err)
			}
			if err.Error() != c.want {
				t.Errorf("error\n %q\nwant\n %q", err, c.want)
			}
			if strings.Contains(err.Error(), "victim") {
				t.Errorf("error echoes the value: %v", err)
			}
		})
	}
}

// testdata/examples holds envelopes as producers write them (the SES
// guide's examples as the demo enqueues them, README's producers, Python's
// None, a tenant, line-wrapped base64): each is valid. The schema check
// (internal/testsupport/schemacheck) holds schema.json to them too.
func TestExampleEnvelopesParse(t *testing.T) {
	files, err := filepath.Glob("testdata/examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := envelope.Parse(body); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
