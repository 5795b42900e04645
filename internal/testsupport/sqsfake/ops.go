package sqsfake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"
)

// required collects the fields the SDK's client-side validation would find
// missing.
type required []string

func (r *required) need(present bool, field string) {
	if !present {
		*r = append(*r, field)
	}
}

// run is the life of every call: the SDK's parameter check, the context
// check, the record and the fault decision, the operation, then the answer
// (or its loss).
func run[T any](ctx context.Context, c *Client, op string, queueURL *string, missing required, body func() (*T, error)) (*T, error) {
	if len(missing) > 0 {
		return nil, paramsFailure(op, missing)
	}
	if err := ctx.Err(); err != nil {
		return nil, c.s.answerFailure(op, err)
	}
	call, fault := c.s.begin(op, *queueURL, c.name)
	if fault == Refuse {
		return nil, faultFailure(call, fault)
	}
	out, err := body()
	if fault == LoseAnswer && (err == nil || !isContextErr(err)) {
		return nil, faultFailure(call, fault)
	}
	if err != nil {
		return nil, c.s.answerFailure(op, err)
	}
	return out, nil
}

func batchFailure(id *string, err error) types.BatchResultErrorEntry {
	e := types.BatchResultErrorEntry{Id: ptr(*id), Code: ptr("InternalError"), Message: ptr(err.Error())}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code = ptr(apiErr.ErrorCode())
		e.Message = ptr(apiErr.ErrorMessage())
		e.SenderFault = apiErr.ErrorFault() != smithy.FaultServer
	}
	return e
}

func attributeTypesPresent(r *required, prefix string, attrs map[string]types.MessageAttributeValue) {
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		r.need(attrs[name].DataType != nil, prefix+"MessageAttributes["+name+"].DataType")
	}
}

// SendMessage stores a message; see sqs.Client.SendMessage.
func (c *Client) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if in == nil {
		in = &sqs.SendMessageInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	r.need(in.MessageBody != nil, "MessageBody")
	attributeTypesPresent(&r, "", in.MessageAttributes)
	return run(ctx, c, OpSendMessage, in.QueueUrl, r, func() (*sqs.SendMessageOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		ck, err := sendSpec{
			body: in.MessageBody, delaySeconds: in.DelaySeconds, attrs: in.MessageAttributes,
			system: in.MessageSystemAttributes, groupID: in.MessageGroupId, dedupID: in.MessageDeduplicationId,
		}.check()
		if err != nil {
			return nil, err
		}
		m := s.enqueue(q, ck, c.name)
		s.settle(q, time.Now())
		return &sqs.SendMessageOutput{
			MessageId:                    ptr(m.id),
			MD5OfMessageBody:             md5Hex(m.body),
			MD5OfMessageAttributes:       attributesMD5(m.attrs),
			MD5OfMessageSystemAttributes: systemAttributesMD5(in.MessageSystemAttributes),
		}, nil
	})
}

