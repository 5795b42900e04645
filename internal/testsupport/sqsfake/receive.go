package sqsfake

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// ReceiveMessage hands out up to MaxNumberOfMessages (default 1) visible
// messages, oldest first, hiding each for the request's VisibilityTimeout
// (0: the queue's) and giving it a new receipt handle; see
// sqs.Client.ReceiveMessage.
//
// With WaitTimeSeconds > 0 it is a long poll: it returns as soon as at
// least one message is visible, with what is visible then, or empty when
// the wait ends. A context ended during the wait returns the context's
// error and takes nothing. While waiting it blocks only on channels and
// timers, so inside a synctest bubble the fake clock advances through the
// wait; it never outlives its wait or its context.
func (c *Client) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if in == nil {
		in = &sqs.ReceiveMessageInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	return run(ctx, c, OpReceiveMessage, in.QueueUrl, r, func() (*sqs.ReceiveMessageOutput, error) {
		return c.receive(ctx, in)
	})
}

func (c *Client) receive(ctx context.Context, in *sqs.ReceiveMessageInput) (*sqs.ReceiveMessageOutput, error) {
	max := int(in.MaxNumberOfMessages)
	if max == 0 {
		max = 1
	}
	if max < 1 || max > maxBatchEntries {
		return nil, invalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and %d, if provided.", max, maxBatchEntries)
	}
	if in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > maxWaitSeconds {
		return nil, invalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= %d, if provided.", in.WaitTimeSeconds, maxWaitSeconds)
	}
	if in.VisibilityTimeout < 0 || time.Duration(in.VisibilityTimeout)*time.Second > maxVisibility {
		return nil, invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and %d.", in.VisibilityTimeout, int(maxVisibility/time.Second))
	}
	sel := newSelection(in)
	wait := time.Duration(in.WaitTimeSeconds) * time.Second

	s := c.s
	s.mu.Lock()
	q, err := s.queue(*in.QueueUrl)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	visibility := q.opts.VisibilityTimeout
	if in.VisibilityTimeout > 0 {
		visibility = time.Duration(in.VisibilityTimeout) * time.Second
	}
	now := time.Now()
	w := &waiter{ctx: ctx, max: max, visibility: visibility, sel: sel, client: c.name, deadline: now.Add(wait)}
	q.waiters = append(q.waiters, w)
	s.settle(q, now)
	var deadlineC <-chan time.Time
	if !w.finished {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadlineC = t.C
	}
	for !w.finished {
		w.wake = make(chan struct{})
		wake := w.wake
		var nextC <-chan time.Time
		var next *time.Timer
		if at, ok := q.nextVisible(now); ok {
			next = time.NewTimer(at.Sub(now))
			nextC = next.C
		}
		s.mu.Unlock()

		select {
		case <-ctx.Done():
		case <-deadlineC:
			deadlineC = nil
		case <-nextC:
		case <-wake:
		}
		if next != nil {
			next.Stop()
		}

		s.mu.Lock()
		now = time.Now()
		s.settle(q, now)
	}
	s.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	return &sqs.ReceiveMessageOutput{Messages: w.got}, nil
}

// take receives up to max visible messages, oldest first, moving to the
// dead-letter queue those that already reached the redrive threshold.
// Callers hold s.mu.
func (s *SQS) take(q *queue, now time.Time, max int, visibility time.Duration, sel selection, client string) []types.Message {
	var out []types.Message
	for len(out) < max {
		m := q.oldestVisible(now)
		if m == nil {
			break
		}
		if q.opts.RedriveTo != "" && m.receiveCount >= q.opts.MaxReceiveCount {
			s.moveToDLQ(q, m, now, client)
			continue
		}
		m.receiveCount++
		if m.receiveCount == 1 {
			m.firstReceive = now
		}
		m.handle = m.id + "#" + strconv.Itoa(m.receiveCount)
		m.receivedAt = now
		m.visibleAt = now.Add(visibility)
		q.handles[m.handle] = m.id
		s.record(Event{At: now, Kind: EventReceived, QueueURL: q.url, MessageID: m.id, Handle: m.handle, ReceiveCount: m.receiveCount, VisibleAt: m.visibleAt, Client: client})
		out = append(out, m.render(sel))
	}
	return out
}

