package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/ledger"
	"github.com/sesq/sesq/internal/ratelimit"
	"github.com/sesq/sesq/payload"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
)

// maxDelay is the longest DelaySeconds SQS takes (15 minutes); a longer
// wait is carried in the ledger's Due.
const maxDelay = 900 * time.Second

// actTimeout bounds the SQS calls that record a decision, and the
// idempotency store's calls that settle a claim; both run to the end even
// past the shutdown deadline.
const actTimeout = 10 * time.Second

// delivery is one received message and what is known about it.
type delivery struct {
	lane     *lane
	msg      types.Message
	handle   string
	body     string
	received time.Time
	sent     time.Time // SQS's SentTimestamp (zero: not given)
	// ledger is what the message carried (internal/ledger), with the
	// deliveries that ended without an outcome charged: one attempt each.
	ledger ledger.Ledger
	env    *envelope.Envelope // nil when the body is not a valid envelope
	claim  *claim             // the envelope id's claim, while held
	sesID  string             // SES's message id, once sent
	job    *job               // as the dispatcher offered it (nil for a hand-back unstarted)
	// An S3 payload: where it is, and the envelope fetched from it while
	// the delivery holds one of the worker's large-message slots.
	ptr          *payload.Pointer
	payload      []byte
	payloadBytes int
}

// open reads what a received message carries: its ledger, and the earlier
// deliveries of it that ended without an outcome. SQS raises a message's
// receive count with every receive, and the worker ends every delivery it
// finishes by deleting the message (a hand-back is a new message), so a
// receive count above one means that many deliveries were cut short (a
// crash, a lost receive answer, a panic); each may have sent, and is
// charged one attempt. A message this worker made visible again itself
// (its re-enqueue failed) is remembered and not charged.
func (w *Worker) open(l *lane, m types.Message, now time.Time) *delivery {
	d := &delivery{lane: l, msg: m, handle: aws.ToString(m.ReceiptHandle), body: aws.ToString(m.Body), received: now}
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		d.sent = time.UnixMilli(ms)
	}
	sent := d.sent
	attr := ""
	if v, ok := m.MessageAttributes[ledger.Attr]; ok {
		attr = aws.ToString(v.StringValue)
	}
	led, st := l.ledger.Read(attr, d.body, sent)
	if st != ledger.None && st != ledger.Valid {
		w.log.Info("message ledger ignored; the message starts afresh", "sqs_message_id", aws.ToString(m.MessageId), "ledger", st.String())
	}
	if !sent.IsZero() && led.Due.After(sent.Add(w.cfg.QuotaDelay)) {
		// sesq defers from the time it puts a message back, never by more
		// than SESQ_QUOTA_DELAY: a later end was not its decision.
		led.Due = sent.Add(w.cfg.QuotaDelay)
	}
	count := receiveCount(m)
	if mem, ok := w.memo.take(aws.ToString(m.MessageId)); ok && count > mem.receives {
		led, count = mem.ledger, count-mem.receives
	}
	if unfinished := count - 1; unfinished > 0 && !l.fifo {
		led.Attempts += unfinished
		led.Unfinished += unfinished
	}
	d.ledger = led
	return d
}

// handle decides on one message and acts on the decision, which it
// returns. ctx ends when the worker stops receiving (waits for a retry end
// then); work ends at the shutdown deadline (sends in flight are cut off
// then).
func (w *Worker) handle(ctx, work context.Context, j *job) retry.Decision {
	d := w.open(j.lane, j.msg, time.Now())
	d.job = j
	var end func(MessageEnd)
	if w.tracer != nil {
		work, end = w.tracer.StartMessage(work, j.lane.QueueURL, j.msg)
	}
	dec := w.decide(ctx, work, d)
	// Settling the claim and recording the outcome (a dead-letter write, a
	// re-enqueue) are short and let finish even past the shutdown deadline.
	actCtx, cancel := context.WithTimeout(context.WithoutCancel(work), actTimeout)
	defer cancel()
	w.settleClaim(actCtx, d, dec.Claim)
	dec = w.act(actCtx, d, dec)
	if end != nil {
		end(d.traceEnd(dec))
	}
	return dec
}

