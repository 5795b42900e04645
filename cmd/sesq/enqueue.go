package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/codes"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/internal/telemetry"
	"github.com/sesq/sesq/payload"
)

// maxLine bounds one envelope line, its newline included: the largest
// body a Producer takes (a body too large for a message goes to S3 with
// SESQ_PAYLOAD_BUCKET). A longer line ends the input with an error.
const maxLine = envelope.MaxBodySize + 1

// enqueueChunk and enqueueChunkBytes bound the envelopes read before they
// are sent: a count, and their bytes (large envelopes are sent a few at a
// time).
const (
	enqueueChunk      = 500
	enqueueChunkBytes = 64 << 20
)

// cmdEnqueue sends envelopes, one JSON line each, through envelope.Producer
// (whose doc says which MessageGroupId and MessageDeduplicationId each
// message gets on a standard and on a FIFO queue). With SESQ_PAYLOAD_BUCKET
// an envelope too large for a message is kept there and the message points
// at it (package payload); --dry-run uploads nothing. Each message carries
// the trace context of the process's environment (TRACEPARENT,
// TRACESTATE), and, with tracing on (see internal/telemetry), of a
// producer span per chunk of lines within it.
func cmdEnqueue(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("enqueue", "sesq enqueue [--dry-run] [--json] [--no-group-id] [FILE|-]   (JSON lines; - or none: stdin)", stdout)
	dryRun := fs.Bool("dry-run", false, "validate only; send nothing, upload nothing (SESQ_PAYLOAD_BUCKET)")
	noGroup := fs.Bool("no-group-id", false, "send without MessageGroupId (by default each message's group is its envelope's tenant: an SQS fair queue); not for a FIFO queue, which needs one")
	asJSON := fs.Bool("json", false, `print one JSON object per line: {"line": N, "messageId": …} or {"line": N, "error": …} (with --dry-run: {"line": N, "valid": true, "action": …, "region": …, "id": …})`)
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	in := stdin
	switch {
	case fs.NArg() == 1 && fs.Arg(0) != "-":
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return &usageError{fmt.Sprintf("enqueue: %v", err)}
		}
		defer f.Close()
		in = f
	}
	var send func(ctx context.Context, bodies [][]byte) ([]envelope.Result, error)
	var parsed []*envelope.Envelope // with --dry-run: the chunk's envelopes, nil where invalid
	if *dryRun {
		send = func(_ context.Context, bodies [][]byte) ([]envelope.Result, error) {
			results := make([]envelope.Result, len(bodies))
			parsed = make([]*envelope.Envelope, len(bodies))
			for i, b := range bodies {
				if e, err := envelope.Parse(b); err != nil {
					results[i].Err = err
				} else {
					parsed[i] = e
					results[i].MessageID = fmt.Sprintf("valid (%s in %s, id %s)", e.Action, e.Region(), e.Key())
				}
			}
			return results, nil
		}
	} else {
		cfg, err := loadConfig(config.ForEnqueue)
		if err != nil {
			return err
		}
		if *noGroup && envelope.IsFIFO(cfg.QueueURL) {
			return &usageError{"enqueue: --no-group-id is for standard queues: SESQ_QUEUE_URL is a FIFO queue, which needs a MessageGroupId on every message (the envelope's group, else its tenant)"}
		}
		awsCfg, err := loadAWS(ctx)
		if err != nil {
			return err
		}
		tracing, err := telemetry.Load(os.Getenv)
		if err != nil {
			return &usageError{err.Error()}
		}
		p := &envelope.Producer{Client: newSQS(awsCfg), QueueURL: cfg.QueueURL, NoGroupID: *noGroup, Threshold: cfg.PayloadThreshold}
		if cfg.PayloadBucket != "" {
			p.Payloads, p.PayloadBucket = &payload.Store{Client: newS3(awsCfg)}, cfg.PayloadBucket
		}
		send = p.EnqueueBodies
		ctx = telemetry.FromEnv(ctx, os.Getenv)
		if tracing != nil {
			tp := tracing.Start(ctx, versionString(), slog.New(slog.NewTextHandler(stderr, nil)))
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
				defer cancel()
				tp.Shutdown(sctx)
			}()
			send = func(ctx context.Context, bodies [][]byte) ([]envelope.Result, error) {
				ctx, span := telemetry.StartProducer(ctx, tp, cfg.QueueURL, len(bodies))
				defer span.End()
				results, err := p.EnqueueBodies(ctx, bodies)
				if err != nil {
					span.SetStatus(codes.Error, err.Error())
				}
				return results, err
			}
		}
	}

	failed := false
	var lines []int
	var bodies [][]byte
	size := 0 // of bodies
	flush := func() error {
		if len(bodies) == 0 {
			return nil
		}
		results, err := send(ctx, bodies)
		for i, r := range results {
			failed = failed || r.Err != nil
			switch {
			case *asJSON && r.Err != nil:
				writeJSONLine(stdout, map[string]any{"line": lines[i], "error": r.Err.Error()})
			case *asJSON && *dryRun:
				e := parsed[i]
				writeJSONLine(stdout, map[string]any{"line": lines[i], "valid": true, "action": e.Action, "region": e.Region(), "id": e.Key()})
			case *asJSON && r.Payload != nil:
				writeJSONLine(stdout, map[string]any{"line": lines[i], "messageId": r.MessageID, "payload": r.Payload})
			case *asJSON:
				writeJSONLine(stdout, map[string]any{"line": lines[i], "messageId": r.MessageID})
			case r.Err != nil:
				fmt.Fprintf(stdout, "line %d: error: %v\n", lines[i], r.Err)
			case r.Payload != nil:
				fmt.Fprintf(stdout, "line %d: %s (body of %d bytes in %s)\n", lines[i], r.MessageID, len(bodies[i]), r.Payload)
			default:
				fmt.Fprintf(stdout, "line %d: %s\n", lines[i], r.MessageID)
			}
		}
		lines, bodies, size = lines[:0], bodies[:0], 0
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		lines = append(lines, n)
		bodies = append(bodies, bytes.Clone(line))
		size += len(line)
		if len(bodies) == enqueueChunk || size >= enqueueChunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		flush()
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("enqueue: line %d is longer than %d bytes, the largest envelope (SES takes no larger mail)", n+1, envelope.MaxBodySize)
		}
		return fmt.Errorf("enqueue: reading line %d: %w", n+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	if failed {
		return errSilentFailure
	}
	return nil
}
