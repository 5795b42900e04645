package worker

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// acks batches the worker's deletes and visibility changes into
// DeleteMessageBatch and ChangeMessageVisibilityBatch calls of up to ten
// entries, sent when ten are waiting or flushEvery after the first.
//
// Operations on one receipt handle reach SQS in the order they were asked
// for: a later one replaces an earlier one not sent yet, and waits for one
// already in flight (whose retries stop then). So a visibility extension
// can never land after the hand-back or delete that followed it. Entries
// SQS fails on its side are tried again a few times; the rest are logged
// with their code.
type acks struct {
	q          Queue
	url        string
	log        *slog.Logger
	flushEvery time.Duration
	slots      chan struct{} // batch calls in flight at most
	kick       chan struct{} // something became pending
	done       chan struct{} // the flusher returned

	mu      sync.Mutex
	ops     map[string]*ackOp // per handle: its pending or in-flight operation
	then    map[string]func() // per handle: what to do once its delete succeeded
	pending []string          // handles with a pending operation, oldest first
	closing bool
	calls   sync.WaitGroup
	idle    chan struct{} // closed and replaced when ops becomes empty while closing
}

// ackOp is the operation wanted for one handle: a delete (visibility < 0)
// or a visibility change; next is one asked for while it was in flight.
type ackOp struct {
	visibility int32
	inFlight   bool
	next       *int32
}

const (
	maxAckTries   = 4
	ackCallsLimit = 8
	ackTimeout    = 10 * time.Second
	deleteOp      = -1
)

func newAcks(q Queue, url string, log *slog.Logger) *acks {
	a := &acks{q: q, url: url, log: log, flushEvery: 50 * time.Millisecond,
		slots: make(chan struct{}, ackCallsLimit), kick: make(chan struct{}, 1), done: make(chan struct{}),
		ops: map[string]*ackOp{}, then: map[string]func(){}, idle: make(chan struct{})}
	go a.run()
	return a
}

// delete deletes a message from the queue.
func (a *acks) delete(handle string) { a.submit(handle, deleteOp) }

// deleteThen deletes a message and, once SQS confirmed the delete, runs
// then (in a goroutine of its own, waited for by close). A delete that
// fails, or is replaced by a later operation, never runs it: the message
// will be delivered again.
func (a *acks) deleteThen(handle string, then func()) { a.submitThen(handle, deleteOp, then) }

// setVisibility makes a message visible again after d (0: at once).
func (a *acks) setVisibility(handle string, d time.Duration) {
	a.submit(handle, visibilitySeconds(d))
}

func (a *acks) submit(handle string, visibility int32) { a.submitThen(handle, visibility, nil) }