// parse is the envelope in the body, parsed once: by the poller when the
// dispatcher needed the tenant, else here.
func (d *delivery) parse() (*envelope.Envelope, error) {
	switch {
	case d.ptr != nil:
		return envelope.Parse(d.payload)
	case d.job != nil && d.job.parsed:
		return d.job.env, d.job.perr
	}
	return envelope.Parse([]byte(d.body))
}

// flow is the delivery's share of its region's send rate: its tenant in
// its lane (the lane alone when fairness is off), weighted by the lane.
func (d *delivery) flow() string {
	switch {
	case d.job == nil:
		return d.lane.Name
	case d.job.tenant == "" && d.ptr != nil && d.env != nil:
		return d.lane.Name + "/" + d.env.Tenant() // known once the payload is read
	}
	return d.lane.Name + "/" + d.job.tenant
}

// tenant is the envelope's tenant (a name or an account id, never
// personal data); "" when the body is no valid envelope.
func (d *delivery) tenant() string {
	if d.env == nil {
		return ""
	}
	return d.env.Tenant()
}

// state is the decision table's view of a delivery at now.
func (d *delivery) state(now time.Time) retry.State {
	s := retry.State{Attempts: d.ledger.Attempts, Holds: d.ledger.Holds, Deferrals: d.ledger.Deferrals, Now: now}
	if d.env != nil && d.env.NotAfter != nil {
		s.NotAfter = *d.env.NotAfter
	}
	if f := d.ledger.Final; f != nil {
		s.Final = &retry.Decision{Action: retry.DeadLetter, Reason: retry.Reason(f.Reason), Code: f.Code, Message: f.Message}
	}
	return s
}

// decide runs the checks and sends until the decision table says what
// becomes of the message.
func (w *Worker) decide(ctx, work context.Context, d *delivery) retry.Decision {
	now := time.Now()
	if d.ledger.Final != nil {
		return w.policy.Decide(retry.Outcome{Class: retry.Final}, d.state(now))
	}
	if payload.IsPointer(d.body) {
		if dec, stop := w.fetchPayload(ctx, work, d); stop {
			return dec
		}
	}
	env, err := d.parse()
	if d.payload != nil {
		// The envelope holds what it needs: the JSON can go before the
		// send builds its request.
		d.payloadBytes, d.payload = len(d.payload), nil
	}
	if err != nil {
		return w.policy.Decide(retry.Outcome{Class: retry.Invalid, Code: retry.CodeInvalidEnvelope, Message: err.Error()}, d.state(now))
	}
	d.env = env
	if err := w.transport.Validate(env); err != nil {
		return w.policy.Decide(retry.Outcome{Class: retry.Invalid, Code: retry.CodeInvalidEnvelope, Message: err.Error()}, d.state(now))
	}
	if !allowed(w.cfg.AllowedIdentities, env.IdentityARNs()) {
		return w.policy.Decide(retry.Outcome{Class: retry.Forbidden, Code: retry.CodeIdentityNotAllowed, Message: "identity matches no SESQ_ALLOWED_IDENTITIES pattern"}, d.state(now))
	}
	if env.Expired(now) {
		return w.policy.Decide(retry.Outcome{Class: retry.Expired, Code: retry.CodeExpired, Message: "notAfter passed before the message could be sent"}, d.state(now))
	}
	if due := d.ledger.Due; due.After(now) {
		s := d.state(now)
		s.Wait = due.Sub(now)
		return w.policy.Decide(retry.Outcome{Class: retry.NotDue, Code: retry.CodeNotDue, Message: "deferred for quota until " + due.UTC().Format(time.RFC3339)}, s)
	}
	if d.ledger.Unfinished > 0 {
		dec := w.policy.Decide(retry.Outcome{Class: retry.Unfinished, Code: retry.CodeUnfinished, Message: "earlier deliveries ended without an outcome"}, d.state(now))
		if dec.Action != retry.Send {
			return dec
		}
	}
	if h, ok := w.holds.get(env.Region(), env.Tenant()); ok {
		// SES refused this tenant's sends for the account or identity a
		// moment ago: deferred without a send, as that refusal would have.
		return w.policy.Decide(retry.Outcome{Class: retry.Quota, Code: h.code, Message: "tenant held back until " + h.until.UTC().Format(time.RFC3339) + ": " + h.message}, d.state(now))
	}
	return w.attempt(ctx, work, d)
}

