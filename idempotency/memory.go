package idempotency

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"time"
)

// Memory is an in-process store: it suppresses the duplicates that come
// back to the same worker process (a fleet needs the shared DynamoDB store).
//
// Sent keys are kept for sentTTL, by time, not by count, so that a burst
// cannot push out a key whose redelivery is still due; sesq passes twice the
// SQS visibility timeout, the longest a redelivery of a sent message can
// lag. Claims are kept until they lapse and are never evicted before, so
// that a live claim is always seen. Memory therefore grows with the send
// rate: about 72 bytes per sent key, rate × sentTTL × 72 bytes, so
// 600 msgs/s × 120 s = 72 000 keys ≈ 5.2 MB (TestMemoryBytesPerKey measures
// it: 72 bytes in that steady state, 59 for 100 000 keys; 24 are the queue
// entry, the rest the map's, which varies with its load as it grows). The
// key's length does not count: only a digest is kept. Claims
// cost a map entry holding the key and owner each, but there are only as
// many as deliveries in flight plus claims lapsing.
//
// Safe for concurrent use.
type Memory struct {
	sentTTL int64 // nanoseconds
	now     func() time.Time
	// base is the clock at NewMemory. Times are kept as nanoseconds since
	// base (time.Time.Sub uses the monotonic clock), so a step of the wall
	// clock neither expires sent keys early nor keeps them late, and the
	// order queue stays in expiry order.
	base time.Time

	mu sync.Mutex
	// claims holds the in-progress claims by key, live or lapsed but not
	// yet swept.
	claims map[string]claim
	// sent maps the digest of each sent key to its expiry. A digest, not
	// the key, keeps an entry at 24 bytes whatever the key's length.
	sent map[digest]int64
	// order holds each Done's (digest, expiry) in the order they came,
	// which is expiry order (sentTTL is constant and the clock is read
	// under mu), so expired keys are found at its front without a scan.
	order queue
	// peak is the most keys sent has held since it was last rebuilt: Go
	// maps do not shrink, so after a burst sweep rebuilds it.
	peak int
	// lastSweep is when the claims were last swept of lapsed ones.
	lastSweep int64
}

// digest is the first 16 bytes of a key's SHA-256. Two keys share one with
// probability about n²/2¹²⁹: 10⁻²⁹ for the 72 000 keys of 600 msgs/s kept
// for 120 s, so a collision (which would drop a message as already sent)
// does not happen in practice; and since SHA-256 is keyed by nothing, no
// per-store seed is needed, while finding two keys that collide on purpose
// takes about 2⁶⁴ hashes.
type digest [16]byte

func digestOf(key string) digest {
	sum := sha256.Sum256([]byte(key))
	return digest(sum[:16])
}

type claim struct {
	owner   string
	expires int64 // nanoseconds since Memory.base
}

