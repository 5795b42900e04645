package main_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Every command takes -h: its usage and flags on stdout, exit 0, without
// configuration or AWS.
func TestEveryCommandHasHelp(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin"}
	for _, c := range []struct {
		args  []string
		flags []string // flags the help must list
	}{
		{[]string{"-h"}, nil},
		{[]string{"run", "-h"}, nil},
		{[]string{"enqueue", "-h"}, []string{"-dry-run", "-json", "-no-group-id"}},
		{[]string{"queues", "-h"}, nil},
		{[]string{"queues", "create", "-h"}, []string{"-json", "-fifo"}},
		{[]string{"dlq", "-h"}, nil},
		{[]string{"dlq", "inspect", "-h"}, []string{"-json"}},
		{[]string{"dlq", "replay", "--help"}, []string{"-json", "-dry-run", "-reason", "-max-replays"}},
		{[]string{"dlq", "purge", "-h"}, []string{"-json", "-yes", "-older-than"}},
		{[]string{"health", "-h"}, []string{"-json"}},
		{[]string{"version", "-h"}, []string{"-json"}},
	} {
		out, errOut, code := sesq(t, env, "", c.args...)
		if code != 0 || !strings.HasPrefix(out, "usage:") || errOut != "" {
			t.Errorf("sesq %s: exit %d, stdout %q, stderr %q; want its usage on stdout and exit 0", strings.Join(c.args, " "), code, out, errOut)
			continue
		}
		for _, f := range c.flags {
			if !strings.Contains(out, "  "+f) {
				t.Errorf("sesq %s: help lists no %s:\n%s", strings.Join(c.args, " "), f, out)
			}
		}
	}
	// A wrong flag is a usage error that shows the flags.
	if _, errOut, code := sesq(t, env, "", "health", "--jsn"); code != 2 || !strings.Contains(errOut, "-json") {
		t.Errorf("a wrong flag: exit %d, %q", code, errOut)
	}
}

// The read commands print JSON with --json.
func TestReadCommandsPrintJSON(t *testing.T) {
	var v map[string]any
	out, _, code := sesq(t, []string{"PATH=/usr/bin:/bin"}, "", "version", "--json")
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v["version"] == nil || v["go"] == nil {
		t.Errorf("version --json: exit %d, %q (%v)", code, out, err)
	}

	good := `{"version":1,"id":"a","action":"SendEmail","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.com","source":"s@example.com","destination":{"to":["r@example.net"]},"message":{"subject":{"data":"s"},"body":{"text":{"data":"b"}}}}`
	out, _, code = sesq(t, []string{"PATH=/usr/bin:/bin"}, good+"\n\n"+`{"version":1,"SourceArn":"x"}`+"\n", "enqueue", "--dry-run", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first, second map[string]any
	if code != 1 || len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil ||
		first["line"] != 1.0 || first["valid"] != true || first["action"] != "SendEmail" || first["region"] != "us-east-1" || first["id"] != "a" || second["line"] != 3.0 || second["error"] != "unknown field SourceArn (did you mean sourceArn?)" {
		t.Errorf("enqueue --dry-run --json: exit %d, %q", code, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok"))
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	out, _, code = sesq(t, []string{"PATH=/usr/bin:/bin"}, "", "health", "--json", ln.Addr().String())
	v = nil
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v["healthy"] != true {
		t.Errorf("health --json: exit %d, %q (%v)", code, out, err)
	}
	srv.Close()
	out, _, code = sesq(t, []string{"PATH=/usr/bin:/bin"}, "", "health", "--json", ln.Addr().String())
	v = nil
	if err := json.Unmarshal([]byte(out), &v); code != 1 || err != nil || v["healthy"] != false || v["status"] == "" {
		t.Errorf("health --json of a worker that is gone: exit %d, %q (%v)", code, out, err)
	}
}
