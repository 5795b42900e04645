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
// entries, flushed when full or after flushEvery. Entries SQS fails on its
// side are tried again; the rest are logged with their code.
type acks struct {
	q          Queue
	url        string
	log        *slog.Logger
	flushEvery time.Duration
	in         chan ack
	done       chan struct{}
	calls      sync.WaitGroup
	slots      chan struct{} // batch calls in flight at most
}

// ack is one delete (visibility < 0) or visibility change.
type ack struct {
	handle     string
	visibility int32
}

const (
	maxAckTries   = 4
	ackCallsLimit = 8
	ackTimeout    = 10 * time.Second
)

func newAcks(q Queue, url string, log *slog.Logger) *acks {
	a := &acks{q: q, url: url, log: log, flushEvery: 50 * time.Millisecond,
		in: make(chan ack, 256), done: make(chan struct{}), slots: make(chan struct{}, ackCallsLimit)}
	go a.run()
	return a
}

// delete deletes a message from the queue.
func (a *acks) delete(handle string) { a.in <- ack{handle: handle, visibility: -1} }

// setVisibility makes a message visible again after d (0: at once).
func (a *acks) setVisibility(handle string, d time.Duration) {
	a.in <- ack{handle: handle, visibility: visibilitySeconds(d)}
}

// close flushes what is pending and waits for every call to end.
func (a *acks) close() {
	close(a.in)
	<-a.done
	a.calls.Wait()
}

func (a *acks) run() {
	defer close(a.done)
	var dels, vis []ack
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	flush := func() {
		if len(dels) > 0 {
			a.call(dels)
			dels = nil
		}
		if len(vis) > 0 {
			a.call(vis)
			vis = nil
		}
		armed = false
	}
	for {
		select {
		case x, ok := <-a.in:
			if !ok {
				flush()
				return
			}
			if x.visibility < 0 {
				dels = append(dels, x)
				if len(dels) == 10 {
					a.call(dels)
					dels = nil
				}
			} else {
				vis = append(vis, x)
				if len(vis) == 10 {
					a.call(vis)
					vis = nil
				}
			}
			if !armed && len(dels)+len(vis) > 0 {
				timer.Reset(a.flushEvery)
				armed = true
			}
		case <-timer.C:
			flush()
		}
	}
}

// call sends one batch in its own goroutine, at most ackCallsLimit at once,
// trying the entries SQS failed on its side again a few times.
func (a *acks) call(batch []ack) {
	a.slots <- struct{}{}
	a.calls.Add(1)
	go func() {
		defer func() { <-a.slots; a.calls.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		defer cancel()
		for try := 1; ; try++ {
			batch = a.send(ctx, batch)
			if len(batch) == 0 {
				return
			}
			if try == maxAckTries || ctx.Err() != nil {
				a.log.Error("sqs ack failed", "op", opName(batch[0]), "entries", len(batch), "tries", try)
				return
			}
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		}
	}()
}

// send makes the batch call and returns the entries worth trying again.
func (a *acks) send(ctx context.Context, batch []ack) []ack {
	var failed []types.BatchResultErrorEntry
	var err error
	if batch[0].visibility < 0 {
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
		a.log.Warn("sqs batch call failed", "op", opName(batch[0]), "entries", len(batch), "err", err)
		return batch
	}
	var retry []ack
	for _, f := range failed {
		i, convErr := strconv.Atoi(aws.ToString(f.Id))
		if convErr != nil || i < 0 || i >= len(batch) {
			continue
		}
		if f.SenderFault {
			// An expired receipt handle, a message already gone: retrying
			// cannot help; a delete that failed means a redelivery, which
			// the idempotency key guards against.
			a.log.Warn("sqs refused ack", "op", opName(batch[i]), "code", aws.ToString(f.Code), "message", aws.ToString(f.Message))
			continue
		}
		retry = append(retry, batch[i])
	}
	return retry
}

func opName(x ack) string {
	if x.visibility < 0 {
		return "DeleteMessage"
	}
	return "ChangeMessageVisibility"
}

// visibilitySeconds rounds up to whole seconds within SQS's 0..12h.
func visibilitySeconds(d time.Duration) int32 {
	s := (d + time.Second - 1) / time.Second
	return int32(min(max(s, 0), 12*3600))
}
