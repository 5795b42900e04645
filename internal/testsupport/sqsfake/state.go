package sqsfake

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// queue is one standard queue. All fields are guarded by SQS.mu.
type queue struct {
	name, url, arn string
	opts           QueueOptions
	created        time.Time
	msgs           []*message

	// handles maps every receipt handle ever issued by this queue to its
	// message id, so an old handle is told apart from a made-up one.
	handles map[string]string

	// waiters are the receives waiting for messages, in arrival order;
	// settle serves them first come, first served.
	waiters []*waiter
}

// waiter is one receive waiting for messages. settle finishes it: with
// messages, empty at its deadline, or with its context's error.
type waiter struct {
	ctx        context.Context
	max        int
	visibility time.Duration
	sel        selection
	client     string
	deadline   time.Time

	finished bool
	got      []types.Message
	err      error

	// wake is closed (and set to nil) when the waiter is finished or the
	// queue changed in a way that may move its next instant of interest.
	wake chan struct{}
}

// message is a stored message. Times come from time.Now, so inside a
// synctest bubble they are the bubble's.
type message struct {
	seq    int // send order over the whole SQS
	id     string
	body   string
	attrs  map[string]types.MessageAttributeValue
	system map[string]string // system attributes given at send (AWSTraceHeader) or set by redrive

	sentAt       time.Time
	visibleAt    time.Time // visible from this instant on
	firstReceive time.Time
	receiveCount int

	handle     string    // most recent receipt handle in its current queue; "" before the first receive there
	receivedAt time.Time // when handle was issued: the 12-hour visibility limit counts from it
}

// inFlight reports whether m was received and its visibility timeout has
// not ended yet; a hidden message never received is delayed instead.
func (m *message) inFlight(now time.Time) bool {
	return m.receiveCount > 0 && m.visibleAt.After(now)
}

func (m *message) visible(now time.Time) bool {
	return !m.visibleAt.After(now)
}