// attempt sends, and sends again while the decision table says so, until
// it decides otherwise. Before each send the region must let it through
// (or the message has been held back often enough to go as a probe), and
// the envelope id must be claimed.
func (w *Worker) attempt(ctx, work context.Context, d *delivery) retry.Decision {
	env := d.env
	region := env.Region()
	limit := w.limits.For(work, region)
	s := d.state(time.Now())
	probe := false // held back often enough: goes through whatever the region's state
	for {
		// The region's probe slot, when this delivery holds it: given back
		// if the delivery ends without a send.
		probing := false
		if !probe {
			g := w.breakers.Allow(region)
			if !g.Pass {
				s.Wait, s.Now, s.Refusals = g.Wait, time.Now(), g.Refusals
				o := retry.Outcome{Class: retry.Held, Code: retry.CodeRegionPaused, Message: "sends to " + region + " are paused after failures"}
				if g.Refusals > 0 {
					o.Code, o.Message = g.Code, "sends to "+region+" are paused: "+unavailable(g.Code)+": "+g.Message
				}
				dec := w.policy.Decide(o, s)
				if dec.Action != retry.Send {
					return dec
				}
				probe = true
				w.log.Info("sending to a paused region: this message was held back too often", "region", region, "envelope_id", env.Key(), "holds", s.Holds)
			}
			probing = g.Probe
		}
		unsent := func(dec retry.Decision) retry.Decision {
			if probing {
				w.breakers.Abandon(region)
			}
			return dec
		}
		if d.claim == nil {
			if dec, stop := w.claim(work, d, s); stop {
				return unsent(dec)
			}
		}
		ticket, err := limit.Wait(ctx, d.flow(), d.lane.Weight)
		s.Now = time.Now()
		if err != nil { // stopping before the send
			return unsent(w.policy.Decide(retry.Outcome{Class: retry.Stopping, Code: retry.CodeShutdown, Message: "stopped before the send"}, s))
		}
		if env.Expired(s.Now) { // the wait for the limiter or a retry ran past it
			return unsent(w.policy.Decide(retry.Outcome{Class: retry.Expired, Code: retry.CodeExpired, Message: "notAfter passed before the message could be sent"}, s))
		}
		callCtx, cancel := context.WithTimeout(work, w.cfg.SendTimeout)
		var endSend func(SendEnd)
		if w.tracer != nil {
			callCtx, endSend = w.tracer.StartSend(callCtx, SendStart{Region: region, Action: env.Action, Call: transport.Describe(w.transport, env.Action)})
		}
		began := time.Now()
		id, err := w.transport.Send(callCtx, env)
		cancel()
		o := retry.Classify(err)
		if errors.Is(err, context.Canceled) && work.Err() != nil {
			// Cut off by the shutdown deadline: a transient fault, not the
			// message's. Whether SES may have taken it is the transport's to
			// say (an SMTP send cut off before the final dot was not sent);
			// an error no transport classified may have been.
			var te *transport.Error
			o.Class, o.Code = retry.Retry, retry.CodeTimeout
			o.Uncertain = !errors.As(err, &te) || te.Uncertain
		}
		if endSend != nil {
			endSend(SendEnd{Failed: err != nil, Code: o.Code, Message: transport.Redact(o.Message), MessageID: id})
		}
		s.Now, s.Stopping = time.Now(), ctx.Err() != nil
		if o.Class == retry.Unavailable {
			s.Refusals = w.breakers.Refusals(region)
		}
		dec := w.policy.Decide(o, s)
		w.observe(region, env, o, dec, ticket, limit.Limiter(), time.Since(began), work.Err() != nil)
		if o.Class == retry.Throttled {
			s.Throttles++
		}
		s.MaybeSent = s.MaybeSent || o.Uncertain
		s.Attempts, s.Holds, s.Deferrals = dec.Attempts, dec.Holds, dec.Deferrals
		if dec.Action != retry.Send {
			if dec.Action == retry.Delete {
				d.sesID = id
			}
			return dec
		}
		if dec.Delay > 0 {
			w.log.Debug("send failed; retrying", "envelope_id", env.Key(), "attempt", dec.Attempts, "code", o.Code, "retry_in_s", dec.Delay.Seconds())
			if !sleep(ctx, dec.Delay) {
				s.Now = time.Now()
				return w.policy.Decide(retry.Outcome{Class: retry.Stopping, Code: retry.CodeShutdown, Message: "stopped while waiting to retry: " + o.Message}, s)
			}
		}
	}
}

