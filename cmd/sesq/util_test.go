package main_test

import (
	"bytes"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/testsupport/sestest"
)

type sqstypesName = types.QueueAttributeName

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWorker starts `sesq run` with env and returns it with its stderr (the
// logs); a worker the test did not wait for is killed when the test ends.
func startWorker(t *testing.T, env []string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, logs
}

// startSES starts an SES test endpoint answering after latency, closed when
// the test ends.
func startSES(t *testing.T, latency time.Duration) *sestest.Server {
	t.Helper()
	ses, err := sestest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ses.Close)
	ses.Latency("", latency)
	return ses
}
