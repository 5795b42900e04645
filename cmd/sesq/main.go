// Command sesq sends email through Amazon SES as a delegate sender, from send
// envelopes on an SQS queue.
//
//	sesq run                  the worker, until SIGTERM/SIGINT
//	sesq enqueue [FILE|-]     validate and enqueue envelopes (JSON lines)
//	sesq queues create NAME   create NAME and NAME-dlq with a redrive policy
//	sesq dlq inspect|replay|purge
//	sesq health [HOST:PORT]
//	sesq version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// version is stamped by the build: -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the command ran and something failed (an invalid envelope)
	exitUsage  = 2 // bad configuration or usage
)

// usageError is a problem with how sesq was called or configured: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `usage:
  sesq run                  run the worker until SIGTERM or SIGINT
  sesq enqueue [--dry-run] [--json] [FILE|-]   validate envelopes (JSON lines) and enqueue the valid ones
  sesq queues create [--json] NAME   create NAME and NAME-dlq with a redrive policy
  sesq dlq inspect|replay|purge   look into, replay or purge the dead-letter queue
  sesq health [--json] [HOST:PORT]   exit 0 when the worker's /healthz answers OK
  sesq version [--json]     print the version

Every command takes -h. Configuration comes from SESQ_* variables and the AWS SDK's own
(see README).`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	stopProfile := startProfile()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	stopProfile()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "enqueue":
		err = cmdEnqueue(ctx, args[1:], stdin, stdout, stderr)
	case "queues":
		err = cmdQueues(ctx, args[1:], stdout)
	case "dlq":
		err = cmdDLQ(ctx, args[1:], stdout, stderr)
	case "health":
		err = cmdHealth(ctx, args[1:], stdout)
	case "version", "--version", "-version":
		err = cmdVersion(args[1:], stdout)
	case "help", "-h", "--help", "-help":
		fmt.Fprintln(stdout, usage)
	default:
		err = &usageError{fmt.Sprintf("unknown command %q\n%s", args[0], usage)}
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "sesq:", err)
		return exitUsage
	case errors.Is(err, errSilentFailure):
		return exitFailed
	case errors.Is(err, errHelp):
		return exitOK
	default:
		fmt.Fprintln(stderr, "sesq:", err)
		return exitFailed
	}
}

// errSilentFailure: the command failed and has said why already.
var errSilentFailure = errors.New("failed")

func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlags("version", "sesq version [--json]", stdout)
	asJSON := fs.Bool("json", false, `print {"version": …, "go": …}`)
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, map[string]string{"version": versionString(), "go": runtime.Version()})
	}
	fmt.Fprintln(stdout, "sesq", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
