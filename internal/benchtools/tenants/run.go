package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/internal/emulator"
)

// run is one measured run: a fresh fauxqs, a fresh SES stub, the bench's
// SQS client, and the workers once started.
type run struct {
	b     *bench
	tag   string
	fq    *emulator.Process
	stub  *sesStub
	sqs   *sqs.Client
	rec   *enqueued
	fleet *fleet
	t0    time.Time // what the run's throughput counts from
}

func (b *bench) newRun(ctx context.Context, tag string, faults faultPlan) (*run, error) {
	r := &run{b: b, tag: tag, rec: newEnqueued()}
	var err error
	if r.stub, err = startStub(b.rate, b.latency, faults); err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(b.logDir, tag+".fauxqs.log"))
	if err != nil {
		r.stub.Close()
		return nil, err
	}
	defer lf.Close() // fauxqs holds its own descriptor
	if r.fq, err = emulator.StartFauxqs(ctx, b.emuDir, lf); err != nil {
		r.stub.Close()
		return nil, err
	}
	r.sqs = newSQS(r.fq.URL)
	return r, nil
}

// close ends whatever still runs.
func (r *run) close() {
	if r.fleet != nil {
		r.fleet.kill()
	}
	r.fq.Stop()
	r.stub.Close()
}

// workerEnv is the workers' environment: this process's own without any
// AWS_*, SESQ_* or OTEL_* variable, local endpoints and dummy credentials,
// the metrics listener off, then queues, then every -env.
func (r *run) workerEnv(queues ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "SESQ_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_REGION="+region, "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_ENDPOINT_URL_SQS="+r.fq.URL, "AWS_ENDPOINT_URL_SES="+r.stub.URL,
		"SESQ_HTTP_ADDR=", "SESQ_CONCURRENCY="+strconv.Itoa(r.b.concurrency),
	)
	env = append(env, queues...)
	return append(env, r.b.env...)
}

// startWorkers starts n workers on the given queue variables and gives them
// warmup to refuse their configuration; t0 is then when they were started.
func (r *run) startWorkers(ctx context.Context, n int, warmup time.Duration, queues ...string) error {
	var err error
	r.fleet, err = startFleet(r.b.sesq, n, r.workerEnv(queues...), filepath.Join(r.b.logDir, r.tag))
	if err != nil {
		return err
	}
	r.t0 = time.Now()
	select {
	case <-r.fleet.exited:
		time.Sleep(100 * time.Millisecond) // the others may be refusing too
		return fmt.Errorf("worker exited at start: %s", r.fleet.exitReport())
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(warmup):
		return nil
	}
}

// lostGrace is how long the queues may stay empty while envelopes are
// neither accepted nor dead-lettered before the run counts them lost.
const lostGrace = 10 * time.Second

// stallAfter ends a run in which no envelope was accepted for that long.
const stallAfter = 2 * time.Minute

// wait returns nil once the stub has accepted want envelopes, or the
// queues are empty and the rest is in the dead-letter queues, after
// producing has delivered (nil: nothing more is coming). Otherwise it
// says why it gave up: the timeout, a worker's exit, a stall, or envelopes
// gone from the queues without a send (lost).
func (r *run) wait(ctx context.Context, want int, queues []queuePair, producing <-chan error) error {
	deadline := time.After(r.b.timeout)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	produced := producing == nil
	lastCount, lastChange := -1, time.Now()
	var emptySince time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("not done within -timeout %v: %d of %d accepted", r.b.timeout, r.stub.stats().Accepted, want)
		case <-r.fleet.exited:
			return fmt.Errorf("worker exited: %s", r.fleet.exitReport())
		case err := <-producing:
			if err != nil {
				return fmt.Errorf("producer: %w", err)
			}
			produced, producing = true, nil
		case <-tick.C:
		}
		st := r.stub.stats()
		if st.Accepted != lastCount {
			lastCount, lastChange = st.Accepted, time.Now()
		} else if time.Since(lastChange) > stallAfter {
			return fmt.Errorf("no envelope accepted for %v: %d of %d accepted", stallAfter, st.Accepted, want)
		}
		if !produced {
			continue
		}
		if st.Accepted >= want {
			return nil
		}
		left, dead := 0, 0
		for _, q := range queues {
			d, err := depth(ctx, r.sqs, q.URL)
			if err != nil {
				return err
			}
			dl, err := depth(ctx, r.sqs, q.DLQ)
			if err != nil {
				return err
			}
			left, dead = left+d, dead+dl
		}
		switch {
		case left > 0:
			emptySince = time.Time{}
		case st.Accepted+dead >= want:
			return nil
		case emptySince.IsZero():
			emptySince = time.Now()
		case time.Since(emptySince) > lostGrace:
			return fmt.Errorf("queues empty for %v with %d accepted and %d dead-lettered of %d: envelopes lost", lostGrace, st.Accepted, dead, want)
		}
	}
}

