// Command tenants is the benchmark of tenants, lanes and FIFO queues (make
// bench-tenants; docs/performance.md): `sesq run` processes against fauxqs
// and an SES v1 stub whose account allows -rate sends per second (a token
// bucket with one second's burst) and answers after -latency.
//
//   - rate: 1, 2 and 4 workers drain a backlog of -n envelopes; msgs/s as a
//     share of the rate and the share of send calls throttled.
//   - noisy: tenant A enqueues -bulk envelopes at once, then tenants B–E
//     each enqueue -quiet-rate per second for -quiet-for; the quiet
//     tenants' dwell (enqueued → accepted by SES), A's drain time and the
//     total throughput, (a) one queue without fair sharing, (b) with it,
//     (c) with B–E on a high-priority lane and A on a bulk lane.
//   - fifo: -fifo-n envelopes over -groups groups on a FIFO queue, -fault-rate
//     of send calls answered with a transient fault; order violations
//     within a group, duplicates, lost envelopes and throughput.
//
// Each run prints one line and appends a JSON line to -out.
//
//	go run ./internal/benchtools/tenants -sesq bin/sesq -scenarios rate,noisy-a -n 2000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesq/sesq/internal/emulator"
)

type bench struct {
	sesq        string
	version     string
	emuDir      string
	logDir      string
	out         *os.File
	rate        float64
	latency     time.Duration
	concurrency int
	timeout     time.Duration
	stopTimeout time.Duration
	env         []string

	n         int
	workers   []int
	bulk      int
	quietRate float64
	quietFor  time.Duration
	fifoN     int
	groups    int
	faultRate float64
	seed      uint64
}

type envList struct{ p *[]string }

func (l envList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, " ")
}
func (l envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*l.p = append(*l.p, v)
	return nil
}

var scenarioNames = []string{"rate", "noisy-a", "noisy-b", "noisy-c", "fifo"}

