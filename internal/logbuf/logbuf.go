// Package logbuf batches log lines into fewer writes: one line per message
// at hundreds of messages a second is otherwise one write system call each.
// Lines reach the underlying writer within the flush interval, at once when
// the buffer fills, and on Close.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Size is the buffer that triggers a write when full.
const Size = 32 << 10

// Writer buffers whole writes (slog handlers write one line per call) and
// flushes them every interval.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	err  error // the last write error, reported by the next Write
	stop chan struct{}
	done chan struct{}
}

// New starts a Writer over w that flushes every interval.
func New(w io.Writer, interval time.Duration) *Writer {
	b := &Writer{w: w, buf: make([]byte, 0, Size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop(interval)
	return b
}

func (b *Writer) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write appends p (one log line) and writes the buffer out when p would not
// fit. A line larger than the buffer goes out at once.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flushLocked()
		if len(p) > cap(b.buf) {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	err := b.err
	b.err = nil
	return err
}

func (b *Writer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

// Close stops the flushing and writes out what is left.
func (b *Writer) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}