// result is one scenario run: a line on stdout, a JSON line in the results
// file.
type result struct {
	Type        string    `json:"type"` // rate, noisy, fifo
	Variant     string    `json:"variant,omitempty"`
	Time        time.Time `json:"time"`
	Sesq        string    `json:"sesq"`
	Workers     int       `json:"workers"`
	Concurrency int       `json:"concurrency"`
	SESRate     float64   `json:"ses_rate"`
	LatencyMS   float64   `json:"ses_latency_ms"`
	N           int       `json:"n"` // envelopes enqueued
	Env         []string  `json:"env,omitempty"`
	Skipped     string    `json:"skipped,omitempty"`
	Error       string    `json:"error,omitempty"`
	Note        string    `json:"note,omitempty"`

	WallS        float64   `json:"wall_s"` // t0 → the last envelope's first acceptance
	MsgsPerS     float64   `json:"msgs_per_s"`
	PctOfRate    float64   `json:"pct_of_rate"`
	ThrottledPct float64   `json:"throttled_pct"` // throttles / send calls
	SES          stubStats `json:"ses"`
	DLQ          int       `json:"dead_lettered"`
	Lost         int       `json:"lost"` // enqueued, never accepted, not dead-lettered, not in the queue
	Left         int       `json:"left_in_queues"`
	Exits        []string  `json:"exits,omitempty"`
	Logs         string    `json:"logs"`

	// noisy
	Quiet         *dwell           `json:"quiet_dwell,omitempty"` // tenants B–E together
	QuietByTenant map[string]dwell `json:"quiet_dwell_by_tenant,omitempty"`
	Bulk          *dwell           `json:"bulk_dwell,omitempty"` // tenant A
	BulkDrainS    float64          `json:"bulk_drain_s,omitempty"`
	EnqueueS      float64          `json:"bulk_enqueue_s,omitempty"`

	// fifo
	Groups    int     `json:"groups,omitempty"`
	FaultRate float64 `json:"fault_rate,omitempty"`
}

// dwell is how long envelopes waited from enqueued to accepted by SES, in
// seconds (nearest-rank percentiles).
type dwell struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_s"`
	P99 float64 `json:"p99_s"`
	Max float64 `json:"max_s"`
}

func dwellOf(ds []time.Duration) dwell {
	if len(ds) == 0 {
		return dwell{}
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.999999) - 1
		return ds[max(0, min(i, len(ds)-1))].Seconds()
	}
	return dwell{N: len(ds), P50: rank(0.50), P99: rank(0.99), Max: ds[len(ds)-1].Seconds()}
}

// finish stops the workers and fills in what every scenario reports; err
// is why the run did not complete (nil: it did).
func (r *run) finish(ctx context.Context, res *result, queues []queuePair, err error) {
	st := r.stub.stats()
	if err != nil {
		res.Error = err.Error()
		if !errors.Is(err, context.Canceled) && r.fleet != nil {
			res.Error += " (worker logs: " + res.Logs + ")"
		}
	}
	switch {
	case r.fleet == nil:
	case ctx.Err() != nil: // interrupted: no orderly shutdown to wait for
		r.fleet.kill()
		r.fleet = nil
	default:
		res.Exits = r.fleet.stop(r.b.stopTimeout)
		r.fleet = nil
	}
	res.SES = st
	if st.Sends > 0 {
		res.ThrottledPct = 100 * float64(st.Throttled) / float64(st.Sends)
	}
	if !st.LastNew.IsZero() && !r.t0.IsZero() {
		res.WallS = st.LastNew.Sub(r.t0).Seconds()
		if res.WallS > 0 {
			res.MsgsPerS = float64(st.Accepted) / res.WallS
			res.PctOfRate = 100 * res.MsgsPerS / r.b.rate
		}
	}
	dead := map[string]bool{}
	for _, q := range queues {
		ids, err := deadLettered(context.WithoutCancel(ctx), r.sqs, q.DLQ)
		if err != nil && res.Error == "" {
			res.Error = err.Error()
		}
		for id := range ids {
			dead[id] = true
		}
	}
	res.DLQ = len(dead)
	for _, q := range queues {
		if d, err := depth(context.WithoutCancel(ctx), r.sqs, q.URL); err == nil {
			res.Left += d
		}
	}
	accepted := r.stub.acceptedAt()
	unaccounted := 0
	for id := range r.rec.snapshot() {
		if accepted[id].IsZero() && !dead[id] {
			unaccounted++
		}
	}
	res.Lost = max(0, unaccounted-res.Left)
}
