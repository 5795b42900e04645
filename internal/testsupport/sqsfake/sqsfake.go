// Package sqsfake is an in-memory Amazon SQS (standard queues) for tests of
// code that drives SQS as a state machine: receive, visibility extension,
// hand-back, re-enqueue with delay, dead-lettering, shutdown drain.
//
// It exists because those behaviours hinge on exact instants (a message
// reappears when its visibility timeout ends, not "about then"), and a real
// service or emulator can only be tested with sleeps and tolerances. The fake
// reads the time with time.Now and waits only on channels and timers, so
// inside a testing/synctest bubble its clock is the bubble's fake clock and a
// test can assert "the message came back at exactly T+30s".
//
// Delivery semantics follow the SQS API reference, with every "approximately"
// and "might" made exact and deterministic:
//   - At-least-once: a received message that is not deleted with its most
//     recent receipt handle before its visibility timeout ends is delivered
//     again, with ApproximateReceiveCount raised by one.
//   - Visible messages are handed out oldest first: by the instant they
//     became visible, then by send order. A receive returns every visible
//     message up to its maximum (no sampling of a subset of servers).
//   - Concurrent receivers of one queue are served in the order their calls
//     arrived; a later receiver never takes a message an earlier one is
//     waiting for.
//   - What happens at an instant because the clock reached it (a message
//     becomes visible, a long poll's wait ends) comes before any call made
//     at that instant. So a long poll ending at T does not get a message
//     sent at T, and its answer never depends on when its goroutine runs.
//     A long poll that gets a message returns it with whatever else was
//     visible at that moment, not what later calls at the same instant add.
//   - A deleted message never comes back.
//
// What stays a race is what is one in the test itself: two goroutines
// calling at the same instant, or a context whose deadline is the same
// instant as another event.
//
// Faults are injected per call (see SetFaults and Client): a refused call
// has no effect, a call whose answer is lost has its full effect. Each call
// is one attempt, as an SDK client with retries turned off would make it.
//
// This package is test-only: no production package may import it, and it
// imports nothing from sesq.
package sqsfake

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Operation names as they appear in Call.Op: the SQS action names, so a
// recorded call reads like a CloudTrail entry.
const (
	OpReceiveMessage               = "ReceiveMessage"
	OpDeleteMessage                = "DeleteMessage"
	OpDeleteMessageBatch           = "DeleteMessageBatch"
	OpChangeMessageVisibility      = "ChangeMessageVisibility"
	OpChangeMessageVisibilityBatch = "ChangeMessageVisibilityBatch"
	OpSendMessage                  = "SendMessage"
	OpSendMessageBatch             = "SendMessageBatch"
	OpGetQueueAttributes           = "GetQueueAttributes"
)

