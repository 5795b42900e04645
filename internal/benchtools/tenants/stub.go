package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// sesStub is an Amazon SES v1 endpoint (Query protocol) for the benchmark:
// one account-wide token bucket (rate per second, one second's burst, full at
// the start), the same latency on every answer, optional transient faults,
// and a record of when it accepted each envelope and in which order per
// group. It is not internal/testsupport/sestest because development
// programs may not link test helpers (cmd/sesq/layout_test.go), and sestest
// keeps one bucket per region and every request's parameters.
type sesStub struct {
	URL     string
	srv     *http.Server
	latency time.Duration
	rate    float64
	faults  faultPlan

	mu        sync.Mutex
	tokens    float64
	last      time.Time
	sends     int // send calls of any outcome
	throttled int
	faulted   int
	untracked int // accepted sends without a bench subject
	accepted  map[string]time.Time
	attempts  map[string]int // send calls per envelope id
	dups      int
	order     *groupOrder
	lastNew   time.Time // the latest first acceptance of an envelope
}

// faultPlan answers a share of send calls with a transient fault. Each call
// is decided on its own, by a PCG generator seeded with (seed, hash of the
// envelope id and the call's number for that envelope): the same calls fail
// in every run, whatever order they arrive in, and a retry fails again with
// the same probability.
type faultPlan struct {
	rate float64
	seed uint64
}

// transientFaults are what the plan answers with, picked by the same generator.
var transientFaults = []struct {
	status int
	code   string
	msg    string
}{
	{http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable. Please try again later."},
	{http.StatusInternalServerError, "InternalFailure", "An internal error occurred."},
}

// fault returns the index into transientFaults for call attempt (1-based)
// of envelope id, or -1.
func (p faultPlan) fault(id string, attempt int) int {
	if p.rate <= 0 {
		return -1
	}
	h := fnv.New64a()
	io.WriteString(h, id)
	r := rand.New(rand.NewPCG(p.seed, h.Sum64()^uint64(attempt)<<48))
	if r.Float64() >= p.rate {
		return -1
	}
	return r.IntN(len(transientFaults))
}

// subjectRE reads what the bench puts in every subject: the envelope id, and
// for FIFO runs its group and sequence number in the group.
var subjectRE = regexp.MustCompile(`\bid=([A-Za-z0-9_-]+)(?: group=([A-Za-z0-9_-]+) seq=(\d+))?`)

func startStub(rate float64, latency time.Duration, faults faultPlan) (*sesStub, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sesStub{
		URL: "http://" + ln.Addr().String(), latency: latency, rate: rate, faults: faults,
		tokens: rate, last: time.Now(),
		accepted: map[string]time.Time{}, attempts: map[string]int{}, order: newGroupOrder(),
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *sesStub) Close() { s.srv.Close() }

// take takes a token from the account's bucket, if there is one.
func (s *sesStub) take(now time.Time) bool {
	if s.rate <= 0 {
		return true
	}
	if now.After(s.last) {
		s.tokens = math.Min(s.rate, s.tokens+now.Sub(s.last).Seconds()*s.rate)
		s.last = now
	}
	if s.tokens >= 1 {
		s.tokens--
		return true
	}
	return false
}

func (s *sesStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	status, body := s.answer(r, arrived)
	if d := s.latency - time.Since(arrived); d > 0 {
		time.Sleep(d)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// answer decides the answer to one request that arrived at now.
func (s *sesStub) answer(r *http.Request, now time.Time) (status int, body string) {
	if err := r.ParseForm(); err != nil {
		return errorXML(http.StatusBadRequest, "Sender", "MalformedQueryString", "cannot parse the form")
	}
	action := r.PostForm.Get("Action")
	switch action {
	case "GetSendQuota":
		rate := s.rate
		if rate <= 0 {
			rate = 1e6
		}
		return resultXML(action, fmt.Sprintf("<Max24HourSend>1.0E7</Max24HourSend><MaxSendRate>%g</MaxSendRate><SentLast24Hours>0.0</SentLast24Hours>", rate))
	case "SendEmail", "SendRawEmail", "SendTemplatedEmail":
	default:
		return errorXML(http.StatusBadRequest, "Sender", "InvalidAction", "the benchmark's SES stub does not implement "+action)
	}
	m := subjectRE.FindStringSubmatch(r.PostForm.Get("Message.Subject.Data"))
	id := ""
	if m != nil {
		id = m[1]
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	s.attempts[id]++
	if f := s.faults.fault(id, s.attempts[id]); f >= 0 && id != "" {
		s.faulted++
		tf := transientFaults[f]
		return errorXML(tf.status, "Receiver", tf.code, tf.msg)
	}
	if !s.take(now) {
		s.throttled++
		return errorXML(http.StatusBadRequest, "Sender", "Throttling", "Maximum sending rate exceeded.")
	}
	switch {
	case id == "":
		s.untracked++
	case !s.accepted[id].IsZero():
		s.dups++
	default:
		s.accepted[id] = now
		s.lastNew = now
	}
	if m != nil && m[2] != "" {
		seq, _ := strconv.Atoi(m[3])
		s.order.accept(m[2], seq)
	}
	return resultXML(action, fmt.Sprintf("<MessageId>0100bench-%09d-us-east-1</MessageId>", s.sends))
}

func resultXML(action, result string) (int, string) {
	return http.StatusOK, fmt.Sprintf(`<%sResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></%sResponse>`,
		action, action, result, action, action)
}

func errorXML(status int, typ, code, msg string) (int, string) {
	return status, fmt.Sprintf(`<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>bench-error</RequestId></ErrorResponse>`,
		typ, code, msg)
}

// stubStats is what the stub saw, at one moment.
type stubStats struct {
	Sends      int       `json:"send_calls"`
	Accepted   int       `json:"accepted_unique"`
	Duplicates int       `json:"duplicates"`
	Throttled  int       `json:"throttled"`
	Faulted    int       `json:"faults_injected"`
	Untracked  int       `json:"untracked"`
	Violations int       `json:"order_violations,omitempty"`
	GroupDups  int       `json:"group_duplicates,omitempty"`
	LastNew    time.Time `json:"-"` // the latest first acceptance of an envelope
}

func (s *sesStub) stats() stubStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return stubStats{Sends: s.sends, Accepted: len(s.accepted), Duplicates: s.dups, Throttled: s.throttled,
		Faulted: s.faulted, Untracked: s.untracked, Violations: s.order.violations, GroupDups: s.order.duplicates, LastNew: s.lastNew}
}

// acceptedAt returns when each envelope was first accepted.
func (s *sesStub) acceptedAt() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.accepted))
	for k, v := range s.accepted {
		out[k] = v
	}
	return out
}

// groupOrder checks the order SES accepted a group's sends in: a violation
// is a sequence number lower than one accepted before in the same group; a
// number accepted before is a duplicate, not a violation.
type groupOrder struct {
	max        map[string]int
	seen       map[string]map[int]bool
	violations int
	duplicates int
}

func newGroupOrder() *groupOrder {
	return &groupOrder{max: map[string]int{}, seen: map[string]map[int]bool{}}
}

func (g *groupOrder) accept(group string, seq int) {
	seen := g.seen[group]
	if seen == nil {
		seen = map[int]bool{}
		g.seen[group] = seen
		g.max[group] = -1
	}
	switch {
	case seen[seq]:
		g.duplicates++
	case seq < g.max[group]:
		g.violations++
	}
	seen[seq] = true
	g.max[group] = max(g.max[group], seq)
}
