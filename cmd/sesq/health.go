package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// cmdHealth checks a running worker's /healthz, for container health checks
// in images without a shell or curl.
func cmdHealth(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("health", "sesq health [--json] [HOST:PORT]   (default 127.0.0.1:9090)", stdout)
	asJSON := fs.Bool("json", false, `print {"addr": …, "healthy": …, "status": …}; the exit code says the same`)
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	addr := "127.0.0.1:9090"
	if fs.NArg() == 1 {
		addr = fs.Arg(0)
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return &usageError{fmt.Sprintf("health: %v", err)}
	}
	report := func(healthy bool, status string) error {
		if *asJSON {
			if err := printJSON(stdout, map[string]any{"addr": addr, "healthy": healthy, "status": status}); err != nil {
				return err
			}
			if !healthy {
				return errSilentFailure
			}
			return nil
		}
		if !healthy {
			return errors.New("health: " + status)
		}
		fmt.Fprintln(stdout, "ok")
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return report(false, err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return report(false, resp.Status+": "+strings.TrimSpace(string(body)))
	}
	return report(true, "ok")
}