func main() {
	b := &bench{}
	var scenarios, workers, out string
	fs := flag.NewFlagSet("tenants", flag.ExitOnError)
	fs.StringVar(&b.sesq, "sesq", "bin/sesq", "the sesq binary (make build)")
	fs.StringVar(&scenarios, "scenarios", "rate,noisy,fifo", "comma-separated: rate, noisy (= noisy-a,noisy-b,noisy-c), noisy-a, noisy-b, noisy-c, fifo")
	fs.StringVar(&out, "out", "bin/bench-tenants/results.jsonl", "JSON lines are appended here; worker and fauxqs logs go beside it")
	fs.Float64Var(&b.rate, "rate", 200, "the SES account's send rate (msgs/s, one second's burst); GetSendQuota tells it")
	fs.DurationVar(&b.latency, "latency", 50*time.Millisecond, "SES answer latency")
	fs.IntVar(&b.concurrency, "concurrency", 32, "SESQ_CONCURRENCY of each worker")
	fs.DurationVar(&b.timeout, "timeout", 15*time.Minute, "a run that is not done by then fails")
	fs.DurationVar(&b.stopTimeout, "stop-timeout", 40*time.Second, "wait this long for workers to exit after SIGTERM, then kill them")
	fs.Var(envList{&b.env}, "env", "KEY=VALUE for the workers' environment, after the bench's own (repeatable)")
	fs.IntVar(&b.n, "n", 20000, "rate: the backlog")
	fs.StringVar(&workers, "workers", "1,2,4", "rate: worker counts, one run each")
	fs.IntVar(&b.bulk, "bulk", 20000, "noisy: tenant A's envelopes, enqueued at once")
	fs.Float64Var(&b.quietRate, "quiet-rate", 10, "noisy: envelopes per second each of tenants B–E enqueues")
	fs.DurationVar(&b.quietFor, "quiet-for", 60*time.Second, "noisy: how long B–E enqueue")
	fs.IntVar(&b.fifoN, "fifo-n", 5000, "fifo: envelopes")
	fs.IntVar(&b.groups, "groups", 50, "fifo: message groups")
	fs.Float64Var(&b.faultRate, "fault-rate", 0.05, "fifo: share of send calls answered 503 ServiceUnavailable or 500 InternalFailure, each call on its own")
	fs.Uint64Var(&b.seed, "seed", 1, "fifo: seed of the fault choice")
	fs.Parse(os.Args[1:])

	run, err := b.check(scenarios, workers, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-tenants:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	defer b.out.Close()

	fmt.Printf("bench-tenants: %s (%s), SES %g/s, latency %v, concurrency %d, %d CPUs; results: %s\n",
		b.sesq, b.version, b.rate, b.latency, b.concurrency, runtime.NumCPU(), out)
	var results []result
	failed := false
	for _, name := range run {
		var rs []result
		switch name {
		case "rate":
			for _, w := range b.workers {
				rs = append(rs, b.report(b.runRate(ctx, w)))
			}
		case "noisy-a", "noisy-b", "noisy-c":
			rs = append(rs, b.report(b.runNoisy(ctx, strings.TrimPrefix(name, "noisy-"))))
		case "fifo":
			rs = append(rs, b.report(b.runFIFO(ctx)))
		}
		for _, r := range rs {
			failed = failed || r.Error != ""
		}
		results = append(results, rs...)
		if ctx.Err() != nil {
			break
		}
	}
	printTables(results, b.rate)
	if failed {
		os.Exit(1)
	}
}

// check reads the flags that need reading and finds what the runs need; it
// returns the scenarios to run, in order.
func (b *bench) check(scenarios, workers, out string) ([]string, error) {
	want := map[string]bool{}
	for _, s := range strings.Split(scenarios, ",") {
		switch s = strings.TrimSpace(s); s {
		case "noisy":
			want["noisy-a"], want["noisy-b"], want["noisy-c"] = true, true, true
		case "rate", "noisy-a", "noisy-b", "noisy-c", "fifo":
			want[s] = true
		case "":
		default:
			return nil, fmt.Errorf("-scenarios: unknown %q (known: rate, noisy, noisy-a, noisy-b, noisy-c, fifo)", s)
		}
	}
	var run []string
	for _, s := range scenarioNames {
		if want[s] {
			run = append(run, s)
		}
	}
	for _, w := range strings.Split(workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-workers: want counts like 1,2,4, got %q", workers)
		}
		b.workers = append(b.workers, n)
	}
	switch {
	case b.rate <= 0:
		return nil, fmt.Errorf("-rate must be positive")
	case b.n < 1 || b.bulk < 1 || b.fifoN < 1 || b.groups < 1:
		return nil, fmt.Errorf("-n, -bulk, -fifo-n and -groups must be positive")
	case b.quietRate <= 0 || b.quietFor <= 0:
		return nil, fmt.Errorf("-quiet-rate and -quiet-for must be positive")
	case b.faultRate < 0 || b.faultRate >= 1:
		return nil, fmt.Errorf("-fault-rate must be in [0, 1)")
	}
	var err error
	if b.sesq, err = filepath.Abs(b.sesq); err != nil {
		return nil, err
	}
	v, err := exec.Command(b.sesq, "version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s version: %v (make build first)", b.sesq, err)
	}
	b.version = strings.TrimSpace(string(v))
	if b.emuDir, err = emulator.Dir(); err != nil {
		return nil, err
	}
	b.logDir = filepath.Dir(out)
	if err := os.MkdirAll(b.logDir, 0o755); err != nil {
		return nil, err
	}
	b.out, err = os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	return run, err
}

func (b *bench) newResult(typ, variant string) result {
	return result{Type: typ, Variant: variant, Time: time.Now().UTC(), Sesq: b.version,
		Concurrency: b.concurrency, SESRate: b.rate, LatencyMS: float64(b.latency) / 1e6}
}

// report prints a result's line and appends its JSON line.
func (b *bench) report(r result) result {
	line, _ := json.Marshal(r)
	b.out.Write(append(line, '\n'))
	fmt.Println(r.line())
	return r
}

func (r result) name() string {
	switch r.Type {
	case "rate":
		return fmt.Sprintf("rate, %d worker(s)", r.Workers)
	case "noisy":
		return fmt.Sprintf("noisy (%s) %s", r.Variant, noisyTitle[r.Variant])
	}
	return fmt.Sprintf("fifo, %d groups, %.0f %% faults", r.Groups, 100*r.FaultRate)
}