// SendMessageBatch stores up to ten messages, each entry succeeding or
// failing on its own; see sqs.Client.SendMessageBatch.
func (c *Client) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if in == nil {
		in = &sqs.SendMessageBatchInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	r.need(in.Entries != nil, "Entries")
	ids := make([]*string, len(in.Entries))
	for i, e := range in.Entries {
		p := fmt.Sprintf("Entries[%d].", i)
		r.need(e.Id != nil, p+"Id")
		r.need(e.MessageBody != nil, p+"MessageBody")
		attributeTypesPresent(&r, p, e.MessageAttributes)
		ids[i] = e.Id
	}
	return run(ctx, c, OpSendMessageBatch, in.QueueUrl, r, func() (*sqs.SendMessageBatchOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		if err := checkBatch(ids); err != nil {
			return nil, err
		}
		checks := make([]checked, len(in.Entries))
		errs := make([]error, len(in.Entries))
		total := 0
		for i, e := range in.Entries {
			checks[i], errs[i] = sendSpec{
				body: e.MessageBody, delaySeconds: e.DelaySeconds, attrs: e.MessageAttributes,
				system: e.MessageSystemAttributes, groupID: e.MessageGroupId, dedupID: e.MessageDeduplicationId,
			}.check()
			total += checks[i].size
		}
		if total > maxMessageBytes {
			return nil, &types.BatchRequestTooLong{Message: ptr(fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", maxMessageBytes, total))}
		}
		out := &sqs.SendMessageBatchOutput{Successful: []types.SendMessageBatchResultEntry{}, Failed: []types.BatchResultErrorEntry{}}
		for i, e := range in.Entries {
			if errs[i] != nil {
				out.Failed = append(out.Failed, batchFailure(e.Id, errs[i]))
				continue
			}
			m := s.enqueue(q, checks[i], c.name)
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{
				Id:                           ptr(*e.Id),
				MessageId:                    ptr(m.id),
				MD5OfMessageBody:             md5Hex(m.body),
				MD5OfMessageAttributes:       attributesMD5(m.attrs),
				MD5OfMessageSystemAttributes: systemAttributesMD5(e.MessageSystemAttributes),
			})
		}
		s.settle(q, time.Now())
		return out, nil
	})
}

// enqueue stores a validated message under the next id. Callers hold s.mu.
func (s *SQS) enqueue(q *queue, ck checked, client string) *message {
	now := time.Now()
	s.lastID++
	sender := client
	if sender == "" {
		sender = account
	}
	system := maps.Clone(ck.system)
	system[string(types.MessageSystemAttributeNameSenderId)] = sender
	m := &message{
		seq:       s.lastID,
		id:        "m-" + strconv.Itoa(s.lastID),
		body:      ck.body,
		attrs:     ck.attrs,
		system:    system,
		sentAt:    now,
		visibleAt: now.Add(time.Duration(ck.delay) * time.Second),
	}
	q.msgs = append(q.msgs, m)
	s.record(Event{At: now, Kind: EventSent, QueueURL: q.url, MessageID: m.id, VisibleAt: m.visibleAt, Client: client})
	q.notify()
	return m
}

// DeleteMessage removes a message given its most recent receipt handle; an
// older handle, or one of a message already gone, succeeds without effect;
// see sqs.Client.DeleteMessage.
func (c *Client) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	if in == nil {
		in = &sqs.DeleteMessageInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	r.need(in.ReceiptHandle != nil, "ReceiptHandle")
	return run(ctx, c, OpDeleteMessage, in.QueueUrl, r, func() (*sqs.DeleteMessageOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		if err := s.deleteOne(q, *in.ReceiptHandle, c.name); err != nil {
			return nil, err
		}
		return &sqs.DeleteMessageOutput{}, nil
	})
}

// DeleteMessageBatch is DeleteMessage for up to ten handles, each entry
// succeeding or failing on its own; see sqs.Client.DeleteMessageBatch.
func (c *Client) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	if in == nil {
		in = &sqs.DeleteMessageBatchInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	r.need(in.Entries != nil, "Entries")
	ids := make([]*string, len(in.Entries))
	for i, e := range in.Entries {
		r.need(e.Id != nil, fmt.Sprintf("Entries[%d].Id", i))
		r.need(e.ReceiptHandle != nil, fmt.Sprintf("Entries[%d].ReceiptHandle", i))
		ids[i] = e.Id
	}
	return run(ctx, c, OpDeleteMessageBatch, in.QueueUrl, r, func() (*sqs.DeleteMessageBatchOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		if err := checkBatch(ids); err != nil {
			return nil, err
		}
		out := &sqs.DeleteMessageBatchOutput{Successful: []types.DeleteMessageBatchResultEntry{}, Failed: []types.BatchResultErrorEntry{}}
		for _, e := range in.Entries {
			if err := s.deleteOne(q, *e.ReceiptHandle, c.name); err != nil {
				out.Failed = append(out.Failed, batchFailure(e.Id, err))
				continue
			}
			out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: ptr(*e.Id)})
		}
		return out, nil
	})
}

// deleteOne applies one delete. Callers hold s.mu.
func (s *SQS) deleteOne(q *queue, handle, client string) error {
	id, ok := q.handles[handle]
	if !ok {
		return invalidHandle(handle, "is not a valid receipt handle")
	}
	m := q.find(id)
	if m == nil || m.handle != handle {
		return nil
	}
	q.remove(m)
	s.record(Event{At: time.Now(), Kind: EventDeleted, QueueURL: q.url, MessageID: m.id, Handle: handle, ReceiveCount: m.receiveCount, Client: client})
	return nil
}

