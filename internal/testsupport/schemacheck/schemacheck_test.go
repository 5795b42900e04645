// Package schemacheck_test holds envelope/schema.json to envelope.Parse with
// an independent validator: Ajv (JSON Schema draft 2020-12, strict mode),
// run by check.mjs under Node from localstack/node_modules (`make deps`).
//
// Producers in other languages validate against the schema; sesq decides
// with Parse. Where they differ, a producer's check passes and sesq
// dead-letters the envelope, or the other way round. So: every example
// envelope (README's, envelope/testdata/examples) and every contract case
// below is accepted by both or refused by both, and of the hostile corpus
// (envelope/testdata/hostile.jsonl, all refused by Parse) the schema accepts
// exactly the cases listed in schemaCannotRefuse, each for a reason no JSON
// Schema can express.
package schemacheck_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sesq/sesq/envelope"
)

// root is the module root, from this package's folder.
const root = "../../.."

// schemaCannotRefuse lists the hostile cases (by name) that schema.json
// accepts, with why a JSON Schema cannot refuse them. The test fails when
// the schema accepts a case not listed here, or refuses one listed: an
// improvement to the schema removes its line.
var schemaCannotRefuse = map[string]string{
	"header injection via field name in raw":   "raw's header section (a space in a field name) is inside base64, which a schema cannot decode",
	"bare CR in raw header":                    "raw's header section (a bare CR) is inside base64",
	"raw without headers":                      "raw's header section (missing) is inside base64",
	"raw line without colon":                   "raw's header section (a line that is no field) is inside base64",
	"raw continuation first":                   "raw's header section (a continuation line first) is inside base64",
	"raw without From or source":               "raw's From header is inside base64, so the schema cannot tell when source must stand in for it",
	"raw empty X-SES header":                   "X-SES-*-ARN headers are inside raw's base64",
	"DKIM signs X-SES header":                  "the DKIM-Signature header is inside raw's base64",
	"header ARN disagrees with parameter":      "an X-SES header ARN against its parameter: the header is inside raw's base64",
	"Latin-1 bytes in a raw Subject":           "raw's header bytes (not UTF-8) are inside base64",
	"invalid UTF-8 in a raw From display name": "raw's header bytes (not UTF-8) are inside base64",
	"duplicated sourceArn hides one":           "duplicate keys: JSON Schema sees the parsed object, where the last one won",
	"duplicated nested key":                    "duplicate keys: JSON Schema sees the parsed object, where the last one won",
	"ARNs in two regions":                      "one region for all ARNs: a schema cannot compare two values",
	"local part over 64 octets":                "the local part's length needs address parsing (display names, quoted local parts)",
	"returnPath with display name":             "a display name against a bare address needs RFC 5322 parsing (a quoted local part may hold < and >)",
	"version written 1.0":                      "1.0 is the integer 1 to JSON Schema, which sees numbers, not how they are written; sesq reads an integer",
}