// API lists the calls the fake answers, with the exact signatures of
// *sqs.Client, so code that declares any subset of them as its queue
// interface accepts *SQS, *Client and *sqs.Client alike.
type API interface {
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, params *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, params *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, params *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, params *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, params *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var (
	_ API = (*sqs.Client)(nil)
	_ API = (*SQS)(nil)
	_ API = (*Client)(nil)
)

// Limits and defaults of SQS standard queues, from the SQS API reference.
const (
	region            = "us-east-1"
	account           = "000000000000"
	endpoint          = "https://sqs." + region + ".amazonaws.com/"
	defaultVisibility = 30 * time.Second
	maxVisibility     = 12 * time.Hour
	maxDelaySeconds   = 900
	maxWaitSeconds    = 20
	maxMessageBytes   = 1 << 20
	maxBatchEntries   = 10
	maxAttributes     = 10
	maxReceiveCount   = 1000
	retentionSeconds  = 345600
)

// SQS is an in-memory Amazon SQS holding any number of standard queues. Its
// own methods are the calls of an anonymous client (Call.Client is ""); use
// Client for a named one. The zero value is not usable: call New.
type SQS struct {
	root *Client

	// faultMu serializes calls of the fault function, so a test's function
	// may count calls without locking of its own.
	faultMu sync.Mutex
	faults  func(Call) Fault

	mu       sync.Mutex
	queues   map[string]*queue // by URL
	lastID   int               // message ids are "m-<n>", n over the whole SQS
	requests int               // numbers request ids of error answers
	calls    []Call
	events   []Event
}

// New returns an SQS without queues, where every call works.
func New() *SQS {
	s := &SQS{queues: map[string]*queue{}}
	s.root = &Client{s: s}
	return s
}

// QueueOptions configures a queue. Zero values take the SQS defaults.
type QueueOptions struct {
	// VisibilityTimeout is how long a received message stays hidden when the
	// receive does not say. Whole seconds, at most 12 hours; 0 means the SQS
	// default of 30 seconds.
	VisibilityTimeout time.Duration

	// RedriveTo is the URL of the dead-letter queue (created before this
	// one). With MaxReceiveCount it is SQS's own redrive: a visible message
	// already received MaxReceiveCount times is moved there by the receive
	// that would hand it out once more, instead of being handed out. It
	// keeps its id, body, attributes, sent time and receive count.
	RedriveTo string

	// MaxReceiveCount is the redrive threshold, 1 to 1000; required with
	// RedriveTo and meaningless without it.
	MaxReceiveCount int
}

// CreateQueue makes a standard queue and returns its URL,
// "https://sqs.us-east-1.amazonaws.com/000000000000/NAME". Creating a queue
// again with the same options returns the same URL, as SQS does. Invalid
// names or options panic: they are mistakes in the test, not behaviour
// under test.
func (s *SQS) CreateQueue(name string, o QueueOptions) string {
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("sqsfake: create queue %q: %s", name, fmt.Sprintf(format, args...)))
	}
	if err := checkQueueName(name); err != nil {
		fail("%v", err)
	}
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = defaultVisibility
	}
	if o.VisibilityTimeout < 0 || o.VisibilityTimeout > maxVisibility || o.VisibilityTimeout%time.Second != 0 {
		fail("visibility timeout %v is not whole seconds from 0 to 12h", o.VisibilityTimeout)
	}
	url := endpoint + account + "/" + name

	s.mu.Lock()
	defer s.mu.Unlock()
	if o.RedriveTo != "" {
		if o.MaxReceiveCount < 1 || o.MaxReceiveCount > maxReceiveCount {
			fail("max receive count %d is not from 1 to %d", o.MaxReceiveCount, maxReceiveCount)
		}
		if o.RedriveTo == url {
			fail("a queue cannot be its own dead-letter queue")
		}
		if _, ok := s.queues[o.RedriveTo]; !ok {
			fail("dead-letter queue %s does not exist (create it first)", o.RedriveTo)
		}
	} else if o.MaxReceiveCount != 0 {
		fail("max receive count %d without a dead-letter queue", o.MaxReceiveCount)
	}
	if q, ok := s.queues[url]; ok {
		if q.opts != o {
			fail("exists with other options %+v", q.opts)
		}
		return url
	}
	s.queues[url] = &queue{
		name:    name,
		url:     url,
		arn:     "arn:aws:sqs:" + region + ":" + account + ":" + name,
		opts:    o,
		created: time.Now(),
		handles: map[string]string{},
	}
	return url
}

// Client returns a view of s whose calls carry name in Call.Client, so a
// fault function can tell workers apart: cutting one off (every call
// refused from then on, as after kill -9) leaves the queues and the other
// clients as they were.
func (s *SQS) Client(name string) *Client {
	return &Client{s: s, name: name}
}

// Client is a named view of an SQS; see SQS.Client. Its methods behave as
// those of SQS.
type Client struct {
	s    *SQS
	name string
}

// Call is one call as the fault function sees it and Calls records it.
type Call struct {
	Op       string // one of the Op constants
	QueueURL string
	Client   string    // the name given to SQS.Client; "" for SQS's own methods
	At       time.Time // when the call arrived
}

// Fault is what happens to one call.
type Fault int

const (
	// Works: the call is answered normally.
	Works Fault = iota
	// Refuse: the call fails before any effect, as in an outage (connection
	// refused). The error is a network error, never a smithy.APIError.
	Refuse
	// LoseAnswer: the call takes full effect, then the answer is lost on the
	// way back (connection reset): a receive leaves its messages in flight
	// with their receive count raised, a send leaves its message queued. The
	// error is a network error, never a smithy.APIError.
	LoseAnswer
)

func (f Fault) String() string {
	switch f {
	case Works:
		return "works"
	case Refuse:
		return "refuse"
	case LoseAnswer:
		return "lose answer"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// SetFaults installs f to decide the fate of every later call; nil makes
// every call work. f is called once per call, one call at a time, after the
// call passed its context check. It may read the fake (Calls, Messages,
// Log) but must not call its API methods or SetFaults.
func (s *SQS) SetFaults(f func(Call) Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = f
}

// begin records a call and decides its fault.
func (s *SQS) begin(op, queueURL, client string) (Call, Fault) {
	c := Call{Op: op, QueueURL: queueURL, Client: client, At: time.Now()}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()

	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.faults == nil {
		return c, Works
	}
	return c, s.faults(c)
}
