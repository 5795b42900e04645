package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/idempotency"
	"github.com/sesq/sesq/retry"
)

// maxDelaySeconds is the longest DelaySeconds SQS takes (15 minutes).
const maxDelaySeconds = 900

// step is what the worker does with a message after deciding on it.
type step int

const (
	stepDelete     step = iota // sent: delete
	stepDeadLetter             // write to the DLQ, then delete
	stepHandBack               // make visible again after delay
	stepDefer                  // re-enqueue with a delay, then delete
	stepRedefer                // a deferral not yet due: re-enqueue for the rest of it, then delete
	stepRequeue                // shutdown: re-enqueue now with the exact attempt count, then delete
)

// verdict is the decision on one delivery: the step and why.
type verdict struct {
	step     step
	outcome  retry.Outcome
	attempts int           // send attempts made over all deliveries
	delay    time.Duration // for stepHandBack and stepDefer
	sesID    string
}

// delivery is one received message and what is known about it.
type delivery struct {
	msg      types.Message
	handle   string
	env      *envelope.Envelope // nil when the body is not a valid envelope
	received time.Time
}

// handle decides on one message and acts on the decision. ctx ends when the
// worker stops receiving (waits for a retry end then); work ends at the
// shutdown deadline (sends in flight are cut off then).
func (w *Worker) handle(ctx, work context.Context, m types.Message) {
	d := &delivery{msg: m, handle: aws.ToString(m.ReceiptHandle), received: w.now()}
	v := w.decide(ctx, work, d)
	// Recording the outcome (a dead-letter write, a re-enqueue) is short
	// and is let finish even past the shutdown deadline.
	actCtx, cancel := context.WithTimeout(context.WithoutCancel(work), actTimeout)
	defer cancel()
	w.act(actCtx, d, v)
}

// maxThrottleRetries bounds the rate-throttled sends of one delivery that
// use up no attempt; past it they count like other transient faults.
const maxThrottleRetries = 50

// actTimeout bounds the SQS calls that record an outcome.
const actTimeout = 10 * time.Second

func (w *Worker) decide(ctx, work context.Context, d *delivery) verdict {
	attrs := d.msg.MessageAttributes
	base := attrInt(attrs, attrAttempts)
	if until, ok := deferredUntil(attrs); ok && until.After(d.received) {
		// A deferral longer than SQS's longest delay, not due yet.
		return verdict{step: stepRedefer, outcome: retry.Outcome{Class: retry.Quota, Code: "Deferred"}, attempts: base, delay: until.Sub(d.received)}
	}
	env, err := envelope.Parse([]byte(aws.ToString(d.msg.Body)))
	if err != nil {
		return deadLetter(retry.Invalid, "InvalidEnvelope", err.Error(), base)
	}
	d.env = env
	if v, ok := w.transport.(Validator); ok {
		if err := v.Validate(env); err != nil {
			return deadLetter(retry.Invalid, "InvalidEnvelope", err.Error(), base)
		}
	}
	if !allowed(w.cfg.AllowedIdentities, env.IdentityARNs()) {
		return deadLetter(retry.Forbidden, "IdentityNotAllowed", "identity matches no SESQ_ALLOWED_IDENTITIES pattern", base)
	}
	if env.Expired(d.received) {
		return deadLetter(retry.Expired, "Expired", "notAfter passed before the first attempt", base)
	}
	st, err := w.dedupe.Begin(work, env.Key())
	switch {
	case err != nil:
		// The store is out of reach: send anyway. At least once beats
		// never; a duplicate is the lesser harm.
		w.log.Warn("idempotency store unavailable; sending without duplicate check", "envelope_id", env.Key(), "err", err)
		return w.attempt(ctx, work, d, env, base)
	case st == idempotency.Sent:
		return verdict{step: stepDelete, outcome: retry.Outcome{Class: retry.Sent, Code: "Duplicate", Message: "SES accepted this envelope id before"}, attempts: base}
	case st == idempotency.InProgress:
		return verdict{step: stepHandBack, outcome: retry.Outcome{Class: retry.Retry, Code: "InProgress", Message: "the same envelope id is being sent"}, attempts: base, delay: w.cfg.SendTimeout}
	}
	finished := false
	defer func() {
		if !finished { // a panic in the send: give the key back
			w.dedupe.Release(context.WithoutCancel(work), env.Key())
		}
	}()
	v := w.attempt(ctx, work, d, env, base)
	finished = true
	if v.outcome.Class == retry.Sent {
		err = w.dedupe.Done(work, env.Key())
	} else {
		err = w.dedupe.Release(work, env.Key())
	}
	if err != nil {
		w.log.Warn("idempotency store update failed", "envelope_id", env.Key(), "err", err)
	}
	return v
}