// moveToDLQ is SQS's redrive: the message leaves q, with its id, body,
// attributes, sent time and receive count, and is visible at once in the
// dead-letter queue. Handles issued by q stay known to q, so deleting with
// them succeeds without effect, as for any message gone. Callers hold s.mu.
func (s *SQS) moveToDLQ(q *queue, m *message, now time.Time, client string) {
	dlq := s.queues[q.opts.RedriveTo]
	q.remove(m)
	m.system = maps.Clone(m.system)
	m.system[string(types.MessageSystemAttributeNameDeadLetterQueueSourceArn)] = q.arn
	m.visibleAt = now
	m.handle = ""
	m.receivedAt = time.Time{}
	dlq.msgs = append(dlq.msgs, m)
	s.record(Event{At: now, Kind: EventMovedToDLQ, QueueURL: q.url, MessageID: m.id, ReceiveCount: m.receiveCount, VisibleAt: now, To: dlq.url, Client: client})
	s.settle(dlq, now)
}

// selection is which attributes a receive asked for.
type selection struct {
	allSystem bool
	system    map[string]bool
	allAttrs  bool
	attrs     []string // names, or "prefix.*"
}

func newSelection(in *sqs.ReceiveMessageInput) selection {
	sel := selection{system: map[string]bool{}}
	for _, n := range in.MessageSystemAttributeNames {
		sel.allSystem = sel.allSystem || n == types.MessageSystemAttributeNameAll
		sel.system[string(n)] = true
	}
	// AttributeNames is the deprecated way to ask for system attributes; SQS
	// still honours it.
	for _, n := range in.AttributeNames {
		sel.allSystem = sel.allSystem || n == types.QueueAttributeNameAll
		sel.system[string(n)] = true
	}
	for _, n := range in.MessageAttributeNames {
		sel.allAttrs = sel.allAttrs || n == "All" || n == ".*"
		sel.attrs = append(sel.attrs, n)
	}
	return sel
}

func (sel selection) wantAttr(name string) bool {
	if sel.allAttrs {
		return true
	}
	for _, n := range sel.attrs {
		if n == name {
			return true
		}
		if prefix, ok := strings.CutSuffix(n, ".*"); ok && strings.HasPrefix(name, prefix+".") {
			return true
		}
	}
	return false
}

// render is m as a receive returns it, with the attributes sel asked for.
func (m *message) render(sel selection) types.Message {
	out := types.Message{
		MessageId:     ptr(m.id),
		ReceiptHandle: ptr(m.handle),
		Body:          ptr(m.body),
		MD5OfBody:     md5Hex(m.body),
	}
	system := maps.Clone(m.system)
	system[string(types.MessageSystemAttributeNameSentTimestamp)] = millis(m.sentAt)
	system[string(types.MessageSystemAttributeNameApproximateReceiveCount)] = strconv.Itoa(m.receiveCount)
	system[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)] = millis(m.firstReceive)
	for name, v := range system {
		if sel.allSystem || sel.system[name] {
			if out.Attributes == nil {
				out.Attributes = map[string]string{}
			}
			out.Attributes[name] = v
		}
	}
	for name, v := range m.attrs {
		if !sel.wantAttr(name) {
			continue
		}
		if out.MessageAttributes == nil {
			out.MessageAttributes = map[string]types.MessageAttributeValue{}
		}
		cp := types.MessageAttributeValue{DataType: ptr(*v.DataType)}
		if v.StringValue != nil {
			cp.StringValue = ptr(*v.StringValue)
		} else {
			cp.BinaryValue = append([]byte(nil), v.BinaryValue...)
		}
		out.MessageAttributes[name] = cp
	}
	out.MD5OfMessageAttributes = attributesMD5(out.MessageAttributes)
	return out
}

func millis(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10)
}