func (q *queue) find(id string) *message {
	for _, m := range q.msgs {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (q *queue) remove(m *message) {
	q.msgs = slices.DeleteFunc(q.msgs, func(x *message) bool { return x == m })
}

// oldestVisible returns the visible message that became visible first,
// ties broken by send order; nil if none is visible.
func (q *queue) oldestVisible(now time.Time) *message {
	var best *message
	for _, m := range q.msgs {
		if !m.visible(now) {
			continue
		}
		if best == nil || m.visibleAt.Before(best.visibleAt) || (m.visibleAt.Equal(best.visibleAt) && m.seq < best.seq) {
			best = m
		}
	}
	return best
}

// nextVisible returns the earliest instant after now at which a hidden
// message becomes visible.
func (q *queue) nextVisible(now time.Time) (time.Time, bool) {
	var next time.Time
	found := false
	for _, m := range q.msgs {
		if m.visibleAt.After(now) && (!found || m.visibleAt.Before(next)) {
			next, found = m.visibleAt, true
		}
	}
	return next, found
}

// notify wakes every waiting receive so it recomputes when to look next.
func (q *queue) notify() {
	for _, w := range q.waiters {
		w.poke()
	}
}

func (w *waiter) poke() {
	if w.wake != nil {
		close(w.wake)
		w.wake = nil
	}
}

func (q *queue) finish(w *waiter, got []types.Message, err error) {
	q.waiters = slices.DeleteFunc(q.waiters, func(x *waiter) bool { return x == w })
	w.finished, w.got, w.err = true, got, err
	w.poke()
}

// settle brings q up to the instant now before anything else happens at
// it, which is what makes the fake deterministic: receives whose context
// ended leave with nothing; waiting receives are served, first come first
// served, with the messages visible now; receives whose wait is over leave
// empty. Every call settles a queue before acting on it, and again after
// changing it, so what happens at an instant because time reached it comes
// before the calls made at that instant, and a long poll's answer does not
// depend on when its goroutine gets to run. Callers hold s.mu.
func (s *SQS) settle(q *queue, now time.Time) {
	for _, w := range slices.Clone(q.waiters) {
		if err := w.ctx.Err(); err != nil {
			q.finish(w, nil, err)
		}
	}
	took := false
	for len(q.waiters) > 0 && q.oldestVisible(now) != nil {
		w := q.waiters[0]
		got := s.take(q, now, w.max, w.visibility, w.sel, w.client)
		if len(got) == 0 {
			break // all that was visible went to the dead-letter queue
		}
		took = true
		q.finish(w, got, nil)
	}
	for _, w := range slices.Clone(q.waiters) {
		if !now.Before(w.deadline) {
			q.finish(w, nil, nil)
		}
	}
	if took {
		q.notify()
	}
}

// queue returns the queue at url or the error SQS answers for an unknown
// one. Callers hold s.mu.
func (s *SQS) queue(url string) (*queue, error) {
	q, ok := s.queues[url]
	if !ok {
		return nil, &types.QueueDoesNotExist{Message: ptr("The specified queue does not exist.")}
	}
	return q, nil
}

// mustQueue is queue for the introspection methods, where an unknown URL is
// a mistake in the test.
func (s *SQS) mustQueue(op, url string) *queue {
	q, ok := s.queues[url]
	if !ok {
		panic(fmt.Sprintf("sqsfake: %s: no queue %s", op, url))
	}
	return q
}

// Message is a snapshot of a stored message, for exact assertions.
type Message struct {
	ID   string
	Body string
	// Attributes are the message attributes: the StringValue of String and
	// Number attributes, the standard base64 of the BinaryValue of Binary
	// ones.
	Attributes   map[string]string
	ReceiveCount int
	SentAt       time.Time
	// VisibleAt is when the message is (or was) visible: its send time plus
	// delay, or the end of its visibility timeout, or when it was moved to
	// this dead-letter queue.
	VisibleAt time.Time
	// InFlight is true between a receive and the end of its visibility
	// timeout.
	InFlight bool
	// Handle is the most recent receipt handle issued for the message in
	// this queue, "" if it was not received here.
	Handle string
}

// Messages returns the messages stored in the queue at url, oldest first
// (by send order). Like every call it first brings the queue up to now, so
// a long poll entitled to a message has it before the snapshot is taken.
// It panics for an unknown queue.
func (s *SQS) Messages(url string) []Message {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.mustQueue("Messages", url)
	s.settle(q, now)
	ms := slices.Clone(q.msgs)
	slices.SortFunc(ms, func(a, b *message) int { return a.seq - b.seq })
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		attrs := make(map[string]string, len(m.attrs))
		for name, v := range m.attrs {
			if v.StringValue != nil {
				attrs[name] = *v.StringValue
			} else {
				attrs[name] = base64.StdEncoding.EncodeToString(v.BinaryValue)
			}
		}
		out = append(out, Message{
			ID:           m.id,
			Body:         m.body,
			Attributes:   attrs,
			ReceiveCount: m.receiveCount,
			SentAt:       m.sentAt,
			VisibleAt:    m.visibleAt,
			InFlight:     m.inFlight(now),
			Handle:       m.handle,
		})
	}
	return out
}

// Calls returns every call made so far, in arrival order: those that got
// past their context check, including refused ones.
func (s *SQS) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallCount counts the calls of operation op to queueURL; an empty op or
// queueURL matches any.
func (s *SQS) CallCount(op, queueURL string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if (op == "" || c.Op == op) && (queueURL == "" || c.QueueURL == queueURL) {
			n++
		}
	}
	return n
}

// EventKind names an effect on a queue.
type EventKind string

// The effects Log records. A call that changes nothing (a refused call, a
// delete with a stale handle, a failed batch entry) records none.
const (
	EventSent              EventKind = "sent"
	EventReceived          EventKind = "received"
	EventVisibilityChanged EventKind = "visibility changed"
	EventDeleted           EventKind = "deleted"
	EventMovedToDLQ        EventKind = "moved to DLQ"
)

// Event is one effect on a queue, for asserting exact timing.
type Event struct {
	At           time.Time
	Kind         EventKind
	QueueURL     string
	MessageID    string
	Handle       string    // the receipt handle issued (received) or used (visibility changed, deleted)
	ReceiveCount int       // after the event
	VisibleAt    time.Time // when the message is visible next (for a move: in the dead-letter queue)
	To           string    // moved to DLQ: the dead-letter queue's URL
	Client       string    // the client whose call had the effect
}

// Log returns every effect so far, in the order they happened.
func (s *SQS) Log() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// record appends an event. Callers hold s.mu.
func (s *SQS) record(e Event) {
	s.events = append(s.events, e)
}