// submitThen asks for an operation on handle and, for a delete, what is to
// follow it once SQS confirmed it: both under one lock, so that no settle
// of an earlier operation comes between them.
func (a *acks) submitThen(handle string, visibility int32, then func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if then != nil {
		a.then[handle] = then
	} else {
		delete(a.then, handle)
	}
	switch op := a.ops[handle]; {
	case op == nil:
		a.ops[handle] = &ackOp{visibility: visibility}
		a.pending = append(a.pending, handle)
	case !op.inFlight:
		op.visibility = visibility // the earlier one was never sent
	default:
		op.next = &visibility
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// close sends what is pending at once and waits for every call to end.
func (a *acks) close() {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
	<-a.done
	a.calls.Wait()
}

// run sends pending operations in batches until close, then drains them.
func (a *acks) run() {
	defer close(a.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		a.mu.Lock()
		closing, n := a.closing, len(a.pending)
		a.mu.Unlock()
		switch {
		case closing:
			if a.drain() {
				return
			}
			continue
		case n >= 10:
			a.flush(true)
			continue
		case n > 0 && !armed:
			timer.Reset(a.flushEvery)
			armed = true
		}
		select {
		case <-a.kick:
		case <-timer.C:
			armed = false
			a.flush(false)
		}
	}
}

// drain flushes everything pending while closing and tells whether nothing
// is left; otherwise it waits until an in-flight call ends.
func (a *acks) drain() bool {
	a.flush(false)
	a.mu.Lock()
	empty, idle := len(a.ops) == 0, a.idle
	a.mu.Unlock()
	if empty {
		return true
	}
	select {
	case <-idle:
	case <-a.kick:
	}
	return false
}

// flush sends the pending operations, deletes and visibility changes apart,
// ten to a call; with fullOnly, only full batches.
func (a *acks) flush(fullOnly bool) {
	a.mu.Lock()
	var dels, vis []string
	for _, h := range a.pending {
		if a.ops[h].visibility == deleteOp {
			dels = append(dels, h)
		} else {
			vis = append(vis, h)
		}
	}
	a.pending = a.pending[:0]
	var batches [][]string
	for _, hs := range [][]string{dels, vis} {
		for len(hs) >= 10 || (len(hs) > 0 && !fullOnly) {
			n := min(10, len(hs))
			batches = append(batches, hs[:n])
			hs = hs[n:]
		}
		a.pending = append(a.pending, hs...) // a partial batch waits
	}
	for _, b := range batches {
		for _, h := range b {
			a.ops[h].inFlight = true
		}
	}
	a.mu.Unlock()
	for _, b := range batches {
		a.call(b)
	}
}

// call sends one batch in its own goroutine, at most ackCallsLimit at once,
// trying again the entries SQS failed on its side and that nothing
// replaced meanwhile.
func (a *acks) call(handles []string) {
	a.slots <- struct{}{}
	a.calls.Add(1)
	go func() {
		defer func() { <-a.slots; a.calls.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		defer cancel()
		batch := a.snapshot(handles)
		for try := 1; ; try++ {
			failed, refused := a.send(ctx, batch)
			last := try == maxAckTries || ctx.Err() != nil
			if last && len(failed) > 0 {
				a.log.Error("sqs ack failed", "op", opName(batch[0].visibility), "entries", len(failed), "tries", try)
			}
			if batch = a.settle(batch, failed, refused, last); len(batch) == 0 {
				return
			}
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
			// What was asked for meanwhile replaces the retry.
			if batch = a.settle(batch, handlesOf(batch), nil, false); len(batch) == 0 {
				return
			}
		}
	}()
}

func handlesOf(batch []ackEntry) map[string]bool {
	out := make(map[string]bool, len(batch))
	for _, e := range batch {
		out[e.handle] = true
	}
	return out
}

type ackEntry struct {
	handle     string
	visibility int32
}

func (a *acks) snapshot(handles []string) []ackEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ackEntry, len(handles))
	for i, h := range handles {
		out[i] = ackEntry{handle: h, visibility: a.ops[h].visibility}
	}
	return out
}

// settle ends the entries of a call that are done (sent, refused for good,
// out of tries, or replaced meanwhile) and returns those to try again.
// An operation asked for while one was in flight becomes pending now. A
// delete SQS confirmed runs what was to follow it.
func (a *acks) settle(batch []ackEntry, failed, refused map[string]bool, last bool) []ackEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	var again []ackEntry
	for _, e := range batch {
		op := a.ops[e.handle]
		if failed[e.handle] && !last && op.next == nil {
			again = append(again, e)
			continue
		}
		if op.next != nil {
			op.visibility, op.next, op.inFlight = *op.next, nil, false
			a.pending = append(a.pending, e.handle)
			continue
		}
		delete(a.ops, e.handle)
		then := a.then[e.handle]
		delete(a.then, e.handle)
		if then != nil && e.visibility == deleteOp && !failed[e.handle] && !refused[e.handle] { // the delete SQS confirmed
			a.calls.Add(1) // inside a call: close waits for it too
			go func() { defer a.calls.Done(); then() }()
		}
	}
	if len(a.pending) > 0 {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
	if a.closing && len(a.ops) == 0 {
		close(a.idle)
		a.idle = make(chan struct{})
	}
	return again
}

// send makes the batch call and returns the handles worth trying again
// and those SQS refused for good.
func (a *acks) send(ctx context.Context, batch []ackEntry) (again, refused map[string]bool) {
	var failed []types.BatchResultErrorEntry
	var err error
	if batch[0].visibility == deleteOp {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
		for i, x := range batch {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(x.handle)}
		}
		var out *sqs.DeleteMessageBatchOutput
		out, err = a.q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(a.url), Entries: entries})
		if out != nil {
			failed = out.Failed
		}
	} else {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(batch))
		for i, x := range batch {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(x.handle), VisibilityTimeout: x.visibility}
		}
		var out *sqs.ChangeMessageVisibilityBatchOutput
		out, err = a.q.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(a.url), Entries: entries})
		if out != nil {
			failed = out.Failed
		}
	}
	if err != nil {
		a.log.Warn("sqs batch call failed", "op", opName(batch[0].visibility), "entries", len(batch), "err", err)
		again := make(map[string]bool, len(batch))
		for _, e := range batch {
			again[e.handle] = true
		}
		return again, nil
	}
	for _, f := range failed {
		i, convErr := strconv.Atoi(aws.ToString(f.Id))
		if convErr != nil || i < 0 || i >= len(batch) {
			continue
		}
		if f.SenderFault {
			// An expired receipt handle, a message already gone: retrying
			// cannot help; a delete that failed means a redelivery, which
			// the idempotency key guards against.
			a.log.Warn("sqs refused ack", "op", opName(batch[i].visibility), "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
			if refused == nil {
				refused = map[string]bool{}
			}
			refused[batch[i].handle] = true
			continue
		}
		if again == nil {
			again = map[string]bool{}
		}
		again[batch[i].handle] = true
	}
	return again, refused
}

func opName(visibility int32) string {
	if visibility == deleteOp {
		return "DeleteMessage"
	}
	return "ChangeMessageVisibility"
}

// visibilitySeconds rounds up to whole seconds within SQS's 0..12h.
func visibilitySeconds(d time.Duration) int32 {
	s := (d + time.Second - 1) / time.Second
	return int32(min(max(s, 0), 12*3600))
}