// fetchPayload reads the envelope of a message whose body points at an S3
// payload (the dispatcher gave it one of the worker's large-message
// slots). stop is true with the decision when it cannot be had: a pointer
// that is not one, a bucket not listed, an object gone or too large are
// invalid; another failure (S3 out of reach, throttled, access denied) may
// pass: the message is held back (handed back after a backoff, as for a
// paused region) without using up a send attempt, until it has been held
// back SESQ's hold limit of times; after that each failure is a transient
// failure that uses one.
func (w *Worker) fetchPayload(ctx, work context.Context, d *delivery) (retry.Decision, bool) {
	invalid := func(code string, err error) (retry.Decision, bool) {
		return w.policy.Decide(retry.Outcome{Class: retry.Invalid, Code: code, Message: err.Error()}, d.state(time.Now())), true
	}
	p, err := payload.Parse(d.body)
	if err != nil {
		return invalid(retry.CodePayloadPointer, err)
	}
	d.ptr = &p
	if w.payloads == nil {
		return invalid(retry.CodePayloadBucketNotAllowed, fmt.Errorf("the message's payload is in bucket %q, and no SESQ_PAYLOAD_BUCKETS are set", p.Bucket))
	}
	s := d.state(time.Now())
	for {
		fctx, cancel := context.WithTimeout(work, w.cfg.SendTimeout)
		body, err := w.payloads.Fetch(fctx, p)
		cancel()
		switch {
		case err == nil:
			d.payload = body
			return retry.Decision{}, false
		case errors.Is(err, payload.ErrBucketNotAllowed):
			return invalid(retry.CodePayloadBucketNotAllowed, err)
		case errors.Is(err, payload.ErrMissing):
			if w.payloadWasSent(work, p) {
				// A copy of a message whose payload went with its send
				// (a re-enqueue that both failed and succeeded, a delete
				// SQS lost): sent, not missing.
				return w.policy.Decide(retry.Outcome{Class: retry.Duplicate, Code: retry.CodeDuplicate, Message: "the payload's message was sent before"}, d.state(time.Now())), true
			}
			return invalid(retry.CodePayloadMissing, err)
		case errors.Is(err, payload.ErrTooLarge):
			return invalid(retry.CodePayloadTooLarge, err)
		}
		s.Now, s.Stopping = time.Now(), ctx.Err() != nil
		why := "fetching the payload from bucket " + p.Bucket + " failed: " + payloadFault(err)
		held := s
		held.Wait = w.policy.Delay(s.Holds + 1)
		dec := w.policy.Decide(retry.Outcome{Class: retry.Held, Code: retry.CodePayloadFetch, Message: why}, held)
		if dec.Action == retry.Send { // held back too often: from now on it costs attempts
			dec = w.policy.Decide(retry.Outcome{Class: retry.Retry, Code: retry.CodePayloadFetch, Message: why}, s)
		}
		if dec.Action != retry.Send {
			w.log.Warn("payload fetch failed", "bucket", p.Bucket, "fault", payloadFault(err), "action", dec.Action.String(), "delay_s", dec.Delay.Seconds())
			return dec, true
		}
		s.Attempts, d.ledger.Attempts = dec.Attempts, dec.Attempts
		w.log.Warn("payload fetch failed; retrying", "bucket", p.Bucket, "attempt", dec.Attempts, "retry_in_s", dec.Delay.Seconds(), "fault", payloadFault(err))
		if !sleep(ctx, dec.Delay) {
			s.Now = time.Now()
			return w.policy.Decide(retry.Outcome{Class: retry.Stopping, Code: retry.CodeShutdown, Message: "stopped while waiting to fetch the payload again"}, s), true
		}
	}
}

