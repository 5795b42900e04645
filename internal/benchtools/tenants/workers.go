package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fleet is N `sesq run` processes sharing one SES account.
type fleet struct {
	procs  []*proc
	exited chan struct{} // closed when the first one exits
	once   sync.Once
}

type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startFleet starts n workers with env, each in a process group of its own
// (so that stopping reaches anything it starts), logging to logPrefix-I.log.
func startFleet(bin string, n int, env []string, logPrefix string) (*fleet, error) {
	f := &fleet{exited: make(chan struct{})}
	for i := range n {
		path := fmt.Sprintf("%s-%d.log", logPrefix, i+1)
		lf, err := os.Create(path)
		if err != nil {
			f.kill()
			return nil, err
		}
		cmd := exec.Command(bin, "run")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			lf.Close()
			f.kill()
			return nil, fmt.Errorf("start %s run: %w", bin, err)
		}
		p := &proc{cmd: cmd, log: path, done: make(chan struct{})}
		go func() {
			cmd.Wait()
			lf.Close()
			close(p.done)
			f.once.Do(func() { close(f.exited) })
		}()
		f.procs = append(f.procs, p)
	}
	return f, nil
}

// exitReport describes the workers that have exited: status and the end
// of the log (a refused configuration is one line there).
func (f *fleet) exitReport() string {
	var out []string
	for i, p := range f.procs {
		select {
		case <-p.done:
			out = append(out, fmt.Sprintf("worker %d %s: %s", i+1, p.cmd.ProcessState, logTail(p.log, 600)))
		default:
		}
	}
	return strings.Join(out, "; ")
}

// stop sends SIGTERM to every worker, waits up to within for each, then
// kills what is left. It returns each one's exit.
func (f *fleet) stop(within time.Duration) []string {
	for _, p := range f.procs {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(within)
	var exits []string
	for _, p := range f.procs {
		select {
		case <-p.done:
		case <-deadline:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		exits = append(exits, p.cmd.ProcessState.String())
	}
	return exits
}

// kill ends every worker at once (an interrupted or failed run).
func (f *fleet) kill() {
	for _, p := range f.procs {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// knows reports whether bin's configuration reads variable: with the
// variable set to a value nothing accepts, the line of problems `sesq run`
// exits with names it if and only if the binary reads it (today's
// configuration ignores SESQ_* variables it does not know).
func knows(ctx context.Context, bin, variable string) (bool, error) {
	line, err := configProblems(ctx, bin, variable+"=%probe%")
	return strings.Contains(line, variable) && !strings.Contains(strings.ToLower(line), "unknown"), err
}

// refuses returns what bin's configuration says about env's variables
// ("" when it names none of them): a queue URL it does not support, say.
func refuses(ctx context.Context, bin string, env ...string) (string, error) {
	line, err := configProblems(ctx, bin, append(env, "SESQ_LOG_LEVEL=%probe%")...)
	var named []string
	for _, p := range strings.Split(strings.TrimPrefix(line, "sesq: "), "; ") {
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(p, k+":") {
				named = append(named, p)
				break
			}
		}
	}
	return strings.Join(named, "; "), err
}

// configProblems runs `sesq run` with env and no AWS settings, which must
// make it exit 2 with the one line of configuration problems it prints
// (SESQ_QUEUE_URL is required, or a variable in env is invalid).
func configProblems(ctx context.Context, bin string, env ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "SESQ_HTTP_ADDR="}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		return "", fmt.Errorf("probing the configuration of %s: `sesq run` with %v should exit 2, got %v: %s", bin, env, err, logTailBytes(stderr.Bytes()))
	}
	return strings.TrimSpace(stderr.String()), nil
}

func logTailBytes(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 300 {
		b = b[len(b)-300:]
	}
	return string(b)
}
