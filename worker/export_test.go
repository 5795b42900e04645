package worker

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// HandleOne runs the per-message path of a worker built with New, outside
// Run: track the message, decide, send, act. Run's machinery it needs
// (acks, the visibility tracker, the dispatcher's view of the message) is
// made on the first call; stop flushes and ends it. For benchmarks.
func HandleOne(w *Worker) (handle func(m types.Message), stop func()) {
	l := w.lanes[0]
	l.acks = newAcks(w.queue, l.QueueURL, w.log)
	l.flight = newInFlight(w.cfg.VisibilityTimeout, l.acks, w.claims, w.log, &w.lastBeat)
	ctx := context.Background()
	return func(m types.Message) {
		l.flight.track(aws.ToString(m.ReceiptHandle), time.Now())
		w.handle(ctx, ctx, w.newJob(l, m))
	}, l.acks.close
}
