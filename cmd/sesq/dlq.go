package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/payload"
)

const dlqUsage = `usage:
  sesq dlq inspect [--json]
  sesq dlq replay  [filters] [--to URL] [--max N] [--rate N] [--max-replays K] [--include-invalid] [--dry-run] [--json]
  sesq dlq purge   [filters] --yes [--json]

filters: --reason R  --error-code C  --identity GLOB  --region R  --tenant T  --older-than D  --newer-than D
(D is a duration like 90m, 36h or 7d). The queue is SESQ_DLQ_URL; replay's target is SESQ_QUEUE_URL unless --to.`

func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{dlqUsage}
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, dlqUsage)
		return errHelp
	case "inspect":
		return dlqInspect(ctx, args[1:], stdout)
	case "replay":
		return dlqReplay(ctx, args[1:], stdout, stderr)
	case "purge":
		return dlqPurge(ctx, args[1:], stdout, stderr)
	}
	return &usageError{fmt.Sprintf("unknown dlq command %q\n%s", args[0], dlqUsage)}
}

// days is a flag.Value for durations that also takes whole days ("7d").
type days struct{ d *time.Duration }

func (v days) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 {
			return fmt.Errorf("not a number of days: %q", s)
		}
		*v.d = time.Duration(i) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("not a duration: %q", s)
	}
	*v.d = d
	return nil
}

func filterFlags(fs *flag.FlagSet) *deadletter.Filter {
	f := &deadletter.Filter{}
	fs.StringVar(&f.Reason, "reason", "", "sesq-reason (authorization, rejected, invalid, forbidden, expired, exhausted, unavailable, quota, redrive)")
	fs.StringVar(&f.ErrorCode, "error-code", "", "sesq-error-code, e.g. AccessDenied")
	fs.StringVar(&f.Identity, "identity", "", "identity ARN glob")
	fs.StringVar(&f.Region, "region", "", "the identity's region")
	fs.StringVar(&f.Tenant, "tenant", "", "the envelope's tenant, exactly (sesq-tenant: the tenant field, tenantName or the identity owner's account id)")
	fs.Var(days{&f.OlderThan}, "older-than", "failed longer ago than this")
	fs.Var(days{&f.NewerThan}, "newer-than", "failed more recently than this")
	return f
}

func dlqClient(ctx context.Context) (config.Config, aws.Config, deadletter.Queue, error) {
	cfg, err := loadConfig(config.ForDLQ)
	if err != nil {
		return cfg, aws.Config{}, nil, err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return cfg, awsCfg, nil, err
	}
	return cfg, awsCfg, newSQS(awsCfg), nil
}