// deletePayload removes a sent message's payload. A failure is logged and
// left to the bucket's lifecycle rule.
func (w *Worker) deletePayload(p payload.Pointer) {
	ctx, cancel := context.WithTimeout(context.Background(), actTimeout)
	defer cancel()
	if err := w.payloads.Delete(ctx, p); err != nil {
		w.log.Warn("payload delete failed; the bucket's lifecycle rule removes it later", "bucket", p.Bucket, "fault", payloadFault(err))
	}
}

// payloadKey is the idempotency key under which a payload is recorded as
// sent.
func payloadKey(p payload.Pointer) string { return "s3://" + p.Bucket + "/" + p.Key }

// recordPayloadSent records in the idempotency store that the message of
// payload p was sent, before the payload is deleted. A store out of reach
// only costs a copy of the message that comes back its right outcome: it
// is dead-lettered as PayloadMissing.
func (w *Worker) recordPayloadSent(ctx context.Context, p payload.Pointer) {
	key, owner, ttl := payloadKey(p), w.newOwner(), w.cfg.VisibilityTimeout
	cctx, cancel := context.WithTimeout(ctx, storeTimeout(ttl))
	defer cancel()
	if c, err := w.claims.Claim(cctx, key, owner, ttl); err != nil || c.State != idempotency.New {
		return // recorded already, or the store is out of reach
	}
	if err := w.claims.Done(cctx, key, owner); err != nil {
		w.log.Warn("idempotency store update failed", "payload_bucket", p.Bucket, "err", err)
	}
}

// payloadWasSent tells whether the idempotency store records payload p's
// message as sent.
func (w *Worker) payloadWasSent(ctx context.Context, p payload.Pointer) bool {
	key, owner, ttl := payloadKey(p), w.newOwner(), w.cfg.VisibilityTimeout
	cctx, cancel := context.WithTimeout(ctx, storeTimeout(ttl))
	defer cancel()
	c, err := w.claims.Claim(cctx, key, owner, ttl)
	if err == nil && c.State == idempotency.New {
		w.claims.Release(cctx, key, owner)
	}
	return err == nil && c.State == idempotency.Sent
}

// payloadFault names an S3 failure without its text, which can hold the
// object's URL (its key may mean something to the producer): the S3 error
// code, a timeout, or that the call did not get through.
func payloadFault(err error) string {
	var ae smithy.APIError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return ae.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne):
		return "network error"
	}
	return "request failed"
}

// claim takes the envelope id's claim for this delivery. stop is true when
// the delivery must not send: the id was sent before, or another delivery
// holds it. A store out of reach does not stop the send: at least once
// beats never, and a duplicate is the lesser harm.
func (w *Worker) claim(ctx context.Context, d *delivery, s retry.State) (retry.Decision, bool) {
	key := d.env.Key()
	owner := w.newOwner()
	ttl := w.cfg.VisibilityTimeout
	cctx, cancel := context.WithTimeout(ctx, storeTimeout(ttl))
	c, err := w.claims.Claim(cctx, key, owner, ttl)
	cancel()
	now := time.Now()
	s.Now = now
	switch {
	case err != nil:
		w.log.Warn("idempotency store unavailable; sending without duplicate check", "envelope_id", key, "err", err)
		return retry.Decision{}, false
	case c.State == idempotency.Sent:
		return w.policy.Decide(retry.Outcome{Class: retry.Duplicate, Code: retry.CodeDuplicate, Message: "SES accepted this envelope id before"}, s), true
	case c.State == idempotency.InProgress:
		s.Wait = c.Expires.Sub(now)
		return w.policy.Decide(retry.Outcome{Class: retry.InProgress, Code: retry.CodeInProgress, Message: "another delivery holds this envelope id"}, s), true
	}
	d.claim = &claim{key: key, owner: owner, expires: now.Add(ttl)}
	d.lane.flight.setClaim(d.handle, d.claim)
	return retry.Decision{}, false
}

