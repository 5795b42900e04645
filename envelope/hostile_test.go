package envelope_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sesq/sesq/envelope"
)

// HostileCase is one entry of testdata/hostile.jsonl: a body that must be
// refused, and what the error must say.
type HostileCase struct {
	Name       string `json:"name"`
	Body       string `json:"body"`
	BodyBase64 string `json:"bodyBase64"`
	Want       string `json:"want"`
	SQS        bool   `json:"sqs"` // SQS takes the body (valid UTF-8, under 256 KiB)
}

func hostileCases(t *testing.T) []HostileCase {
	t.Helper()
	f, err := os.Open("testdata/hostile.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []HostileCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c HostileCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.BodyBase64 != "" {
			b, _ := base64.StdEncoding.DecodeString(c.BodyBase64)
			c.Body = string(b)
		}
		out = append(out, c)
	}
	return out
}

// Every hostile envelope is refused with an error that says what is wrong,
// never a panic, and never echoes the value.
func TestHostileEnvelopes(t *testing.T) {
	cases := hostileCases(t)
	if len(cases) < 50 {
		t.Fatalf("%d hostile cases, want at least 50", len(cases))
	}
	for _, c := range cases {
		_, err := envelope.Parse([]byte(c.Body))
		var ve *envelope.Error
		if !errors.As(err, &ve) {
			t.Errorf("%s: Parse error %v (%T), want an *envelope.Error", c.Name, err, err)
			continue
		}
		if !strings.Contains(err.Error(), c.Want) {
			t.Errorf("%s: error %q, want it to say %q", c.Name, err, c.Want)
		}
		for _, secret := range []string{"victim@example.net", "X-Injected", "evil.example"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error echoes %q: %v", c.Name, secret, err)
			}
		}
	}
	t.Logf("%d hostile envelopes refused", len(cases))
}