func dlqInspect(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("dlq inspect", "sesq dlq inspect [--json]", stdout)
	asJSON := fs.Bool("json", false, "print one JSON array of groups")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	cfg, _, q, err := dlqClient(ctx)
	if err != nil {
		return err
	}
	groups, err := deadletter.Inspect(ctx, q, cfg.DLQURL)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, groups)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tERROR CODE\tREGION\tIDENTITY\tTENANT\tCOUNT\tOLDEST\tNEWEST")
	total, payloads := 0, 0
	for _, g := range groups {
		total += g.Count
		payloads += g.Payloads
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", g.Reason, dash(g.ErrorCode), dash(g.Region), dash(g.Identity), dash(g.Tenant), g.Count,
			g.Oldest.UTC().Format(time.RFC3339), g.Newest.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d messages in %d groups\n", total, len(groups))
	if payloads > 0 {
		fmt.Fprintf(stdout, "%d of them carry their envelope in S3 (no region or identity is read from those; a purge deletes the objects in SESQ_PAYLOAD_BUCKETS)\n", payloads)
	}
	if envelope.IsFIFO(cfg.DLQURL) {
		fmt.Fprintln(stdout, "note: a FIFO queue hands out no more messages of a MessageGroupId while some are held, so at most the first 10 of each MessageGroupId are counted")
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dlqReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq replay", "sesq dlq replay [filters] [--to URL] [--max N] [--rate N] [--max-replays K] [--include-invalid] [--dry-run] [--json]", stdout)
	filter := filterFlags(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	opts := deadletter.ReplayOptions{}
	fs.StringVar(&opts.To, "to", "", "target queue URL (default SESQ_QUEUE_URL)")
	fs.IntVar(&opts.Max, "max", 0, "move at most N messages (0: all)")
	fs.Float64Var(&opts.Rate, "rate", 0, "messages per second at most (0: unlimited)")
	fs.IntVar(&opts.MaxReplays, "max-replays", 3, "skip messages replayed this often already")
	fs.BoolVar(&opts.IncludeInvalid, "include-invalid", false, "replay reason invalid too")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "report what would move, move nothing")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	if opts.Max < 0 || opts.Rate < 0 || opts.MaxReplays < 0 {
		return &usageError{"dlq replay: --max, --rate and --max-replays must not be negative"}
	}
	cfg, _, q, err := dlqClient(ctx)
	if err != nil {
		return err
	}
	if opts.To == "" {
		opts.To = cfg.QueueURL
	}
	if opts.To == "" {
		return &usageError{"dlq replay: no target: set SESQ_QUEUE_URL or give --to URL"}
	}
	if opts.To == cfg.DLQURL {
		return &usageError{"dlq replay: the target is the dead-letter queue itself"}
	}
	opts.Filter = *filter
	if isTerminal(stderr) {
		opts.Progress = func(s deadletter.ReplaySummary) {
			fmt.Fprintf(stderr, "\r%s", progressLine(s))
		}
	}
	sum, err := deadletter.Replay(ctx, q, cfg.DLQURL, opts)
	if opts.Progress != nil {
		fmt.Fprintln(stderr)
	}
	verb := "moved"
	if opts.DryRun {
		verb = "would move"
	}
	if *asJSON {
		printJSON(stdout, map[string]any{
			"dryRun": opts.DryRun, "to": opts.To, "moved": sum.Moved, "skipped": sum.Skipped(), "filtered": sum.Filtered,
			"skippedReplays": sum.SkippedReplays, "skippedInvalid": sum.SkippedInvalid, "failed": sum.Failed, "seconds": sum.Elapsed.Seconds(),
		})
	} else {
		fmt.Fprintf(stdout, "%s %d to %s; skipped %d (filter %d, max-replays %d, invalid %d); failed %d; %.1fs\n",
			verb, sum.Moved, opts.To, sum.Skipped(), sum.Filtered, sum.SkippedReplays, sum.SkippedInvalid, sum.Failed, sum.Elapsed.Seconds())
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		fmt.Fprintf(stderr, "sesq: %d messages failed to move; they are still in the dead-letter queue (or, if their delete failed, in both queues)\n", sum.Failed)
		return errSilentFailure
	}
	return nil
}

func progressLine(s deadletter.ReplaySummary) string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Moved) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("moved %d  skipped %d  failed %d  %.1f msg/s  %s", s.Moved, s.Skipped(), s.Failed, rate, s.Elapsed.Round(time.Second))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func dlqPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq purge", "sesq dlq purge [filters] --yes [--json]", stdout)
	filter := filterFlags(fs.FlagSet)
	yes := fs.Bool("yes", false, "really delete (and the S3 payloads of what is deleted, in SESQ_PAYLOAD_BUCKETS)")
	asJSON := fs.Bool("json", false, "print what was deleted and the summary as JSON")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	if !*yes {
		return &usageError{"dlq purge deletes messages for good: add --yes (see what matches first with sesq dlq replay --dry-run or sesq dlq inspect)"}
	}
	cfg, awsCfg, q, err := dlqClient(ctx)
	if err != nil {
		return err
	}
	opts := deadletter.PurgeOptions{Filter: *filter}
	if len(cfg.PayloadBuckets) > 0 {
		opts.Payloads = &payload.Store{Client: newS3(awsCfg), Buckets: cfg.PayloadBuckets}
	}
	sum, err := deadletter.Purge(ctx, q, cfg.DLQURL, opts)
	if *asJSON {
		deleted := sum.Deleted
		if deleted == nil {
			deleted = []deadletter.Entry{}
		}
		printJSON(stdout, map[string]any{"deleted": deleted, "kept": sum.Kept, "failed": sum.Failed,
			"payloads": map[string]int{"deleted": sum.PayloadsDeleted, "left": sum.PayloadsLeft, "failed": sum.PayloadsFailed}})
	} else {
		for _, e := range sum.Deleted {
			payloadBucket := ""
			if e.PayloadBucket != "" {
				payloadBucket = " payload-bucket=" + e.PayloadBucket
			}
			fmt.Fprintf(stdout, "deleted %s reason=%s error-code=%s region=%s identity=%s tenant=%s failed-at=%s%s\n",
				e.MessageID, e.Reason, dash(e.ErrorCode), dash(e.Region), dash(e.Identity), dash(e.Tenant), e.FailedAt.UTC().Format(time.RFC3339), payloadBucket)
		}
		fmt.Fprintf(stdout, "deleted %d, kept %d, failed %d\n", len(sum.Deleted), sum.Kept, sum.Failed)
		if sum.PayloadsDeleted+sum.PayloadsLeft+sum.PayloadsFailed > 0 {
			fmt.Fprintf(stdout, "S3 payloads: deleted %d, left %d (bucket not in SESQ_PAYLOAD_BUCKETS), failed %d\n", sum.PayloadsDeleted, sum.PayloadsLeft, sum.PayloadsFailed)
		}
	}
	if sum.PayloadsFailed > 0 {
		fmt.Fprintf(stderr, "sesq: %d S3 payloads of purged messages could not be deleted (first: %v); they stay until the bucket's lifecycle rule expires them\n", sum.PayloadsFailed, sum.PayloadErr)
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 || sum.PayloadsFailed > 0 {
		return errSilentFailure
	}
	return nil
}