func invalidHandle(handle, reason string) error {
	return &types.ReceiptHandleIsInvalid{Message: ptr(fmt.Sprintf("The input receipt handle %q %s.", handle, reason))}
}

// ChangeMessageVisibility sets how long from now an in-flight message stays
// hidden; it needs the message's most recent receipt handle; see
// sqs.Client.ChangeMessageVisibility.
func (c *Client) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if in == nil {
		in = &sqs.ChangeMessageVisibilityInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	r.need(in.ReceiptHandle != nil, "ReceiptHandle")
	return run(ctx, c, OpChangeMessageVisibility, in.QueueUrl, r, func() (*sqs.ChangeMessageVisibilityOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		if err := s.changeOne(q, *in.ReceiptHandle, in.VisibilityTimeout, c.name); err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		return &sqs.ChangeMessageVisibilityOutput{}, nil
	})
}

// ChangeMessageVisibilityBatch is ChangeMessageVisibility for up to ten
// handles, each entry succeeding or failing on its own; see
// sqs.Client.ChangeMessageVisibilityBatch.
func (c *Client) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	if in == nil {
		in = &sqs.ChangeMessageVisibilityBatchInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	r.need(in.Entries != nil, "Entries")
	ids := make([]*string, len(in.Entries))
	for i, e := range in.Entries {
		r.need(e.Id != nil, fmt.Sprintf("Entries[%d].Id", i))
		r.need(e.ReceiptHandle != nil, fmt.Sprintf("Entries[%d].ReceiptHandle", i))
		ids[i] = e.Id
	}
	return run(ctx, c, OpChangeMessageVisibilityBatch, in.QueueUrl, r, func() (*sqs.ChangeMessageVisibilityBatchOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		if err := checkBatch(ids); err != nil {
			return nil, err
		}
		out := &sqs.ChangeMessageVisibilityBatchOutput{Successful: []types.ChangeMessageVisibilityBatchResultEntry{}, Failed: []types.BatchResultErrorEntry{}}
		for _, e := range in.Entries {
			if err := s.changeOne(q, *e.ReceiptHandle, e.VisibilityTimeout, c.name); err != nil {
				out.Failed = append(out.Failed, batchFailure(e.Id, err))
				continue
			}
			out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: ptr(*e.Id)})
		}
		s.settle(q, time.Now())
		return out, nil
	})
}

// changeOne applies one visibility change. Callers hold s.mu.
func (s *SQS) changeOne(q *queue, handle string, seconds int32, client string) error {
	if seconds < 0 || time.Duration(seconds)*time.Second > maxVisibility {
		return invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and %d.", seconds, int(maxVisibility/time.Second))
	}
	id, ok := q.handles[handle]
	if !ok {
		return invalidHandle(handle, "is not a valid receipt handle")
	}
	m := q.find(id)
	if m == nil {
		return invalidHandle(handle, "belongs to a message that no longer exists in this queue")
	}
	if m.handle != handle {
		return invalidHandle(handle, "is not the most recent receipt handle of its message")
	}
	now := time.Now()
	if !m.inFlight(now) {
		return &types.MessageNotInflight{Message: ptr(fmt.Sprintf("Message %s is not in flight: its visibility timeout ended at %s.", m.id, m.visibleAt.UTC().Format(time.RFC3339Nano)))}
	}
	visibleAt := now.Add(time.Duration(seconds) * time.Second)
	if visibleAt.Sub(m.receivedAt) > maxVisibility {
		return invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [%d seconds].", seconds, int(maxVisibility/time.Second))
	}
	m.visibleAt = visibleAt
	s.record(Event{At: now, Kind: EventVisibilityChanged, QueueURL: q.url, MessageID: m.id, Handle: handle, ReceiveCount: m.receiveCount, VisibleAt: visibleAt, Client: client})
	q.notify()
	return nil
}