// attempt sends, and tries again while the delays are short, until an
// outcome; base is the attempts recorded on the message.
func (w *Worker) attempt(ctx, work context.Context, d *delivery, env *envelope.Envelope, base int) verdict {
	attempt := w.policy.FirstAttempt(base, receiveCount(d.msg))
	if attempt > w.cfg.MaxAttempts {
		return deadLetter(retry.Exhausted, "AttemptsExhausted", fmt.Sprintf("no attempt left after %d receives", receiveCount(d.msg)), attempt-1)
	}
	limit := w.limits.For(work, env.Region())
	throttles := 0
	for {
		if ok, wait := w.breakers.Allow(env.Region()); !ok {
			// SES in this region keeps failing: back to the queue, no
			// attempt used, until the breaker lets a probe through.
			return verdict{step: stepRequeue, outcome: retry.Outcome{Class: retry.Retry, Code: "RegionUnavailable", Message: "SES in " + env.Region() + " keeps failing; sends there paused"}, attempts: attempt - 1, delay: wait}
		}
		ticket, err := limit.Wait(ctx)
		if err != nil { // stopping before the send: hand back unsent
			return verdict{step: stepRequeue, outcome: retry.Outcome{Class: retry.Retry, Code: "Shutdown", Message: "stopped before the send"}, attempts: attempt - 1}
		}
		callCtx, cancel := context.WithTimeout(work, w.cfg.SendTimeout)
		began := w.now()
		id, err := w.transport.Send(callCtx, env)
		cancel()
		o := retry.Classify(err)
		rateThrottled := o.Class == retry.Retry && o.Code == "Throttling"
		w.metrics.SESCall(env.Region(), env.Action, w.now().Sub(began), o.Code == "Throttling")
		switch {
		case rateThrottled:
			limit.Throttled(ticket)
		case o.Class == retry.Sent:
			limit.Succeeded(ticket)
		}
		switch {
		case o.Class == retry.Retry && !rateThrottled && ctx.Err() == nil && work.Err() == nil:
			if w.breakers.Failure(env.Region()) {
				w.log.Error("SES keeps failing in a region; sends there paused", "region", env.Region(), "code", o.Code)
			}
		case o.Class != retry.Unavailable:
			w.breakers.Success(env.Region()) // SES answered: the region works
		}
		if rateThrottled && throttles < maxThrottleRetries && work.Err() == nil && ctx.Err() == nil {
			// Not sent, and the limiter has slowed down: go again at the
			// new pace without using up an attempt.
			throttles++
			continue
		}
		if o.Class != retry.Sent && work.Err() != nil {
			// Cut off by the shutdown deadline: whether SES took it is
			// unknown. Hand it back; the idempotency key guards a resend.
			return verdict{step: stepRequeue, outcome: o, attempts: attempt}
		}
		switch o.Class {
		case retry.Sent:
			return verdict{step: stepDelete, outcome: o, attempts: attempt, sesID: id}
		case retry.Quota:
			// Not counted: the next attempt is the same number.
			return verdict{step: stepDefer, outcome: o, attempts: attempt - 1, delay: w.cfg.QuotaDelay}
		case retry.Unavailable:
			// Our credentials, not the message: pause receiving, and put the
			// message back uncounted for after the pause.
			pause := w.cfg.BackoffMax
			if w.pausedUntil.Load() < w.now().Add(pause).UnixNano() {
				w.pausedUntil.Store(w.now().Add(pause).UnixNano())
				w.log.Error("the transport refused sesq's credentials; receives paused", "code", o.Code, "error", redactAddresses(o.Message), "pause_s", pause.Seconds())
			}
			return verdict{step: stepRequeue, outcome: o, attempts: attempt - 1, delay: pause}
		case retry.Retry:
			if attempt >= w.cfg.MaxAttempts {
				return deadLetter(retry.Exhausted, o.Code, o.Message, attempt)
			}
			delay := w.policy.Delay(attempt)
			if !w.policy.WaitsInProcess(attempt) {
				return verdict{step: stepHandBack, outcome: o, attempts: attempt, delay: delay}
			}
			w.log.Debug("send failed; retrying", "envelope_id", env.Key(), "attempt", attempt, "code", o.Code, "retry_in_s", delay.Seconds())
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return verdict{step: stepRequeue, outcome: o, attempts: attempt}
			}
			attempt++
			if env.Expired(w.now()) {
				return deadLetter(retry.Expired, o.Code, "notAfter passed while retrying: "+o.Message, attempt-1)
			}
		default:
			return deadLetter(o.Class, o.Code, o.Message, attempt)
		}
	}
}

