package testkit

import (
	"log/slog"
	"testing"
)

// TestLogger logs through t.Log, so that a worker's logs show with the test
// that failed (and only with -v otherwise).
func TestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