// newOwner is a new owner for an idempotency claim: this process and a
// count of its claims.
func (w *Worker) newOwner() string { return w.id + "-" + strconv.FormatUint(w.seq.Add(1), 10) }

// storeTimeout bounds one idempotency store call: a store that hangs must
// neither hold a sender nor outlast the claim it is about.
func storeTimeout(ttl time.Duration) time.Duration {
	return min(actTimeout, ttl/4)
}

// settleClaim does with the delivery's claim what the decision says.
func (w *Worker) settleClaim(ctx context.Context, d *delivery, what retry.ClaimAction) {
	c := d.claim
	if c == nil {
		return
	}
	d.lane.flight.setClaim(d.handle, nil)
	d.claim = nil
	var err error
	switch what {
	case retry.ClaimDone:
		err = w.claims.Done(ctx, c.key, c.owner)
	case retry.ClaimRelease:
		err = w.claims.Release(ctx, c.key, c.owner)
	case retry.ClaimLapse, retry.ClaimKeep:
		return // left to lapse: SES may have taken the send
	}
	switch {
	case errors.Is(err, idempotency.ErrNotOwner):
		w.log.Warn("idempotency claim was lost before it was settled: it lapsed and another delivery took it", "envelope_id", c.key)
	case err != nil:
		w.log.Warn("idempotency store update failed", "envelope_id", c.key, "err", err)
	}
}

// observe lets the region's breaker and limiter and the metrics see a
// send's outcome; they never change the decision.
func (w *Worker) observe(region string, env *envelope.Envelope, o retry.Outcome, dec retry.Decision, ticket ratelimit.Ticket, limit *ratelimit.AIMD, took time.Duration, cutOff bool) {
	w.metrics.SESCall(region, env.Action, transport.CodeLabel(w.transport, o.Code), took, o.Class == retry.Throttled)
	if o.Class == retry.Quota {
		w.holds.set(region, env.Tenant(), w.cfg.QuotaDelay, o.Code, transport.Redact(o.Message))
	}
	switch o.Class {
	case retry.Throttled:
		limit.Throttled(ticket)
	case retry.Sent:
		limit.Succeeded(ticket)
	}
	switch o.Class {
	case retry.Retry:
		if o.PerMessage { // the region answered; the message was the trouble
			w.breakers.Success(region)
			break
		}
		if !cutOff && w.breakers.Failure(region) {
			w.log.Error("SES keeps failing in a region; sends there paused", "region", region, "code", o.Code)
		}
	case retry.Unavailable:
		if w.breakers.Trip(region, dec.Pause, o.Code, transport.Redact(o.Message)) {
			w.log.Error(unavailable(o.Code)+"; sends there paused", "region", region, "code", o.Code, "error", transport.Redact(o.Message), "pause_s", dec.Pause.Seconds())
		}
	default:
		w.breakers.Success(region) // SES answered: the region works
	}
}

