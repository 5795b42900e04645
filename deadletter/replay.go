package deadletter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/glob"
	"github.com/sesq/sesq/payload"
)

// Filter selects dead letters; zero fields match everything.
type Filter struct {
	Reason    string
	ErrorCode string
	Identity  string // glob, see internal/glob
	Region    string
	Tenant    string        // exact
	OlderThan time.Duration // failed longer ago than this
	NewerThan time.Duration // failed more recently than this
}

// Match tells whether the entry passes the filter at now.
func (f Filter) Match(e Entry, now time.Time) bool {
	switch {
	case f.Reason != "" && e.Reason != f.Reason,
		f.ErrorCode != "" && e.ErrorCode != f.ErrorCode,
		f.Region != "" && e.Region != f.Region,
		f.Tenant != "" && e.Tenant != f.Tenant,
		f.Identity != "" && !glob.Match(f.Identity, e.Identity),
		f.OlderThan > 0 && !e.FailedAt.Before(now.Add(-f.OlderThan)),
		f.NewerThan > 0 && !e.FailedAt.After(now.Add(-f.NewerThan)):
		return false
	}
	return true
}

// ReplayOptions say what to replay where.
type ReplayOptions struct {
	To             string // target queue URL
	Filter         Filter
	Max            int     // move at most this many; 0: all
	Rate           float64 // messages per second; 0: unlimited
	DryRun         bool    // report, move nothing
	MaxReplays     int     // skip messages replayed this often already
	IncludeInvalid bool    // replay reason invalid too (it fails again unless the code changed)
	Now            func() time.Time
	// Progress, when set, is called after each batch.
	Progress func(ReplaySummary)
}

// ReplaySummary counts what a replay did.
type ReplaySummary struct {
	Moved          int // sent to the target and deleted from the dead-letter queue (dry run: would be)
	Filtered       int // not matched by the filter
	SkippedReplays int // replayed MaxReplays times already
	SkippedInvalid int // reason invalid, without IncludeInvalid
	Failed         int // could not be sent (or deleted after sending: then also in the target)
	Elapsed        time.Duration
}

// Skipped is every message left in place on purpose.
func (s ReplaySummary) Skipped() int { return s.Filtered + s.SkippedReplays + s.SkippedInvalid }

// Replay moves matching messages from the dead-letter queue at dlqURL to
// opts.To: the body byte for byte, the producer's attributes and the X-Ray
// trace header (so the message's trace goes on), sesq's own attributes dropped (the failure attributes, a ledger) and sesq-replays
// counted up: a replayed message starts with a fresh attempt budget. A message is deleted from
// the dead-letter queue only after the target accepted it; whatever is not
// moved is made visible again. The error reports a failure to read the
// dead-letter queue; messages that failed to move are counted in Failed.
//
// The message keeps its MessageGroupId. Into a FIFO queue it goes with its
// group (DeadLetterGroup when it has none) and, as its deduplication id,
// its MessageId in the dead-letter queue: a replay that sent a message but
// was stopped before deleting it, run again within five minutes, does not
// enqueue it twice. A FIFO dead-letter queue hands out no more of a group
// while messages of it are held, so Replay moves what each receive brought
// before it receives again; still, a group whose message it leaves in place
// (filtered, skipped, a dry run) stays locked for the rest of the scan, and
// the group's later messages stay where they are, unseen.
func Replay(ctx context.Context, q Queue, dlqURL string, opts ReplayOptions) (ReplaySummary, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	var sum ReplaySummary
	s := newScanner(q, dlqURL)
	batchMax := 10
	if opts.Rate > 0 && opts.Rate < 10 {
		batchMax = max(1, int(opts.Rate))
	}
	var pending []types.Message
	fifo := envelope.IsFIFO(dlqURL)
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if opts.Rate > 0 && !opts.DryRun { // pace: the moves so far may not run ahead of the rate
			due := start.Add(time.Duration(float64(sum.Moved+sum.Failed+len(pending)) / opts.Rate * float64(time.Second)))
			if d := due.Sub(now()); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if opts.DryRun {
			sum.Moved += len(pending)
		} else {
			moved, failed := move(context.WithoutCancel(ctx), q, s, dlqURL, opts.To, pending)
			sum.Moved += moved
			sum.Failed += failed
		}
		pending = pending[:0]
		if opts.Progress != nil {
			sum.Elapsed = now().Sub(start)
			opts.Progress(sum)
		}
	}
	err := s.each(ctx, func(msgs []types.Message) bool {
		for _, m := range msgs {
			entry := Describe(m)
			switch {
			case !opts.Filter.Match(entry, now()):
				sum.Filtered++
			case opts.MaxReplays > 0 && entry.Replays >= opts.MaxReplays:
				sum.SkippedReplays++
			case entry.Reason == "invalid" && !opts.IncludeInvalid:
				sum.SkippedInvalid++
			default:
				if opts.Max > 0 && sum.Moved+sum.Failed+len(pending) >= opts.Max {
					return false
				}
				pending = append(pending, m)
				if len(pending) == batchMax {
					flush()
				}
			}
		}
		if fifo { // its groups stay locked until what SQS handed out is deleted
			flush()
		}
		return true
	}, flush) // what is pending moves before the rest is released
	sum.Elapsed = now().Sub(start)
	return sum, err
}

