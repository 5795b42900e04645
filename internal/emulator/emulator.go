// Package emulator starts the local AWS emulators sesq's tests and demo run
// against, as child processes on free loopback ports: fauxqs (SQS) and
// aws-ses-v2-local (SES), installed from localstack/package-lock.json.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Process is one running emulator.
type Process struct {
	Name string
	URL  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan struct{}
}

// Dir finds the localstack/ folder with the installed emulators, walking up
// from the working directory to the module root.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			ls := filepath.Join(d, "localstack")
			if _, err := os.Stat(filepath.Join(ls, "node_modules", "fauxqs")); err != nil {
				return "", fmt.Errorf("emulators not installed in %s: run `make deps` (npm ci --prefix localstack)", ls)
			}
			return ls, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above the working directory")
		}
	}
}

// StartFauxqs starts fauxqs from dir (see Dir). Its output goes to logw.
func StartFauxqs(ctx context.Context, dir string, logw io.Writer) (*Process, error) {
	return start(ctx, "fauxqs", dir, logw, "/health", func(port int) ([]string, []string) {
		return []string{"node", filepath.Join(dir, "fauxqs.mjs")}, []string{"FAUXQS_PORT=" + strconv.Itoa(port)}
	})
}

// StartSESLocal starts aws-ses-v2-local from dir (see Dir). Its mail store
// is at URL + "/store", its web viewer at URL.
func StartSESLocal(ctx context.Context, dir string, logw io.Writer) (*Process, error) {
	return start(ctx, "aws-ses-v2-local", dir, logw, "/health-check", func(port int) ([]string, []string) {
		return []string{"node", filepath.Join(dir, "node_modules", "aws-ses-v2-local", "dist", "cli.js"), "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, nil
	})
}

// StartDynalite starts dynalite (DynamoDB, in memory) from dir (see Dir).
func StartDynalite(ctx context.Context, dir string, logw io.Writer) (*Process, error) {
	return start(ctx, "dynalite", dir, logw, "", func(port int) ([]string, []string) {
		return []string{"node", filepath.Join(dir, "node_modules", "dynalite", "cli.js"), "--port", strconv.Itoa(port)}, nil
	})
}

// start runs the command and environment that argv gives for a free port,
// until GET health answers 200 (any answer when health is "").
func start(ctx context.Context, name, dir string, logw io.Writer, health string, argv func(port int) (args, env []string)) (*Process, error) {
	if logw == nil {
		logw = io.Discard
	}
	var lastErr error
	for try := 0; try < 3; try++ { // a free port can be taken before the child binds it
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		args, env := argv(port)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logw, logw
		cmd.SysProcAttr = processGroup()
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		p := &Process{Name: name, URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
		go func() { cmd.Wait(); close(p.done) }()
		if err := p.waitHealthy(ctx, health, 60*time.Second); err != nil {
			p.Stop()
			lastErr = err
			continue
		}
		return p, nil
	}
	return nil, fmt.Errorf("%s did not start: %w", name, lastErr)
}

func (p *Process) waitHealthy(ctx context.Context, path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v", p.Name, p.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(p.URL + path); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || path == "" { // "": any answer will do
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s%s within %v", p.URL, path, limit)
}

// Stop ends the emulator (SIGTERM, then SIGKILL after 5 s).
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	signalGroup(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