// GetQueueAttributes answers the queue's counts and settings; see
// sqs.Client.GetQueueAttributes. Of the settings it knows those QueueOptions
// sets, and the SQS defaults for the others; attributes the fake has no
// notion of (Policy, KMS, FIFO) are left out, as SQS leaves out unset ones.
func (c *Client) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	if in == nil {
		in = &sqs.GetQueueAttributesInput{}
	}
	var r required
	r.need(in.QueueUrl != nil, "QueueUrl")
	return run(ctx, c, OpGetQueueAttributes, in.QueueUrl, r, func() (*sqs.GetQueueAttributesOutput, error) {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(*in.QueueUrl)
		if err != nil {
			return nil, err
		}
		s.settle(q, time.Now())
		known := types.QueueAttributeName("").Values()
		all := false
		want := map[types.QueueAttributeName]bool{}
		for _, n := range in.AttributeNames {
			if !slices.Contains(known, n) {
				return nil, &types.InvalidAttributeName{Message: ptr(fmt.Sprintf("Unknown Attribute %s.", n))}
			}
			all = all || n == types.QueueAttributeNameAll
			want[n] = true
		}
		out := map[string]string{}
		for name, v := range s.queueAttributes(q, time.Now()) {
			if all || want[types.QueueAttributeName(name)] {
				out[name] = v
			}
		}
		return &sqs.GetQueueAttributesOutput{Attributes: out}, nil
	})
}

// queueAttributes lists every attribute the fake can answer. Callers hold
// s.mu.
func (s *SQS) queueAttributes(q *queue, now time.Time) map[string]string {
	var visible, inFlight, delayed int
	for _, m := range q.msgs {
		switch {
		case m.visible(now):
			visible++
		case m.inFlight(now):
			inFlight++
		default:
			delayed++
		}
	}
	itoa := strconv.Itoa
	a := map[string]string{
		string(types.QueueAttributeNameApproximateNumberOfMessages):           itoa(visible),
		string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible): itoa(inFlight),
		string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed):    itoa(delayed),
		string(types.QueueAttributeNameQueueArn):                              q.arn,
		string(types.QueueAttributeNameVisibilityTimeout):                     itoa(int(q.opts.VisibilityTimeout / time.Second)),
		string(types.QueueAttributeNameCreatedTimestamp):                      strconv.FormatInt(q.created.Unix(), 10),
		string(types.QueueAttributeNameLastModifiedTimestamp):                 strconv.FormatInt(q.created.Unix(), 10),
		string(types.QueueAttributeNameDelaySeconds):                          "0",
		string(types.QueueAttributeNameMaximumMessageSize):                    itoa(maxMessageBytes),
		string(types.QueueAttributeNameMessageRetentionPeriod):                itoa(retentionSeconds),
		string(types.QueueAttributeNameReceiveMessageWaitTimeSeconds):         "0",
	}
	if q.opts.RedriveTo != "" {
		a[string(types.QueueAttributeNameRedrivePolicy)] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, s.queues[q.opts.RedriveTo].arn, q.opts.MaxReceiveCount)
	}
	return a
}

// The methods of SQS are those of an anonymous client.

// ReceiveMessage: see Client.ReceiveMessage.
func (s *SQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return s.root.ReceiveMessage(ctx, in, optFns...)
}

// DeleteMessage: see Client.DeleteMessage.
func (s *SQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return s.root.DeleteMessage(ctx, in, optFns...)
}

// DeleteMessageBatch: see Client.DeleteMessageBatch.
func (s *SQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return s.root.DeleteMessageBatch(ctx, in, optFns...)
}

// ChangeMessageVisibility: see Client.ChangeMessageVisibility.
func (s *SQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return s.root.ChangeMessageVisibility(ctx, in, optFns...)
}

// ChangeMessageVisibilityBatch: see Client.ChangeMessageVisibilityBatch.
func (s *SQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return s.root.ChangeMessageVisibilityBatch(ctx, in, optFns...)
}

// SendMessage: see Client.SendMessage.
func (s *SQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return s.root.SendMessage(ctx, in, optFns...)
}

// SendMessageBatch: see Client.SendMessageBatch.
func (s *SQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return s.root.SendMessageBatch(ctx, in, optFns...)
}

// GetQueueAttributes: see Client.GetQueueAttributes.
func (s *SQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return s.root.GetQueueAttributes(ctx, in, optFns...)
}