// act carries out a decision and returns the one that stands: when the
// dead-letter write fails, the message goes back with its reason instead.
// A message leaves the queue only once its fate is safe elsewhere: sent,
// written to the dead-letter queue, or put back as a new message that
// carries its ledger.
func (w *Worker) act(ctx context.Context, d *delivery, dec retry.Decision) retry.Decision {
	d.lane.flight.untrack(d.handle)
	switch dec.Action {
	case retry.Delete:
		if p := d.ptr; p != nil && w.payloads != nil {
			// The payload goes once the message is surely gone: were the
			// delete to fail, the message would come back and need it. A
			// copy of the message that comes back all the same finds it
			// recorded as sent.
			w.recordPayloadSent(ctx, *p)
			d.lane.acks.deleteThen(d.handle, func() { w.deletePayload(*p) })
		} else {
			d.lane.acks.delete(d.handle)
		}
		if !d.sent.IsZero() && dec.Code != retry.CodeDuplicate {
			w.metrics.QueueLag(time.Since(d.sent))
		}
	case retry.DeadLetter:
		err := d.lane.dlq.Write(ctx, d.msg, deadletter.Failure{
			Reason: string(dec.Reason), Code: dec.Code, Error: transport.Redact(dec.Message), Attempts: dec.Attempts, At: time.Now(),
			Tenant: d.tenant(),
		})
		if err != nil {
			w.log.Error("dead-letter write failed; message handed back with its reason", "sqs_message_id", aws.ToString(d.msg.MessageId), "reason", string(dec.Reason), "err", err)
			s := d.state(time.Now())
			s.Attempts, s.Holds, s.Deferrals = dec.Attempts, dec.Holds, dec.Deferrals
			final := dec
			s.Final = &final
			dec = w.policy.Decide(retry.Outcome{Class: retry.DeadLetterFailed, Code: retry.CodeDeadLetterFailed, Message: err.Error()}, s)
			w.putBack(ctx, d, dec)
			w.logOutcome(d, dec)
			return dec
		}
		w.metrics.DeadLetter(string(dec.Reason))
		d.lane.acks.delete(d.handle)
	case retry.HandBack, retry.Defer:
		w.putBack(ctx, d, dec)
	}
	w.logOutcome(d, dec)
	return dec
}

// putBack puts the message back on the source queue as a new message that
// carries its ledger, visible after the decision's delay, and deletes the
// original once that write succeeded. A delay beyond SQS's 15 minutes is
// carried in the ledger (Due): a delivery before then goes back for the
// rest. If the write fails, the original is made visible after the delay
// instead and its ledger remembered here, so that this worker, receiving
// it again, does not charge that delivery as unfinished.
func (w *Worker) putBack(ctx context.Context, d *delivery, dec retry.Decision) {
	// What the message carried stays unless the decision says otherwise: a
	// deferral's end, a dead-letter reason not yet written (a message put
	// back unstarted at shutdown keeps both).
	l := ledger.Ledger{Attempts: dec.Attempts, Unfinished: d.ledger.Unfinished, Holds: dec.Holds, Deferrals: dec.Deferrals,
		Due: d.ledger.Due, Final: d.ledger.Final}
	now := time.Now()
	if dec.Delay > maxDelay {
		l.Due = now.Add(dec.Delay)
	}
	if dec.Reason != "" {
		l.Final = &ledger.Final{Reason: string(dec.Reason), Code: deadletter.ErrorCode(dec.Code), Message: deadletter.ErrorText(transport.Redact(dec.Message))}
	}
	if d.lane.fifo {
		// A FIFO message stays where it is, ahead of the rest of its group:
		// it is made visible again after the delay (up to SQS's 12 hours),
		// which holds its group back meanwhile. Its ledger stays with this
		// worker (another worker charges the receive as an unfinished
		// delivery).
		if dec.Delay <= maxVisibility {
			l.Due = d.ledger.Due
		}
		w.keepForLater(d, l, dec.Delay, now)
		return
	}
	if err := w.requeue(ctx, d, l, min(dec.Delay, maxDelay), now); err != nil {
		w.log.Error("re-enqueue failed; message made visible again after its delay", "sqs_message_id", aws.ToString(d.msg.MessageId), "err", err)
		w.keepForLater(d, l, dec.Delay, now)
		return
	}
	d.lane.acks.delete(d.handle)
}

// maxVisibility is the longest visibility timeout SQS takes.
const maxVisibility = 12 * time.Hour

// keepForLater makes the message visible again after delay (at most 12
// hours) and remembers its ledger l, so that this worker, receiving it
// again, does not charge that delivery as unfinished.
func (w *Worker) keepForLater(d *delivery, l ledger.Ledger, delay time.Duration, now time.Time) {
	w.memo.put(aws.ToString(d.msg.MessageId), memoEntry{ledger: l, receives: receiveCount(d.msg)}, now.Add(delay+2*w.cfg.VisibilityTimeout))
	d.lane.acks.setVisibility(d.handle, min(delay, maxVisibility))
}