// move sends one batch to the target and deletes what it accepted.
func move(ctx context.Context, q Queue, s *scanner, dlqURL, to string, msgs []types.Message) (moved, failed int) {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		attrs := map[string]types.MessageAttributeValue{}
		for _, k := range Carried(m.MessageAttributes) {
			attrs[k] = m.MessageAttributes[k]
		}
		replays := 0
		if v, ok := attrs[AttrReplays]; ok {
			replays, _ = strconv.Atoi(aws.ToString(v.StringValue))
		}
		attrs[AttrReplays] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(strconv.Itoa(replays + 1))}
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: attrs,
			MessageSystemAttributes: CarriedSystem(m), MessageGroupId: CarriedGroup(m)}
		if envelope.IsFIFO(to) {
			entries[i].MessageGroupId, entries[i].MessageDeduplicationId = fifoIDs(m)
		}
	}
	out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(to), Entries: entries})
	if err != nil {
		return 0, len(msgs) // all stay in the dead-letter queue
	}
	var del []types.DeleteMessageBatchRequestEntry
	for _, ok := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(ok.Id))
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: ok.Id, ReceiptHandle: msgs[i].ReceiptHandle})
	}
	failed = len(msgs) - len(del)
	if len(del) == 0 {
		return 0, failed
	}
	dout, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlqURL), Entries: del})
	if err != nil {
		// Sent but still in the dead-letter queue: a later replay would
		// send it again; count it as failed so the operator looks.
		return 0, len(msgs)
	}
	bad := map[string]bool{}
	for _, f := range dout.Failed {
		bad[aws.ToString(f.Id)] = true
	}
	for _, d := range del {
		if bad[aws.ToString(d.Id)] {
			failed++
			continue
		}
		i, _ := strconv.Atoi(aws.ToString(d.Id))
		s.forget(aws.ToString(msgs[i].MessageId))
		moved++
	}
	return moved, failed
}

// PurgeOptions say what to purge.
type PurgeOptions struct {
	Filter Filter
	Now    time.Time // the filter's ages are counted from it; zero: time.Now()
	// Payloads deletes the S3 payload of each purged dead letter whose body
	// points at one (an SQS Extended Client pointer, package payload),
	// after the message is deleted, when Payloads lists its bucket
	// (payload.Store.Buckets). A payload in another bucket, or any when
	// Payloads is nil, is left in S3, untouched, and counted.
	Payloads *payload.Store
}

// PurgeSummary counts what a purge did.
type PurgeSummary struct {
	Deleted []Entry
	Kept    int
	Failed  int
	// Of the deleted dead letters that pointed at an S3 payload: the
	// payloads deleted with them, those left in S3 (their bucket is not
	// one the purge may touch), and those whose delete failed (left too,
	// PayloadErr the first failure). What is left, the payload bucket's
	// lifecycle rule expires.
	PayloadsDeleted, PayloadsLeft, PayloadsFailed int
	PayloadErr                                    error
}

// Purge deletes the messages of the dead-letter queue at url that match the
// filter, and their S3 payloads as opts.Payloads allows; the rest are made
// visible again. A payload is deleted only after its message is: a failure
// between the two leaves an object without a message (which the bucket's
// lifecycle rule expires), never a message without its object. On a FIFO
// queue a group with a message kept stays locked for the rest of the scan
// (SQS hands out no more of it): its later messages are neither seen nor
// deleted.
func Purge(ctx context.Context, q Queue, url string, opts PurgeOptions) (PurgeSummary, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var sum PurgeSummary
	s := newScanner(q, url)
	var delErr error
	err := s.each(ctx, func(msgs []types.Message) bool {
		var del []types.DeleteMessageBatchRequestEntry
		var entries []Entry
		var bodies []string
		for _, m := range msgs {
			e := Describe(m)
			if !opts.Filter.Match(e, now) {
				sum.Kept++
				continue
			}
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(del))), ReceiptHandle: m.ReceiptHandle})
			entries = append(entries, e)
			bodies = append(bodies, aws.ToString(m.Body))
		}
		if len(del) == 0 {
			return true
		}
		out, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
		if err != nil {
			sum.Failed += len(del)
			delErr = fmt.Errorf("delete from %s: %w", url, err)
			return false
		}
		bad := map[string]bool{}
		for _, f := range out.Failed {
			bad[aws.ToString(f.Id)] = true
		}
		for i, d := range del {
			if bad[aws.ToString(d.Id)] {
				sum.Failed++
				continue
			}
			s.forget(entries[i].MessageID)
			sum.Deleted = append(sum.Deleted, entries[i])
			if entries[i].PayloadBucket != "" {
				// The message is gone: its payload goes too, even if the
				// purge is being stopped.
				sum.deletePayload(context.WithoutCancel(ctx), opts.Payloads, bodies[i])
			}
		}
		return true
	}, nil)
	if delErr != nil {
		err = delErr
	}
	return sum, err
}

// deletePayload deletes the payload body points at, if the store may.
func (sum *PurgeSummary) deletePayload(ctx context.Context, store *payload.Store, body string) {
	p, err := payload.Parse(body)
	if err != nil {
		return // Describe found a pointer: not reached
	}
	if store == nil || !store.Allowed(p.Bucket) {
		sum.PayloadsLeft++
		return
	}
	if err := store.Delete(ctx, p); err != nil {
		sum.PayloadsFailed++
		if sum.PayloadErr == nil {
			sum.PayloadErr = err
		}
		return
	}
	sum.PayloadsDeleted++
}