// contractCases are envelopes near the edges of the contract, each accepted
// by both or refused by both: null and "" for absent fields, exact names,
// each action's required and forbidden fields, the patterns.
func contractCases(t *testing.T) []doc {
	t.Helper()
	read := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join(root, "envelope/testdata/examples", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send, tmpl, raw := read("guide-sendemail"), read("readme-cli-templated"), read("readme-python-raw")
	// with marshals base with over put in (a missing key value deletes).
	with := func(base map[string]any, over map[string]any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range over {
			if v == missing {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	arn := func(partition, region string) string {
		return "arn:" + partition + ":ses:" + region + ":123456789012:identity/example.com"
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	msg := "From: sender@example.com\r\nTo: r@example.com\r\nSubject: s\r\n\r\nbody\r\n"
	padded := b64(msg + strings.Repeat("x", 3-len(msg)%3+1)) // ends in ==
	subject := func(data any) map[string]any {
		return map[string]any{"subject": map[string]any{"data": data}, "body": map[string]any{"text": map[string]any{"data": "x"}}}
	}
	fifty := make([]string, 50)
	for i := range fifty {
		fifty[i] = fmt.Sprintf("r%d@example.com", i)
	}
	ok, bad := true, false
	cases := []struct {
		name  string
		body  string
		valid bool
	}{
		{"empty strings for absent ARNs", with(send, map[string]any{"sourceArn": "", "fromArn": ""}), ok},
		{"empty strings for absent fields", with(send, map[string]any{"id": "", "returnPath": "", "template": "", "templateData": "", "configurationSetName": "", "tenantName": "", "tenant": "", "group": ""}), ok},
		{"raw: empty strings for absent fields", with(raw, map[string]any{"source": "", "returnPath": "", "template": "", "templateData": ""}), ok},
		{"raw: null for forbidden fields", with(raw, map[string]any{"destination": nil, "message": nil, "replyTo": nil, "returnPath": nil, "template": nil}), ok},
		{"templated: null for forbidden fields", with(tmpl, map[string]any{"message": nil, "raw": nil, "destinations": nil, "fromArn": nil}), ok},
		{"a key written with an escape", strings.Replace(with(send, nil), `"sourceArn"`, `"source\u0041rn"`, 1), ok},
		{"bcc only", with(send, map[string]any{"destination": map[string]any{"to": []string{}, "bcc": []string{"b@example.com"}}}), ok},
		{"50 recipients in one list", with(send, map[string]any{"destination": map[string]any{"to": fifty}}), ok},
		{"display names", with(send, map[string]any{"source": `"Shop, Inc." <s@example.com>`, "replyTo": []string{"Help <h@example.com>"}}), ok},
		{"aws-cn", with(send, map[string]any{"sourceArn": arn("aws-cn", "cn-northwest-1"), "returnPathArn": missing}), ok},
		{"aws-us-gov two-word region", with(send, map[string]any{"sourceArn": arn("aws-us-gov", "us-gov-1"), "returnPathArn": missing}), ok},
		{"region of 32 characters", with(send, map[string]any{"sourceArn": arn("aws", "ab-"+strings.Repeat("c", 27)+"-1"), "returnPathArn": missing}), ok},
		{"identity with colon and at", with(send, map[string]any{"sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/a:b@example.com", "returnPathArn": missing}), ok},
		{"notAfter with fraction and offset", with(send, map[string]any{"notAfter": "2024-02-29T23:59:59.999-23:59"}), ok},
		{"templateData with white space", with(tmpl, map[string]any{"templateData": "\r\n {\"a\": [1]} \t"}), ok},
		{"empty lists", with(send, map[string]any{"replyTo": []string{}, "tags": []string{}}), ok},
		{"raw: empty destinations", with(raw, map[string]any{"destinations": []string{}}), ok},
		{"raw: base64 with CRLF", with(raw, map[string]any{"raw": b64(msg)[:8] + "\r\n" + b64(msg)[8:] + "\r\n"}), ok},
		{"raw: line break between padding", with(raw, map[string]any{"raw": padded[:len(padded)-1] + "\n="}), ok},
		{"empty subject", with(send, map[string]any{"message": subject("")}), ok},
		{"charset any name", with(send, map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x", "charset": "ISO-8859-1"}, "body": map[string]any{"html": map[string]any{"data": "x", "charset": ""}}}}), ok},
		{"tenantName of 64", with(send, map[string]any{"tenantName": strings.Repeat("T_-9", 16)}), ok},
		{"tenant of 64", with(send, map[string]any{"tenant": strings.Repeat("T_-9", 16)}), ok},
		{"tenant and tenantName", with(send, map[string]any{"tenant": "acme", "tenantName": "ses-1"}), ok},
		{"group of 128, all punctuation", with(send, map[string]any{"group": strings.Repeat("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 4)}), ok},
		{"group an address", with(send, map[string]any{"group": "recipient@example.com"}), ok},

		{"field name in another case", with(send, map[string]any{"Source": "s@example.com", "source": missing}), bad},
		{"Version", with(send, map[string]any{"Version": 1, "version": missing}), bad},
		{"long s", with(send, map[string]any{"ſource": "s@example.com", "source": missing}), bad},
		{"nested name in another case", with(send, map[string]any{"destination": map[string]any{"To": []string{"r@example.com"}}}), bad},
		{"version 2", with(send, map[string]any{"version": 2}), bad},
		{"version a string", with(send, map[string]any{"version": "1"}), bad},
		{"version null", with(send, map[string]any{"version": nil}), bad},
		{"action null", with(send, map[string]any{"action": nil}), bad},
		{"source empty", with(send, map[string]any{"source": ""}), bad},
		{"source null", with(send, map[string]any{"source": nil}), bad},
		{"no ARN", with(send, map[string]any{"sourceArn": missing, "returnPathArn": ""}), bad},
		{"templated: no ARN", with(tmpl, map[string]any{"sourceArn": nil}), bad},
		{"fromArn with SendEmail", with(send, map[string]any{"fromArn": arn("aws", "us-east-1")}), bad},
		{"raw empty with SendEmail", with(send, map[string]any{"raw": ""}), bad},
		{"empty destinations with SendEmail", with(send, map[string]any{"destinations": []string{}}), bad},
		{"templateData with SendEmail", with(send, map[string]any{"templateData": "{}"}), bad},
		{"templated: empty message", with(tmpl, map[string]any{"message": map[string]any{}}), bad},
		{"templated: template empty", with(tmpl, map[string]any{"template": ""}), bad},
		{"templated: templateData empty", with(tmpl, map[string]any{"templateData": ""}), bad},
		{"templated: templateData an array", with(tmpl, map[string]any{"templateData": "[{}]"}), bad},
		{"raw: empty replyTo", with(raw, map[string]any{"replyTo": []string{}}), bad},
		{"raw: returnPath", with(raw, map[string]any{"returnPath": "b@example.com"}), bad},
		{"raw: template", with(raw, map[string]any{"template": "T"}), bad},
		{"raw: empty destination", with(raw, map[string]any{"destination": map[string]any{}}), bad},
		{"raw: raw null", with(raw, map[string]any{"raw": nil}), bad},
		{"raw: raw only line breaks", with(raw, map[string]any{"raw": "\r\n"}), bad},
		{"raw: base64 without padding", with(raw, map[string]any{"raw": strings.TrimRight(padded, "=")}), bad},
		{"raw: base64 with a space", with(raw, map[string]any{"raw": b64(msg)[:8] + " " + b64(msg)[8:]}), bad},
		{"raw: base64 URL alphabet", with(raw, map[string]any{"raw": base64.URLEncoding.EncodeToString([]byte(msg + "\xfb\xff"))}), bad},
		{"raw: data after padding", with(raw, map[string]any{"raw": padded + b64(msg)}), bad},
		{"destination empty", with(send, map[string]any{"destination": map[string]any{}}), bad},
		{"destination of empty lists", with(send, map[string]any{"destination": map[string]any{"to": []string{}, "cc": nil}}), bad},
		{"51 in one list", with(send, map[string]any{"destination": map[string]any{"cc": append(fifty, "x@example.com")}}), bad},
		{"body of nulls", with(send, map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x"}, "body": map[string]any{"text": nil, "html": nil}}}), bad},
		{"subject null", with(send, map[string]any{"message": map[string]any{"subject": nil, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), bad},
		{"subject data null", with(send, map[string]any{"message": subject(nil)}), bad},
		{"subject with LF", with(send, map[string]any{"message": subject("a\nb")}), bad},
		{"charset with a semicolon", with(send, map[string]any{"message": map[string]any{"subject": map[string]any{"data": "x", "charset": "utf-8;"}, "body": map[string]any{"text": map[string]any{"data": "x"}}}}), bad},
		{"address without domain", with(send, map[string]any{"replyTo": []string{"a@"}}), bad},
		{"address with tab", with(send, map[string]any{"source": "a@example.com\t"}), bad},
		{"address empty in a list", with(send, map[string]any{"destination": map[string]any{"to": []string{""}}}), bad},
		{"recipient null", with(send, map[string]any{"destination": map[string]any{"to": []any{nil}}}), bad},
		{"ARN partition for another region", with(send, map[string]any{"sourceArn": arn("aws", "cn-north-1")}), bad},
		{"ARN region of 33 characters", with(send, map[string]any{"sourceArn": arn("aws", "ab-"+strings.Repeat("c", 28)+"-1")}), bad},
		{"ARN region of two words", with(send, map[string]any{"sourceArn": arn("aws", "useast-1")}), bad},
		{"ARN identity with slash", with(send, map[string]any{"sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/a/b"}), bad},
		{"id with a tab", with(send, map[string]any{"id": "a\tb"}), bad},
		{"template of 257", with(tmpl, map[string]any{"template": strings.Repeat("t", 257)}), bad},
		{"configurationSetName of 65", with(send, map[string]any{"configurationSetName": strings.Repeat("c", 65)}), bad},
		{"tenantName of 65", with(send, map[string]any{"tenantName": strings.Repeat("t", 65)}), bad},
		{"tenantName with a dot", with(send, map[string]any{"tenantName": "a.b"}), bad},
		{"tenant of 65", with(send, map[string]any{"tenant": strings.Repeat("t", 65)}), bad},
		{"tenant with a dot", with(send, map[string]any{"tenant": "a.b"}), bad},
		{"tenant a number", with(send, map[string]any{"tenant": 42}), bad},
		{"group of 129", with(send, map[string]any{"group": strings.Repeat("g", 129)}), bad},
		{"group with a space", with(send, map[string]any{"group": "a b"}), bad},
		{"group with a tab", with(send, map[string]any{"group": "a\tb"}), bad},
		{"group not ASCII", with(send, map[string]any{"group": "empfänger"}), bad},
		{"group a number", with(send, map[string]any{"group": 42}), bad},
		{"tag value empty", with(send, map[string]any{"tags": []map[string]string{{"name": "a", "value": ""}}}), bad},
		{"tag null", with(send, map[string]any{"tags": []any{nil}}), bad},
		{"51 tags", with(send, map[string]any{"tags": slices.Repeat([]map[string]string{{"name": "a", "value": "b"}}, 51)}), bad},
		{"notAfter lower-case t", with(send, map[string]any{"notAfter": "2030-01-01t00:00:00Z"}), bad},
		{"notAfter with a space", with(send, map[string]any{"notAfter": "2030-01-01 00:00:00Z"}), bad},
		{"notAfter offset without colon", with(send, map[string]any{"notAfter": "2030-01-01T00:00:00+0100"}), bad},
		{"notAfter offset +24:00", with(send, map[string]any{"notAfter": "2030-01-01T00:00:00+24:00"}), bad},
		{"notAfter comma fraction", with(send, map[string]any{"notAfter": "2030-01-01T00:00:00,5Z"}), bad},
		{"notAfter leap second", with(send, map[string]any{"notAfter": "2016-12-31T23:59:60Z"}), bad},
		{"notAfter February 29 of 2026", with(send, map[string]any{"notAfter": "2026-02-29T00:00:00Z"}), bad},
		{"notAfter empty", with(send, map[string]any{"notAfter": ""}), bad},
		{"not an object", `[` + with(send, nil) + `]`, bad},
	}
	var out []doc
	for _, c := range cases {
		out = append(out, doc{name: "contract: " + c.name, body: []byte(c.body), want: &c.valid})
	}
	return out
}

// missing in an override of contractCases deletes the field.
var missing = &struct{ missing bool }{}

// doc is one document for both validators.
type doc struct {
	name string
	body []byte
	want *bool // the verdict both must give, or nil: they must agree
}

func TestSchemaAgreesWithParse(t *testing.T) {
	node := findValidator(t)

	var docs []doc
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	valid := true
	examples := readmeExamples(readme)
	t.Logf("%d JSON envelopes in README.md", len(examples))
	for i, b := range examples {
		docs = append(docs, doc{name: fmt.Sprintf("README example %d", i+1), body: b, want: &valid})
	}
	files, _ := filepath.Glob(filepath.Join(root, "envelope/testdata/examples/*.json"))
	if len(files) == 0 {
		t.Fatal("no envelope/testdata/examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc{name: "example " + filepath.Base(f), body: b, want: &valid})
	}
	docs = append(docs, contractCases(t)...)
	hostile := hostileCases(t)
	docs = append(docs, hostile...)

	verdicts := runValidator(t, node, docs)
	var accepted []string
	for i, d := range docs {
		_, perr := envelope.Parse(d.body)
		parsed, ajv := perr == nil, verdicts[i]
		switch {
		case strings.HasPrefix(d.name, "hostile: "):
			name := strings.TrimPrefix(d.name, "hostile: ")
			if parsed {
				t.Errorf("%s: Parse accepts a hostile envelope", d.name)
			}
			if ajv.valid {
				accepted = append(accepted, name)
				if _, listed := schemaCannotRefuse[name]; !listed {
					t.Errorf("%s: the schema accepts it (Parse: %v); refuse it in schema.json, or list it in schemaCannotRefuse with the reason a schema cannot", d.name, perr)
				}
			} else if _, listed := schemaCannotRefuse[name]; listed {
				t.Errorf("%s: the schema now refuses it (%s): remove it from schemaCannotRefuse", d.name, ajv.detail)
			}
		case parsed != ajv.valid:
			t.Errorf("%s: Parse says %v, the schema %v (%s)\n%s", d.name, errString(perr), verdict(ajv.valid), ajv.detail, d.body)
		case d.want != nil && parsed != *d.want:
			t.Errorf("%s: both say %s, want %s (Parse: %v)", d.name, verdict(parsed), verdict(*d.want), perr)
		}
	}
	for name, reason := range schemaCannotRefuse {
		if reason == "" {
			t.Errorf("schemaCannotRefuse[%q]: no reason", name)
		}
		if !slices.ContainsFunc(hostile, func(d doc) bool { return d.name == "hostile: "+name }) {
			t.Errorf("schemaCannotRefuse[%q]: no such hostile case", name)
		}
	}
	t.Logf("the schema accepts %d of %d hostile envelopes (all refused by Parse): %s", len(accepted), len(hostile), strings.Join(accepted, "; "))
}

func verdict(valid bool) string {
	if valid {
		return "valid"
	}
	return "invalid"
}

func errString(err error) string {
	if err == nil {
		return "valid"
	}
	return "invalid (" + err.Error() + ")"
}

// hostileCases reads the envelope package's hostile corpus.
func hostileCases(t *testing.T) []doc {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "envelope/testdata/hostile.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []doc
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c struct {
			Name, Body, BodyBase64 string
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		body := []byte(c.Body)
		if c.BodyBase64 != "" {
			if body, err = base64.StdEncoding.DecodeString(c.BodyBase64); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, doc{name: "hostile: " + c.Name, body: body})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var fence = regexp.MustCompile("(?ms)^```json[ \t]*\n(.*?)^```")

// readmeExamples returns the fenced ```json blocks of a Markdown text that
// are envelopes (they have a "version").
func readmeExamples(md []byte) [][]byte {
	var out [][]byte
	for _, m := range fence.FindAllSubmatch(md, -1) {
		if bytes.Contains(m[1], []byte(`"version"`)) {
			out = append(out, m[1])
		}
	}
	return out
}

func TestReadmeExamples(t *testing.T) {
	md := "# x\n```json\n{\"version\": 1}\n```\n\n```jsonc\n{\"version\": 1 // no}\n```\n" +
		"```json\n{\"other\": 1}\n```\n```json\n[\n  {\"version\": 2}\n]\n```\n"
	got := readmeExamples([]byte(md))
	want := []string{"{\"version\": 1}\n", "[\n  {\"version\": 2}\n]\n"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("block %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// findValidator returns the node binary, with Ajv installed. Without them
// the test is skipped, except in CI (CI=true), where it fails.
func findValidator(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (CI=true makes this a failure)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("no node on PATH: the schema check needs Node 20 or later")
	}
	for _, pkg := range []string{"ajv", "ajv-formats"} {
		if _, err := os.Stat(filepath.Join(root, "localstack/node_modules", pkg, "package.json")); err != nil {
			unavailable("%s is not installed in localstack/node_modules: run `make deps` (npm ci --prefix localstack)", pkg)
		}
	}
	return node
}

type ajvVerdict struct {
	valid  bool
	detail string
}

// runValidator validates the documents with check.mjs, one file each, in one
// run of node.
func runValidator(t *testing.T, node string, docs []doc) []ajvVerdict {
	t.Helper()
	dir := t.TempDir()
	args := []string{"check.mjs"}
	for i, d := range docs {
		f := filepath.Join(dir, fmt.Sprintf("%03d.json", i))
		if err := os.WriteFile(f, d.body, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(node, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(docs) {
		t.Fatalf("check.mjs printed %d lines for %d documents:\n%s", len(lines), len(docs), out)
	}
	verdicts := make([]ajvVerdict, len(docs))
	for i, l := range lines {
		name := filepath.Join(dir, fmt.Sprintf("%03d.json", i))
		switch {
		case l == "valid "+name:
			verdicts[i] = ajvVerdict{valid: true}
		case strings.HasPrefix(l, "invalid "+name+": "):
			verdicts[i] = ajvVerdict{detail: strings.TrimPrefix(l, "invalid "+name+": ")}
		default:
			t.Fatalf("check.mjs line %d: %q", i+1, l)
		}
	}
	return verdicts
}
