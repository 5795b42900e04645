package logbuf

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder counts the writes it gets.
type recorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	err    error
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	if r.err != nil {
		return 0, r.err
	}
	return r.buf.Write(p)
}

func (r *recorder) state() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String(), r.writes
}

func TestBatchesLinesAndFlushesOnTime(t *testing.T) {
	rec := &recorder{}
	w := New(rec, 500*time.Millisecond)
	defer w.Close()
	log := slog.New(slog.NewJSONHandler(w, nil))
	for i := range 100 {
		log.Info("message", "i", i)
	}
	if s, n := rec.state(); n != 0 || s != "" {
		t.Fatalf("wrote %d times before the interval", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, n := rec.state()
		if strings.Count(s, "\n") == 100 {
			if n != 1 {
				t.Errorf("100 lines took %d writes, want 1", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 s: %d lines written", strings.Count(s, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullBufferAndBigLinesGoOutAtOnce(t *testing.T) {
	rec := &recorder{}
	w := New(rec, time.Hour)
	line := []byte(strings.Repeat("x", 1000) + "\n")
	for range Size/len(line) + 1 {
		w.Write(line)
	}
	if s, n := rec.state(); n != 1 || len(s) != (Size/len(line))*len(line) {
		t.Fatalf("after overfilling: %d writes of %d bytes", n, len(s))
	}
	big := []byte(strings.Repeat("y", 2*Size) + "\n")
	w.Write(big)
	if s, _ := rec.state(); !strings.HasSuffix(s, string(big)) {
		t.Fatalf("a line bigger than the buffer was not written through in order")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s, _ := rec.state(); strings.Count(s, "\n") != Size/len(line)+2 {
		t.Fatalf("after Close: %d lines, want %d", strings.Count(s, "\n"), Size/len(line)+2)
	}
	if err := w.Close(); err != nil { // twice is harmless
		t.Fatal(err)
	}
}

func TestWriteErrorsAreReported(t *testing.T) {
	rec := &recorder{err: errors.New("disk full")}
	w := New(rec, time.Hour)
	defer w.Close()
	w.Write([]byte("a\n"))
	if err := w.Flush(); err == nil {
		t.Fatal("Flush hid the write error")
	}
	w.Write([]byte("b\n"))
	w.Flush()
	rec.mu.Lock()
	rec.err = nil
	rec.mu.Unlock()
	if _, err := w.Write([]byte("c\n")); err != nil {
		t.Fatalf("an error was reported twice: %v", err)
	}
}
