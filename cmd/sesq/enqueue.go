package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/config"
)

// maxLine bounds one envelope line; SQS takes at most 256 KiB per message.
const maxLine = 1 << 20

// enqueueChunk is how many envelopes are read before they are sent.
const enqueueChunk = 500

func cmdEnqueue(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dryRun := fs.Bool("dry-run", false, "validate only; send nothing")
	if err := fs.Parse(args); err != nil {
		return &usageError{fmt.Sprintf("enqueue: %v\nusage: sesq enqueue [--dry-run] [FILE|-]", err)}
	}
	in := stdin
	switch {
	case fs.NArg() > 1:
		return &usageError{"enqueue takes at most one argument: FILE or -"}
	case fs.NArg() == 1 && fs.Arg(0) != "-":
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return &usageError{fmt.Sprintf("enqueue: %v", err)}
		}
		defer f.Close()
		in = f
	}
	var send func(ctx context.Context, bodies [][]byte) ([]envelope.Result, error)
	if *dryRun {
		send = func(_ context.Context, bodies [][]byte) ([]envelope.Result, error) {
			results := make([]envelope.Result, len(bodies))
			for i, b := range bodies {
				if e, err := envelope.Parse(b); err != nil {
					results[i].Err = err
				} else {
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
		awsCfg, err := loadAWS(ctx)
		if err != nil {
			return err
		}
		p := &envelope.Producer{Client: newSQS(awsCfg), QueueURL: cfg.QueueURL}
		send = p.EnqueueBodies
	}

	failed := false
	var lines []int
	var bodies [][]byte
	flush := func() error {
		if len(bodies) == 0 {
			return nil
		}
		results, err := send(ctx, bodies)
		for i, r := range results {
			if r.Err != nil {
				failed = true
				fmt.Fprintf(stdout, "line %d: error: %v\n", lines[i], r.Err)
			} else {
				fmt.Fprintf(stdout, "line %d: %s\n", lines[i], r.MessageID)
			}
		}
		lines, bodies = lines[:0], bodies[:0]
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
		if len(bodies) == enqueueChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		flush()
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