// NewMemory returns a store that keeps a sent key for sentTTL; now is the
// clock (nil: time.Now) and must not run backwards. It panics when sentTTL
// is not positive: such a store would remember nothing.
func NewMemory(sentTTL time.Duration, now func() time.Time) *Memory {
	if sentTTL <= 0 {
		panic(fmt.Sprintf("idempotency.NewMemory: sentTTL is %v; it must be positive", sentTTL))
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{
		sentTTL: int64(sentTTL),
		now:     now,
		base:    now(),
		claims:  map[string]claim{},
		sent:    map[digest]int64{},
	}
}

// Claim claims key for owner for ttl: New when the key is unknown, its
// claim lapsed, its sent record expired, or owner already holds it live
// (whose claim then lasts ttl from now); InProgress when another owner's
// claim is live; Sent when a Done for it has not expired.
func (m *Memory) Claim(_ context.Context, key, owner string, ttl time.Duration) (Claim, error) {
	if err := checkCall(key, owner); err != nil {
		return Claim{}, fmt.Errorf("claim idempotency key %q for %q: %w", key, owner, err)
	}
	if err := checkTTL(ttl); err != nil {
		return Claim{}, fmt.Errorf("claim idempotency key %q for %q: %w", key, owner, err)
	}
	d := digestOf(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	if exp, ok := m.sent[d]; ok && exp > now {
		return Claim{State: Sent}, nil
	}
	if c, ok := m.claims[key]; ok && c.owner != owner && c.expires > now {
		return Claim{State: InProgress, Expires: m.base.Add(time.Duration(c.expires))}, nil
	}
	m.claims[key] = claim{owner: owner, expires: addSat(now, int64(ttl))}
	return Claim{State: New}, nil
}

// Renew moves owner's live claim on key to lapse ttl from now. ErrNotOwner
// when owner holds no live claim on it.
func (m *Memory) Renew(_ context.Context, key, owner string, ttl time.Duration) error {
	if err := checkCall(key, owner); err != nil {
		return fmt.Errorf("renew idempotency claim on %q for %q: %w", key, owner, err)
	}
	if err := checkTTL(ttl); err != nil {
		return fmt.Errorf("renew idempotency claim on %q for %q: %w", key, owner, err)
	}
	m.mu.Lock()
	now := m.sweep()
	c, ok := m.claims[key]
	held := ok && c.owner == owner && c.expires > now
	if held {
		c.expires = addSat(now, int64(ttl))
		m.claims[key] = c
	}
	m.mu.Unlock()
	if !held {
		return fmt.Errorf("renew idempotency claim on %q for %q: %w", key, owner, ErrNotOwner)
	}
	return nil
}

// Done records that SES accepted key, for sentTTL from now, and drops the
// claim on it. ErrNotOwner, and nothing changes, when another owner's
// claim is live. On a key already sent it keeps the later expiry, which is
// the new one as long as the clock does not run backwards.
func (m *Memory) Done(_ context.Context, key, owner string) error {
	if err := checkCall(key, owner); err != nil {
		return fmt.Errorf("record idempotency key %q as sent by %q: %w", key, owner, err)
	}
	d := digestOf(key)
	m.mu.Lock()
	now := m.sweep()
	c, ok := m.claims[key]
	taken := ok && c.owner != owner && c.expires > now
	if !taken {
		delete(m.claims, key)
		exp := addSat(now, m.sentTTL)
		if old, ok := m.sent[d]; !ok || old < exp {
			m.sent[d] = exp
			m.order.push(sentKey{d: d, expires: exp})
			m.peak = max(m.peak, len(m.sent))
		}
	}
	m.mu.Unlock()
	if taken {
		return fmt.Errorf("record idempotency key %q as sent by %q: %w", key, owner, ErrNotOwner)
	}
	return nil
}

// Release drops owner's live claim on key, so that the key can be claimed
// at once. ErrNotOwner, and nothing changes, when owner holds no live claim
// on it: a sent record, another owner's claim and a lapsed claim (which
// anyone may claim already) are left as they are.
func (m *Memory) Release(_ context.Context, key, owner string) error {
	if err := checkCall(key, owner); err != nil {
		return fmt.Errorf("release idempotency claim on %q for %q: %w", key, owner, err)
	}
	m.mu.Lock()
	now := m.sweep()
	c, ok := m.claims[key]
	held := ok && c.owner == owner && c.expires > now
	if held {
		delete(m.claims, key)
	}
	m.mu.Unlock()
	if !held {
		return fmt.Errorf("release idempotency claim on %q for %q: %w", key, owner, ErrNotOwner)
	}
	return nil
}

// Len counts the live claims and the sent keys not yet expired, for tests
// and metrics.
func (m *Memory) Len() (claims, sent int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	for _, c := range m.claims {
		if c.expires > now {
			claims++
		}
	}
	return claims, len(m.sent)
}

// sweep reads the clock, drops the sent keys that expired and, at most once
// a second, the claims that lapsed, and returns the time read. It runs
// under m.mu. Each call pops what expired since the last one, so the work
// is spread over the calls; the claims map is small (deliveries in flight).
func (m *Memory) sweep() int64 {
	now := int64(m.now().Sub(m.base))
	for m.order.n > 0 {
		e := m.order.front()
		if e.expires > now {
			break
		}
		// A later Done of the same key left a later expiry in sent, and
		// an entry of its own further back.
		if exp, ok := m.sent[e.d]; ok && exp == e.expires {
			delete(m.sent, e.d)
		}
		m.order.pop()
	}
	if m.peak > minRebuild && len(m.sent) < m.peak/4 {
		sent := make(map[digest]int64, len(m.sent))
		for d, exp := range m.sent {
			sent[d] = exp
		}
		m.sent, m.peak = sent, len(sent)
	}
	if now-m.lastSweep >= int64(time.Second) {
		for k, c := range m.claims {
			if c.expires <= now {
				delete(m.claims, k)
			}
		}
		m.lastSweep = now
	}
	return now
}

// minRebuild is the peak below which the sent map is not worth rebuilding.
const minRebuild = 4096

// addSat adds without overflowing, so that a huge ttl is a long claim and
// not one that lapsed in the past.
func addSat(t, d int64) int64 {
	if d > 0 && t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

type sentKey struct {
	d       digest
	expires int64
}

// queue is a FIFO of sent keys in blocks of queueBlock, so it holds what is
// live plus at most two partial blocks, and a push never copies what is
// queued.
type queue struct {
	blocks []*[queueBlock]sentKey
	head   int // the front's index in blocks[0]
	tail   int // the number used in the last block
	n      int
}

// queueBlock entries of 24 bytes: 12 KiB, a size class of Go's allocator.
const queueBlock = 512

func (q *queue) push(e sentKey) {
	if len(q.blocks) == 0 || q.tail == queueBlock {
		q.blocks = append(q.blocks, new([queueBlock]sentKey))
		q.tail = 0
	}
	q.blocks[len(q.blocks)-1][q.tail] = e
	q.tail++
	q.n++
}

func (q *queue) front() sentKey { return q.blocks[0][q.head] }

func (q *queue) pop() {
	q.head++
	q.n--
	if q.head == queueBlock || q.n == 0 {
		if len(q.blocks) == 1 { // empty: start the block over
			q.head, q.tail = 0, 0
			return
		}
		q.blocks[0] = nil
		q.blocks = q.blocks[1:]
		q.head = 0
	}
}
