package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Rate control: workers against one account bucket, a backlog enqueued
// before they start; tenants t00..t09 round robin, so that no tenant's
// share limits anything.
func (b *bench) runRate(ctx context.Context, workers int) result {
	res := b.newResult("rate", "")
	res.Workers, res.N = workers, b.n
	r, err := b.newRun(ctx, fmt.Sprintf("rate-w%d", workers), faultPlan{})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer r.close()
	res.Logs = r.logs()
	q, err := createQueues(ctx, r.sqs, "sesq-bench", 20)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	msgs := make([]message, b.n)
	for i := range msgs {
		tenant := fmt.Sprintf("t%02d", i%10)
		if msgs[i], err = newMessage(fmt.Sprintf("r-%06d", i), tenant, tenant, -1, false); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	if err := enqueueStreams(ctx, r.sqs, q.URL, splitStreams(msgs, 8), r.rec); err != nil {
		res.Error = err.Error()
		return res
	}
	queues := []queuePair{q}
	env := []string{"SESQ_QUEUE_URL=" + q.URL, "SESQ_DLQ_URL=" + q.DLQ}
	res.Env = env
	if err = r.startWorkers(ctx, workers, 0, env...); err == nil {
		err = r.wait(ctx, b.n, queues, nil)
	}
	r.finish(ctx, &res, queues, err)
	return res
}

// Noisy neighbour variants.
const (
	noisyOff   = "a" // one standard queue, SESQ_FAIRNESS=off
	noisyFair  = "b" // one standard queue, fair sharing (the default)
	noisyLanes = "c" // two lanes, B–E on high, A on bulk
)

var noisyTitle = map[string]string{
	noisyOff:   "one standard queue, SESQ_FAIRNESS=off",
	noisyFair:  "one standard queue, fair sharing on (defaults)",
	noisyLanes: "lanes high=8 (B–E), bulk=1 (A)",
}

// noFairQueues goes with every single-queue result: SQS fair queues would
// hand the quiet tenants' messages out first; fauxqs does not emulate that.
const noFairQueues = "fauxqs has no fair-queue ordering (SQS fair queues are not emulated): MessageGroupId is set but the queue hands messages out in arrival order"

// quietTenants enqueue at a steady pace while tenant-a's backlog drains.
var quietTenants = []string{"tenant-b", "tenant-c", "tenant-d", "tenant-e"}

// Noisy neighbour: one worker; tenant A enqueues its backlog at once (t0),
// then B–E each enqueue quietRate per second for quietFor.
func (b *bench) runNoisy(ctx context.Context, variant string) result {
	res := b.newResult("noisy", variant)
	res.Workers = 1
	if variant != noisyLanes {
		res.Note = noFairQueues
	}
	var needs []string
	switch variant {
	case noisyFair:
		needs = []string{"SESQ_FAIRNESS"}
	case noisyLanes:
		needs = []string{"SESQ_QUEUES", "SESQ_DLQ_URLS"}
	}
	for _, v := range needs {
		ok, err := knows(ctx, b.sesq, v)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		if !ok {
			res.Skipped = fmt.Sprintf("%s does not read %s yet (set to an invalid value, it goes unmentioned)", b.sesq, v)
			return res
		}
	}

	r, err := b.newRun(ctx, "noisy-"+variant, faultPlan{})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer r.close()
	res.Logs = r.logs()
	var queues []queuePair
	var env []string
	if variant == noisyLanes {
		high, err := createQueues(ctx, r.sqs, "sesq-bench-high", 20)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		bulk, err := createQueues(ctx, r.sqs, "sesq-bench-bulk", 20)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		queues = []queuePair{high, bulk}
		env = []string{"SESQ_QUEUES=high=" + high.URL + ":8,bulk=" + bulk.URL + ":1", "SESQ_DLQ_URLS=high=" + high.DLQ + ",bulk=" + bulk.DLQ}
	} else {
		q, err := createQueues(ctx, r.sqs, "sesq-bench", 20)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		queues = []queuePair{q}
		env = []string{"SESQ_QUEUE_URL=" + q.URL, "SESQ_DLQ_URL=" + q.DLQ}
		if variant == noisyOff {
			env = append(env, "SESQ_FAIRNESS=off")
		}
	}
	res.Env = env
	bulkQ, quietQ := queues[0], queues[0]
	if variant == noisyLanes {
		quietQ, bulkQ = queues[0], queues[1]
	}

	bulk := make([]message, b.bulk)
	for i := range bulk {
		if bulk[i], err = newMessage(fmt.Sprintf("A-%06d", i), "tenant-a", "tenant-a", -1, false); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	every := time.Duration(float64(time.Second) / b.quietRate)
	perTenant := int(b.quietFor.Seconds() * b.quietRate)
	quiet := make([][]message, len(quietTenants))
	for t, tenant := range quietTenants {
		for k := range perTenant {
			m, err := newMessage(fmt.Sprintf("%c-%05d", 'B'+t, k), tenant, tenant, -1, false)
			if err != nil {
				res.Error = err.Error()
				return res
			}
			quiet[t] = append(quiet[t], m)
		}
	}
	res.N = b.bulk + perTenant*len(quietTenants)

	// The worker runs (idle) before A's burst arrives, as in production.
	if err := r.startWorkers(ctx, 1, 2*time.Second, env...); err != nil {
		r.finish(ctx, &res, queues, err)
		return res
	}
	pctx, stopProducers := context.WithCancel(ctx)
	defer stopProducers()
	r.t0 = time.Now()
	if err := enqueueStreams(pctx, r.sqs, bulkQ.URL, splitStreams(bulk, 8), r.rec); err != nil {
		r.finish(ctx, &res, queues, fmt.Errorf("tenant-a's backlog: %w", err))
		return res
	}
	res.EnqueueS = time.Since(r.t0).Seconds()
	start := time.Now()
	errs := make(chan error, len(quiet))
	for t, msgs := range quiet {
		go func() {
			errs <- paced(pctx, r.sqs, quietQ.URL, msgs, start.Add(time.Duration(t)*every/time.Duration(len(quiet))), every, r.rec)
		}()
	}
	producing := make(chan error, 1)
	go func() {
		var first error
		for range quiet {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		producing <- first
	}()
	err = r.wait(ctx, res.N, queues, producing)
	stopProducers()
	r.finish(ctx, &res, queues, err)

	enq, acc := r.rec.snapshot(), r.stub.acceptedAt()
	var all []time.Duration
	res.QuietByTenant = map[string]dwell{}
	for _, msgs := range quiet {
		var ds []time.Duration
		for _, m := range msgs {
			if a, e := acc[m.ID], enq[m.ID]; !a.IsZero() && !e.IsZero() {
				ds = append(ds, a.Sub(e))
			}
		}
		all = append(all, ds...)
		if len(msgs) > 0 {
			res.QuietByTenant[msgs[0].Tenant] = dwellOf(ds)
		}
	}
	q := dwellOf(all)
	res.Quiet = &q
	var bds []time.Duration
	var last time.Time
	for _, m := range bulk {
		if a, e := acc[m.ID], enq[m.ID]; !a.IsZero() && !e.IsZero() {
			bds = append(bds, a.Sub(e))
			if a.After(last) {
				last = a
			}
		}
	}
	bd := dwellOf(bds)
	res.Bulk = &bd
	if len(bds) == len(bulk) {
		res.BulkDrainS = last.Sub(r.t0).Seconds()
	}
	return res
}

// FIFO: one worker, a FIFO queue with a backlog over groups, each group's
// envelopes enqueued in sequence order, and transient faults.
func (b *bench) runFIFO(ctx context.Context) result {
	res := b.newResult("fifo", "")
	res.Workers, res.N, res.Groups, res.FaultRate = 1, b.fifoN, b.groups, b.faultRate
	refused, err := refuses(ctx, b.sesq, "SESQ_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/x.fifo",
		"SESQ_DLQ_URL=https://sqs.us-east-1.amazonaws.com/123456789012/x-dlq.fifo")
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if refused != "" {
		res.Skipped = b.sesq + " refuses FIFO queues: " + refused
		return res
	}
	r, err := b.newRun(ctx, "fifo", faultPlan{rate: b.faultRate, seed: b.seed})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer r.close()
	res.Logs = r.logs()
	q, err := createQueues(ctx, r.sqs, "sesq-bench-fifo.fifo", 20)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	streams := make([][]message, min(5, b.groups))
	for i := range b.fifoN {
		g, seq := i%b.groups, i/b.groups
		group := fmt.Sprintf("g%02d", g)
		m, err := newMessage(fmt.Sprintf("f-%s-%05d", group, seq), group, group, seq, true)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		streams[g%len(streams)] = append(streams[g%len(streams)], m)
	}
	if err := enqueueStreams(ctx, r.sqs, q.URL, streams, r.rec); err != nil {
		res.Error = err.Error()
		return res
	}
	queues := []queuePair{q}
	env := []string{"SESQ_QUEUE_URL=" + q.URL, "SESQ_DLQ_URL=" + q.DLQ}
	res.Env = env
	if err = r.startWorkers(ctx, 1, 0, env...); err == nil {
		err = r.wait(ctx, b.fifoN, queues, nil)
	}
	r.finish(ctx, &res, queues, err)
	return res
}

func (r *run) logs() string { return strings.TrimSuffix(r.b.logDir, "/") + "/" + r.tag + "-*.log" }