func deadLetter(c retry.Class, code, msg string, attempts int) verdict {
	return verdict{step: stepDeadLetter, outcome: retry.Outcome{Class: c, Code: code, Message: msg}, attempts: attempts}
}

// act carries out a verdict. A message leaves the queue only once its fate is
// safe elsewhere: sent, written to the dead-letter queue or re-enqueued.
func (w *Worker) act(ctx context.Context, d *delivery, v verdict) {
	w.flight.untrack(d.handle)
	switch v.step {
	case stepDelete:
		w.acks.delete(d.handle)
		if ms, err := strconv.ParseInt(d.msg.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			w.metrics.QueueLag(w.now().Sub(time.UnixMilli(ms)))
		}
	case stepHandBack:
		w.acks.setVisibility(d.handle, v.delay)
	case stepDeadLetter:
		err := w.dlq.Write(ctx, aws.ToString(d.msg.Body), d.msg.MessageAttributes, deadletter.Failure{
			Reason: v.outcome.Class.String(), Code: v.outcome.Code, Error: v.outcome.Message, Attempts: v.attempts, At: w.now(),
		})
		if err != nil {
			// Not deleted: it comes back after the delay and is tried again.
			w.log.Error("dead-letter write failed; message handed back", "sqs_message_id", aws.ToString(d.msg.MessageId), "reason", v.outcome.Class.String(), "err", err)
			w.acks.setVisibility(d.handle, w.cfg.BackoffMax)
			return
		}
		w.metrics.DeadLetter(v.outcome.Class.String())
		w.acks.delete(d.handle)
	case stepDefer, stepRedefer, stepRequeue:
		if err := w.requeue(ctx, d.msg, v); err != nil {
			w.log.Error("re-enqueue failed; message handed back", "sqs_message_id", aws.ToString(d.msg.MessageId), "err", err)
			w.acks.setVisibility(d.handle, min(v.delay, 12*time.Hour))
			return
		}
		w.acks.delete(d.handle)
	}
	w.logOutcome(d, v)
}

