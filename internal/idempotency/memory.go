// Package idempotency remembers which envelopes SES already accepted, by
// their idempotency key, so that a redelivered message is not sent again.
// SQS delivers at least once: a message can come twice (a worker that died
// after the send and before the delete, a visibility timeout that ran out),
// and its key (the envelope id, or the SHA-256 of the body) is how sesq
// tells.
package idempotency

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// State of a key.
type State int

const (
	// New: no send is known; the caller now holds the key and must call
	// Done or Release.
	New State = iota
	// InProgress: another send of the same key is under way.
	InProgress
	// Sent: SES accepted this key before.
	Sent
)

// Memory is an in-process store, bounded in size, whose entries expire: it
// suppresses duplicates that come back to the same worker (a fleet needs a
// shared store).
type Memory struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]*list.Element
	order   *list.List // oldest first
}

type entry struct {
	key     string
	state   State
	expires time.Time
}

// NewMemory keeps at most max keys for ttl each; now is the clock.
func NewMemory(max int, ttl time.Duration, now func() time.Time) *Memory {
	return &Memory{ttl: ttl, max: max, now: now, entries: map[string]*list.Element{}, order: list.New()}
}

// Begin claims key for a send: New when the caller may send, or what is
// known of it.
func (m *Memory) Begin(_ context.Context, key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	if el, ok := m.entries[key]; ok {
		return el.Value.(*entry).state, nil
	}
	m.put(key, InProgress, now)
	return New, nil
}

// Done records that SES accepted key.
func (m *Memory) Done(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(key, Sent, m.now())
	return nil
}

// Release gives up a claim that did not end in a send.
func (m *Memory) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok && el.Value.(*entry).state == InProgress {
		m.order.Remove(el)
		delete(m.entries, key)
	}
	return nil
}

func (m *Memory) put(key string, s State, now time.Time) {
	if el, ok := m.entries[key]; ok {
		m.order.Remove(el)
	}
	m.entries[key] = m.order.PushBack(&entry{key: key, state: s, expires: now.Add(m.ttl)})
	for m.order.Len() > m.max {
		old := m.order.Front()
		m.order.Remove(old)
		delete(m.entries, old.Value.(*entry).key)
	}
}

// expire drops entries past their time (the oldest are first).
func (m *Memory) expire(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		e := el.Value.(*entry)
		if e.expires.After(now) {
			return
		}
		m.order.Remove(el)
		delete(m.entries, e.key)
	}
}

// Len counts the keys held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