// requeue sends the message body again with ledger l, the producer's
// attributes (as many as fit beside it, the trace context first) and its
// X-Ray trace header, visible after delay: the next delivery continues the
// producer's trace.
func (w *Worker) requeue(ctx context.Context, d *delivery, l ledger.Ledger, delay time.Duration, now time.Time) error {
	attrs := map[string]types.MessageAttributeValue{ledger.Attr: stringAttr(d.lane.ledger.Encode(l, d.body, now))}
	for _, k := range deadletter.Carried(d.msg.MessageAttributes) {
		if len(attrs) == 10 {
			break
		}
		attrs[k] = d.msg.MessageAttributes[k]
	}
	_, err := deadletter.SendCarried(ctx, w.queue, &sqs.SendMessageInput{
		QueueUrl:                aws.String(d.lane.QueueURL),
		MessageBody:             d.msg.Body,
		MessageAttributes:       attrs,
		MessageSystemAttributes: deadletter.CarriedSystem(d.msg),
		MessageGroupId:          deadletter.CarriedGroup(d.msg),
		DelaySeconds:            visibilitySeconds(delay),
	})
	if err != nil {
		return fmt.Errorf("re-enqueue message %s: %w", aws.ToString(d.msg.MessageId), err)
	}
	return nil
}

// handBackUnstarted returns a message received after shutdown began, with
// its ledger, so that the receive does not count as an attempt.
func (w *Worker) handBackUnstarted(l *lane, m types.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), actTimeout)
	defer cancel()
	d := w.open(l, m, time.Now())
	dec := w.policy.Decide(retry.Outcome{Class: retry.Stopping, Code: retry.CodeShutdown, Message: "received after shutdown began"}, d.state(time.Now()))
	w.putBack(ctx, d, dec)
}

// logOutcome writes the one log line and the metric of a message's
// outcome. Recipients, subjects and bodies are never logged; addresses in
// SES's error texts are redacted.
func (w *Worker) logOutcome(d *delivery, dec retry.Decision) {
	word := dec.Word()
	var region, action string
	if e := d.env; e != nil {
		region, action = e.Region(), e.Action
	}
	tenant := d.tenant()
	w.metrics.Message(word, region, action, tenant)

	level := slog.LevelInfo
	if dec.Action == retry.DeadLetter {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("outcome", word),
		slog.String("sqs_message_id", aws.ToString(d.msg.MessageId)),
		slog.Int("attempt", dec.Attempts),
		slog.Float64("duration_s", time.Since(d.received).Seconds()),
	}
	if e := d.env; e != nil {
		attrs = append(attrs, slog.String("envelope_id", e.Key()), slog.String("action", action), slog.String("region", region), slog.String("tenant", tenant))
	}
	if len(w.lanes) > 1 {
		attrs = append(attrs, slog.String("lane", d.lane.Name))
	}
	if e := d.env; e != nil {
		if ids := e.IdentityARNs(); len(ids) > 0 {
			attrs = append(attrs, slog.String("identity", ids[0]))
		}
	}
	if d.sesID != "" {
		attrs = append(attrs, slog.String("ses_message_id", d.sesID))
	}
	if d.ptr != nil {
		attrs = append(attrs, slog.String("payload_bucket", d.ptr.Bucket), slog.Int("payload_bytes", d.payloadBytes))
	}
	if dec.Action != retry.Delete || dec.Code == retry.CodeDuplicate {
		if dec.Reason != "" {
			attrs = append(attrs, slog.String("reason", string(dec.Reason)))
		}
		attrs = append(attrs, slog.String("code", dec.Code), slog.String("error", transport.Redact(dec.Message)))
	}
	if dec.Delay > 0 {
		attrs = append(attrs, slog.Float64("delay_s", dec.Delay.Seconds()))
	}
	w.log.LogAttrs(context.Background(), level, "message", attrs...)
}

// unavailable says why a region is unavailable, by the outcome's code.
func unavailable(code string) string {
	if code == transport.CodeTLS {
		return "the endpoint's certificate is not trusted in the region"
	}
	return "the transport refused the worker's credentials in the region"
}

func receiveCount(m types.Message) int {
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}