// requeue puts the message back on the source queue as a new message that
// records the attempts made so far (sesq-attempts), after delay; the caller
// deletes the original. Three uses, by step:
//
//   - stepDefer, a quota deferral: a quota can last hours, and a fresh
//     message keeps receive counts (and the queue's redrive) out of it.
//     sesq-defer-until records when it is due, since SQS delays a message
//     15 minutes at most; sesq-deferrals counts deferrals.
//   - stepRedefer: such a deferral received before it is due goes back for
//     the rest of it.
//   - stepRequeue, a hand-back at shutdown: a plain visibility change would
//     raise the receive count, which the next delivery would read as
//     attempts never made (see retry.Policy.FirstAttempt).
func (w *Worker) requeue(ctx context.Context, m types.Message, v verdict) error {
	attrs := map[string]types.MessageAttributeValue{attrAttempts: stringAttr(strconv.Itoa(v.attempts))}
	deferrals := attrInt(m.MessageAttributes, attrDeferrals)
	delay := v.delay
	switch v.step {
	case stepDefer:
		deferrals++
		attrs[attrDeferUntil] = stringAttr(w.now().Add(delay).UTC().Format(time.RFC3339Nano))
	default: // stepRedefer, stepRequeue: a deferral stays due when it was
		if u, ok := m.MessageAttributes[attrDeferUntil]; ok {
			attrs[attrDeferUntil] = u
		}
	}
	if deferrals > 0 {
		attrs[attrDeferrals] = stringAttr(strconv.Itoa(deferrals))
	}
	for _, k := range deadletter.Carried(m.MessageAttributes) {
		if len(attrs) == 10 {
			break
		}
		attrs[k] = m.MessageAttributes[k]
	}
	_, err := w.queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(w.cfg.QueueURL),
		MessageBody:       m.Body,
		MessageAttributes: attrs,
		DelaySeconds:      min(visibilitySeconds(delay), maxDelaySeconds),
	})
	if err != nil {
		return fmt.Errorf("re-enqueue message: %w", err)
	}
	return nil
}

// logOutcome writes the one log line and the metric of a message's
// outcome. Recipients, subjects and bodies are never logged; addresses in
// SES's error texts are redacted.
func (w *Worker) logOutcome(d *delivery, v verdict) {
	outcome := v.outcome.Class.String()
	switch {
	case v.outcome.Code == "Duplicate":
		outcome = "duplicate"
	case v.step == stepHandBack, v.step == stepRequeue:
		outcome = retry.Retry.String()
	case v.step == stepDefer, v.step == stepRedefer:
		outcome = "deferred"
	}
	var region, action string
	if e := d.env; e != nil {
		region, action = e.Region(), e.Action
	}
	w.metrics.Message(outcome, region, action)

	level := slog.LevelInfo
	if v.step == stepDeadLetter {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("outcome", outcome),
		slog.String("sqs_message_id", aws.ToString(d.msg.MessageId)),
		slog.Int("attempt", v.attempts),
		slog.Float64("duration_s", w.now().Sub(d.received).Seconds()),
	}
	if e := d.env; e != nil {
		attrs = append(attrs, slog.String("envelope_id", e.Key()), slog.String("action", action), slog.String("region", region))
		if ids := e.IdentityARNs(); len(ids) > 0 {
			attrs = append(attrs, slog.String("identity", ids[0]))
		}
	}
	if v.sesID != "" {
		attrs = append(attrs, slog.String("ses_message_id", v.sesID))
	}
	if v.outcome.Class != retry.Sent || v.outcome.Code == "Duplicate" {
		attrs = append(attrs, slog.String("reason", v.outcome.Class.String()), slog.String("code", v.outcome.Code), slog.String("error", redactAddresses(v.outcome.Message)))
	}
	if v.delay > 0 {
		attrs = append(attrs, slog.Float64("delay_s", v.delay.Seconds()))
	}
	w.log.LogAttrs(context.Background(), level, "message", attrs...)
}

// redactAddresses replaces what looks like an email address (a word with an
// @ inside) with [address]: SES error texts name addresses.
func redactAddresses(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	words := strings.Fields(s)
	for i, wd := range words {
		if at := strings.IndexByte(wd, '@'); at > 0 && at < len(wd)-1 {
			words[i] = "[address]"
		}
	}
	return strings.Join(words, " ")
}

func receiveCount(m types.Message) int {
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func deferredUntil(attrs map[string]types.MessageAttributeValue) (time.Time, bool) {
	v, ok := attrs[attrDeferUntil]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, aws.ToString(v.StringValue))
	return t, err == nil
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}
