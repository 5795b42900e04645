package worker

import (
	"sync"
	"time"

	"github.com/sesq/sesq/internal/ledger"
)

// memo remembers the ledgers of messages this worker made visible again
// itself because putting them back as new messages failed (SQS refused the
// write): such a message returns with its old ledger and a receive count
// raised by that delivery, which would otherwise read as a delivery cut
// short. On a FIFO queue it holds every message the worker made visible
// again (a FIFO message is never put back as a new one). Entries go when
// the message returns or when they expire.
type memo struct {
	mu      sync.Mutex
	entries map[string]memoEntry
	swept   int // the number of entries after the last sweep
}

type memoEntry struct {
	ledger   ledger.Ledger
	receives int       // the message's receive count when it was made visible
	expires  time.Time // when to forget it: another worker may have taken it
}

func newMemo() *memo { return &memo{entries: map[string]memoEntry{}} }

func (m *memo) put(messageID string, e memoEntry, expires time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= 2*max(m.swept, 64) {
		// Expired entries go when the memo has doubled since the last
		// sweep: each put costs O(1) amortized.
		now := time.Now()
		for id, old := range m.entries {
			if now.After(old.expires) {
				delete(m.entries, id)
			}
		}
		m.swept = len(m.entries)
	}
	e.expires = expires
	m.entries[messageID] = e
}

// take returns and forgets what is remembered of a message.
func (m *memo) take(messageID string) (memoEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[messageID]
	if ok {
		delete(m.entries, messageID)
	}
	return e, ok && !time.Now().After(e.expires)
}
