package worker

import (
	"github.com/sesq/sesq/envelope"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/ledger"
)

// Lane is one source queue of a worker that reads several (priority
// lanes), with its own dead-letter queue and its weight: while several
// lanes have messages waiting, each gets senders and send rate in
// proportion to its weight; a lane without messages costs the others
// nothing.
type Lane struct {
	Name     string // in logs; [a-z0-9-], 1-32 characters
	QueueURL string
	DLQURL   string // the lane's own dead-letter queue; FIFO when QueueURL is
	Weight   int    // at least 1
}

// FIFO tells whether the lane's queue is a FIFO queue (its URL ends in
// .fifo).
func (l Lane) FIFO() bool { return envelope.IsFIFO(l.QueueURL) }

// lane is a Lane and the machinery that is its own: dead-letter writer,
// ledger signer, acknowledgements, visibility tracker and receive credits.
type lane struct {
	Lane
	fifo    bool
	dlq     *deadletter.Writer
	ledger  *ledger.Signer
	acks    *acks
	flight  *inFlight
	credits chan struct{} // one per message received and not finished
	// acquiring lets one poller take credits at a time. A channel, not a
	// mutex: a poller waiting for it also stops at shutdown, and (under
	// testing/synctest) counts as durably blocked.
	acquiring chan struct{}
}

// acquire takes n credits, waiting for them; one poller at a time, so that
// pollers never hold part of what they need while others wait.
func (l *lane) acquire(done <-chan struct{}, n int) bool {
	select {
	case l.acquiring <- struct{}{}:
	case <-done:
		return false
	}
	defer func() { <-l.acquiring }()
	for i := 0; i < n; i++ {
		select {
		case l.credits <- struct{}{}:
		case <-done:
			l.release(i)
			return false
		}
	}
	return true
}

func (l *lane) release(n int) {
	for range n {
		<-l.credits
	}
}
