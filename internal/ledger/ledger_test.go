package ledger

import (
	"strings"
	"testing"
	"time"
)

const (
	queue = "https://sqs.us-east-1.amazonaws.com/123456789012/mail"
	dlq   = "https://sqs.us-east-1.amazonaws.com/123456789012/mail-dlq"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestRoundTrip(t *testing.T) {
	s := NewSigner([]byte("a key of the fleet, 32 bytes...."), queue, dlq)
	for _, l := range []Ledger{
		{},
		{Attempts: 3, Unfinished: 1, Holds: 2, Deferrals: 5, Due: t0.Add(40 * time.Minute)},
		{Attempts: 1, Final: &Final{Reason: "authorization", Code: "AccessDenied", Message: "User x is not authorized to perform ses:SendEmail & more = 100%"}},
	} {
		attr := s.Encode(l, "body", t0)
		got, st := s.Read(attr, "body", t0.Add(time.Second))
		if st != Valid {
			t.Fatalf("%+v: status %s (%s)", l, st, attr)
		}
		if got.Attempts != l.Attempts || got.Unfinished != l.Unfinished || got.Holds != l.Holds || got.Deferrals != l.Deferrals ||
			!got.Due.Equal(l.Due) || (got.Final == nil) != (l.Final == nil) || (l.Final != nil && *got.Final != *l.Final) {
			t.Errorf("round trip: got %+v, want %+v", got, l)
		}
	}
}

func TestReadRefuses(t *testing.T) {
	s := NewSigner([]byte("a key of the fleet, 32 bytes...."), queue, dlq)
	attr := s.Encode(Ledger{Attempts: 7}, "body", t0)
	cases := []struct {
		name string
		s    *Signer
		attr string
		body string
		sent time.Time
		want Status
	}{
		{"none", s, "", "body", t0, None},
		{"valid", s, attr, "body", t0.Add(MaxSkew), Valid},
		{"written after the send, within skew", s, attr, "body", t0.Add(-MaxSkew), Valid},
		{"no sent time: not checked", s, attr, "body", time.Time{}, Valid},
		{"another body", s, attr, "body2", t0, Forged},
		{"another queue", NewSigner([]byte("a key of the fleet, 32 bytes...."), queue+"-2", dlq), attr, "body", t0, Forged},
		{"another key", NewSigner([]byte("another key"), queue, dlq), attr, "body", t0, Forged},
		{"derived key refuses a keyed ledger", NewSigner(nil, queue, dlq), attr, "body", t0, Forged},
		{"a field changed", s, strings.Replace(attr, "a=7", "a=1", 1), "body", t0, Forged},
		{"no mac", s, "v1&a=99&w=1", "body", t0, Forged},
		{"producer's plain number", s, "99", "body", t0, Forged},
		{"moved back from a dead-letter queue", s, attr, "body", t0.Add(MaxSkew + time.Millisecond), Stale},
	}
	for _, c := range cases {
		l, st := c.s.Read(c.attr, c.body, c.sent)
		if st != c.want {
			t.Errorf("%s: status %s, want %s", c.name, st, c.want)
		}
		if st != Valid && !l.IsZero() {
			t.Errorf("%s: %s ledger reads as %+v, want zero", c.name, st, l)
		}
	}
}

func TestDerivedKeyIsPerQueue(t *testing.T) {
	a, b := NewSigner(nil, queue, dlq), NewSigner(nil, queue, dlq)
	attr := a.Encode(Ledger{Attempts: 2}, "x", t0)
	if l, st := b.Read(attr, "x", t0); st != Valid || l.Attempts != 2 {
		t.Errorf("two workers of one queue disagree: %s %+v", st, l)
	}
	if _, st := NewSigner(nil, queue+"x", dlq).Read(attr, "x", t0); st != Forged {
		t.Errorf("another queue's derived key accepted it: %s", st)
	}
	if _, st := NewSigner(nil, queue, dlq+"x").Read(attr, "x", t0); st != Forged {
		t.Errorf("a key derived without the dead-letter queue accepted it: %s", st)
	}
}

func TestUnparsedVersion(t *testing.T) {
	s := NewSigner([]byte("k"), queue, dlq)
	fields := "v2&a=1"
	if _, st := s.Read(fields+"&mac="+s.mac(fields, "b"), "b", t0); st != Unparsed {
		t.Errorf("a signed ledger of another version: %s", st)
	}
}

func FuzzRead(f *testing.F) {
	s := NewSigner([]byte("k"), queue, dlq)
	f.Add(s.Encode(Ledger{Attempts: 3, Final: &Final{Reason: "r"}}, "b", t0), "b")
	f.Add("v1&a=99&w=1&mac=AAAA", "b")
	f.Fuzz(func(t *testing.T, attr, body string) {
		l, st := s.Read(attr, body, time.Time{})
		if st != Valid && !l.IsZero() {
			t.Fatalf("%s but not zero", st)
		}
		if st == Valid && (l.Attempts < 0 || l.Holds < 0 || l.Deferrals < 0 || l.Unfinished < 0) {
			t.Fatalf("negative count: %+v", l)
		}
	})
}
