// Package ledger is what sesq knows of a message across its deliveries:
// the attempts made, the hand-backs and deferrals, a deferral's end, and a
// dead-letter decision whose write failed. SQS keeps no per-message state
// a consumer can write, so the ledger travels on the message: whenever the
// worker puts a message back (a retry after a long delay, a deferral, a
// paused region, shutdown) it sends a new message with the ledger in one
// String attribute, sesq-ledger, and deletes the old one.
//
// Only sesq may write a ledger, and only for the message it was written
// for: the attribute carries an HMAC-SHA256 over the queue URL, a digest of
// the body, the fields and the time it was written, and it is honoured only
// on a message SQS accepted within MaxSkew of that time. A producer's
// attributes (sesq-attempts=99, a sesq-defer-until of 2099, a ledger copied
// from another message or queue) and a message that came back from the
// dead-letter queue by any route (sesq dlq replay, the console's redrive,
// StartMessageMoveTask, a script that copies attributes: each makes a new
// message, and sesq never writes a ledger to the dead-letter queue) read as
// no ledger: a fresh attempt budget.
package ledger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Attr is the message attribute that carries the ledger.
const Attr = "sesq-ledger"

// MaxSkew is how far apart the ledger's write time and the SentTimestamp
// SQS gave the message may be: the time of one SendMessage call (bounded
// by the worker's 10 s call timeout) plus clock skew. A message moved back
// from a dead-letter queue is a new message, sent long after.
const MaxSkew = 2 * time.Minute

// Ledger is the state one message carries.
type Ledger struct {
	// Attempts is the send calls made for the envelope (an unfinished
	// delivery counted as one).
	Attempts int
	// Unfinished is how many of Attempts were deliveries that ended
	// without an outcome (a crash, a lost receive answer, a panic).
	Unfinished int
	// Holds is the hand-backs for a paused region.
	Holds int
	// Deferrals is the quota deferrals.
	Deferrals int
	// Due is when a deferral longer than SQS's longest delay ends.
	Due time.Time
	// Final is a dead-letter decision that could not be written yet.
	Final *Final
}

// Final is a dead-letter decision carried to the next delivery.
type Final struct {
	Reason, Code, Message string
}

// IsZero tells whether l records nothing.
func (l Ledger) IsZero() bool {
	return l.Attempts == 0 && l.Unfinished == 0 && l.Holds == 0 && l.Deferrals == 0 && l.Due.IsZero() && l.Final == nil
}

// Status tells what Read found.
type Status int

const (
	None     Status = iota // no ledger attribute
	Valid                  // a ledger sesq wrote for this message
	Forged                 // an attribute that does not verify: written by someone else, for another message or queue, or damaged
	Stale                  // a ledger sesq wrote, on a message SQS accepted long after: moved back from a dead-letter queue
	Unparsed               // an attribute that verifies but does not parse (a newer version)
)

var statusNames = [...]string{"none", "valid", "forged", "stale", "unparsed"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown"
	}
	return statusNames[s]
}

// Signer writes and reads the ledgers of one queue.
type Signer struct {
	key   []byte
	queue string
}

// NewSigner signs for the queue at queueURL with key. An empty key is
// derived from the queue's and its dead-letter queue's URLs, which every
// worker of the queue has: copied and stale ledgers are still refused, but
// someone who knows both URLs and this format could forge one; set
// SESQ_LEDGER_KEY.
func NewSigner(key []byte, queueURL, dlqURL string) *Signer {
	if len(key) == 0 {
		sum := sha256.Sum256([]byte("sesq-ledger-key-v1\n" + queueURL + "\n" + dlqURL))
		key = sum[:]
	}
	return &Signer{key: append([]byte(nil), key...), queue: queueURL}
}

// Encode is the attribute value of l for a message with body, written at
// now.
func (s *Signer) Encode(l Ledger, body string, now time.Time) string {
	v := url.Values{}
	put := func(k string, n int) {
		if n != 0 {
			v.Set(k, strconv.Itoa(n))
		}
	}
	put("a", l.Attempts)
	put("u", l.Unfinished)
	put("h", l.Holds)
	put("d", l.Deferrals)
	if !l.Due.IsZero() {
		v.Set("due", strconv.FormatInt(l.Due.UnixMilli(), 10))
	}
	if f := l.Final; f != nil {
		v.Set("fr", f.Reason)
		v.Set("fc", f.Code)
		v.Set("fm", f.Message)
	}
	v.Set("w", strconv.FormatInt(now.UnixMilli(), 10))
	fields := "v1&" + v.Encode()
	return fields + "&mac=" + s.mac(fields, body)
}

func (s *Signer) mac(fields, body string) string {
	h := hmac.New(sha256.New, s.key)
	bodySum := sha256.Sum256([]byte(body))
	h.Write([]byte(s.queue))
	h.Write([]byte{0})
	h.Write(bodySum[:])
	h.Write([]byte(fields))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// Read reads the ledger value attr (empty: none) of a message with body
// that SQS accepted at sent (zero: unknown, then the time is not checked).
// Anything but Valid reads as a zero Ledger.
func (s *Signer) Read(attr, body string, sent time.Time) (Ledger, Status) {
	if attr == "" {
		return Ledger{}, None
	}
	i := strings.LastIndex(attr, "&mac=")
	if i < 0 {
		return Ledger{}, Forged
	}
	fields, mac := attr[:i], attr[i+len("&mac="):]
	if !hmac.Equal([]byte(mac), []byte(s.mac(fields, body))) {
		return Ledger{}, Forged
	}
	l, written, err := parse(fields)
	if err != nil {
		return Ledger{}, Unparsed
	}
	if !sent.IsZero() {
		if d := sent.Sub(written); d > MaxSkew || d < -MaxSkew {
			return Ledger{}, Stale
		}
	}
	return l, Valid
}

func parse(fields string) (Ledger, time.Time, error) {
	var l Ledger
	rest, ok := strings.CutPrefix(fields, "v1&")
	if !ok {
		return l, time.Time{}, errors.New("unknown ledger version")
	}
	v, err := url.ParseQuery(rest)
	if err != nil {
		return l, time.Time{}, fmt.Errorf("parse ledger: %w", err)
	}
	num := func(k string) (int, error) {
		s := v.Get(k)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("ledger field %s: %q", k, s)
		}
		return n, nil
	}
	if l.Attempts, err = num("a"); err != nil {
		return l, time.Time{}, err
	}
	if l.Unfinished, err = num("u"); err != nil {
		return l, time.Time{}, err
	}
	if l.Holds, err = num("h"); err != nil {
		return l, time.Time{}, err
	}
	if l.Deferrals, err = num("d"); err != nil {
		return l, time.Time{}, err
	}
	ms := func(k string) (time.Time, error) {
		s := v.Get(k)
		if s == "" {
			return time.Time{}, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("ledger field %s: %q", k, s)
		}
		return time.UnixMilli(n), nil
	}
	if l.Due, err = ms("due"); err != nil {
		return l, time.Time{}, err
	}
	written, err := ms("w")
	if err != nil || written.IsZero() {
		return l, time.Time{}, errors.New("ledger without a write time")
	}
	if v.Has("fr") {
		l.Final = &Final{Reason: v.Get("fr"), Code: v.Get("fc"), Message: v.Get("fm")}
	}
	return l, written, nil
}