// line is the result in one line.
func (r result) line() string {
	var b strings.Builder
	b.WriteString(r.name() + ": ")
	if r.Skipped != "" {
		return b.String() + "skipped: " + r.Skipped
	}
	fmt.Fprintf(&b, "%d envelopes, %.1f msgs/s (%.1f %% of %g/s) over %.1f s; throttled %d of %d send calls (%.2f %%)",
		r.N, r.MsgsPerS, r.PctOfRate, r.SESRate, r.WallS, r.SES.Throttled, r.SES.Sends, r.ThrottledPct)
	switch r.Type {
	case "noisy":
		if r.Quiet != nil {
			fmt.Fprintf(&b, "; B–E dwell p50 %.2f s, p99 %.2f s, max %.2f s (n %d)", r.Quiet.P50, r.Quiet.P99, r.Quiet.Max, r.Quiet.N)
		}
		if r.BulkDrainS > 0 {
			fmt.Fprintf(&b, "; A drained in %.1f s (enqueue %.1f s)", r.BulkDrainS, r.EnqueueS)
		}
	case "fifo":
		fmt.Fprintf(&b, "; order violations %d, duplicates within groups %d, faults injected %d", r.SES.Violations, r.SES.GroupDups, r.SES.Faulted)
	}
	fmt.Fprintf(&b, "; duplicates %d, dead-lettered %d, lost %d", r.SES.Duplicates, r.DLQ, r.Lost)
	if r.Left > 0 {
		fmt.Fprintf(&b, ", left in queues %d", r.Left)
	}
	if r.Note != "" {
		b.WriteString(" [" + r.Note + "]")
	}
	if r.Error != "" {
		b.WriteString("\n  FAILED: " + r.Error)
	}
	return b.String()
}

// printTables prints the results as the Markdown tables of
// docs/performance.md, leaving out runs that were skipped or failed.
func printTables(rs []result, rate float64) {
	var rates, noisy, fifo []result
	for _, r := range rs {
		switch {
		case r.Skipped != "" || r.Error != "":
		case r.Type == "rate":
			rates = append(rates, r)
		case r.Type == "noisy":
			noisy = append(noisy, r)
		default:
			fifo = append(fifo, r)
		}
	}
	if len(rates) > 0 {
		fmt.Printf("\n| workers | msgs/s | of %g/s | throttled |\n|---|---|---|---|\n", rate)
		for _, r := range rates {
			fmt.Printf("| %d | %.0f | %.1f %% | %d of %d (%.2f %%) |\n", r.Workers, r.MsgsPerS, r.PctOfRate, r.SES.Throttled, r.SES.Sends, r.ThrottledPct)
		}
	}
	if len(noisy) > 0 {
		fmt.Printf("\n| variant | B–E dwell p50 | B–E dwell p99 | A drained in | total msgs/s (of %g/s) | throttled |\n|---|---|---|---|---|---|\n", rate)
		for _, r := range noisy {
			q := dwell{}
			if r.Quiet != nil {
				q = *r.Quiet
			}
			fmt.Printf("| (%s) %s | %.2f s | %.2f s | %.1f s | %.0f (%.1f %%) | %.2f %% |\n", r.Variant, noisyTitle[r.Variant], q.P50, q.P99, r.BulkDrainS, r.MsgsPerS, r.PctOfRate, r.ThrottledPct)
		}
	}
	if len(fifo) > 0 {
		fmt.Printf("\n| envelopes / groups | faults injected | order violations | duplicates | lost | dead-lettered | msgs/s |\n|---|---|---|---|---|---|---|\n")
		for _, r := range fifo {
			fmt.Printf("| %d / %d | %d of %d calls | %d | %d | %d | %d | %.0f |\n", r.N, r.Groups, r.SES.Faulted, r.SES.Sends, r.SES.Violations, r.SES.Duplicates, r.Lost, r.DLQ, r.MsgsPerS)
		}
	}
}
