package worker

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/internal/testsupport/sqsfake"
)

// slowVisibility delays the first n visibility calls by d: an extension
// still in flight when the hand-back that follows it is asked for.
type slowVisibility struct {
	*sqsfake.Client
	d    time.Duration
	slow chan struct{} // one token per slow call
}

func (q slowVisibility) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	select {
	case <-q.slow:
		time.Sleep(q.d)
	default:
	}
	return q.Client.ChangeMessageVisibilityBatch(ctx, in, opts...)
}

// receiveOne puts one message on a new queue and receives it with a 60 s
// visibility; it returns the queue, its URL and the receipt handle.
func receiveOne(t *testing.T) (*sqsfake.SQS, string, string) {
	t.Helper()
	s := sqsfake.New()
	url := s.CreateQueue("q", sqsfake.QueueOptions{VisibilityTimeout: time.Minute})
	if _, err := s.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	out, err := s.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v", err)
	}
	return s, url, aws.ToString(out.Messages[0].ReceiptHandle)
}

// An extension in flight when a hand-back is asked for: the hand-back goes
// out after it, so the message is visible at once when both are done, not
// hidden for the extension's minute.
func TestAcksHandBackWaitsForTheExtensionInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, url, h := receiveOne(t)
		q := slowVisibility{Client: s.Client("w"), d: time.Second, slow: make(chan struct{}, 1)}
		q.slow <- struct{}{}
		a := newAcks(q, url, slog.New(slog.DiscardHandler))
		a.setVisibility(h, time.Minute) // sent at 50 ms, lands at 1.05 s
		time.Sleep(500 * time.Millisecond)
		a.setVisibility(h, 0) // the hand-back
		a.close()
		m := s.Messages(url)[0]
		if got := m.VisibleAt.Sub(start); got != 1050*time.Millisecond || m.InFlight {
			t.Errorf("visible at %v (in flight %v), want at 1.05s, when the extension and then the hand-back landed", got, m.InFlight)
		}
		if n := s.CallCount(sqsfake.OpChangeMessageVisibilityBatch, url); n != 2 {
			t.Errorf("%d visibility calls, want 2", n)
		}
	})
}

// An extension not sent yet when the delete comes is never sent.
func TestAcksLaterOperationReplacesAPendingOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, url, h := receiveOne(t)
		a := newAcks(s.Client("w"), url, slog.New(slog.DiscardHandler))
		a.setVisibility(h, time.Minute)
		a.delete(h)
		a.close()
		if n := s.CallCount(sqsfake.OpChangeMessageVisibilityBatch, url); n != 0 {
			t.Errorf("%d visibility calls, want none", n)
		}
		if n := len(s.Messages(url)); n != 0 {
			t.Errorf("%d messages left, want it deleted", n)
		}
	})
}

// A batch call that fails is tried again, unless a later operation on the
// handle came meanwhile: then that one goes out instead.
func TestAcksRetriesStopWhenReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, url, h := receiveOne(t)
		calls := 0
		s.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
			if c.Op == sqsfake.OpChangeMessageVisibilityBatch {
				calls++
				if calls == 1 {
					return sqsfake.Refuse
				}
			}
			return sqsfake.Works
		})
		a := newAcks(s.Client("w"), url, slog.New(slog.DiscardHandler))
		a.setVisibility(h, time.Minute) // refused at 50 ms; its retry would come at 150 ms
		time.Sleep(100 * time.Millisecond)
		a.setVisibility(h, 10*time.Second)
		a.close()
		m := s.Messages(url)[0]
		if got := m.VisibleAt.Sub(start); got != 10150*time.Millisecond {
			t.Errorf("visible at %v, want 10.15s (the later operation, sent when the failed call ended)", got)
		}
		if calls != 2 {
			t.Errorf("%d visibility calls, want 2: the refused one and the later operation", calls)
		}
	})
}

// What follows a delete runs once SQS confirmed it, and never for a delete
// SQS refused (the message would come back).
func TestDeleteThenRunsOnlyAfterSQSConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, url, h := receiveOne(t)
		a := newAcks(s.Client("w"), url, slog.New(slog.DiscardHandler))
		ran := make(chan string, 2)
		a.deleteThen(h, func() { ran <- "confirmed" })
		a.deleteThen("no-such-handle", func() { ran <- "refused" })
		a.close()
		close(ran)
		var got []string
		for r := range ran {
			got = append(got, r)
		}
		if len(got) != 1 || got[0] != "confirmed" {
			t.Errorf("ran %v, want only the confirmed delete's", got)
		}
		if n := len(s.Messages(url)); n != 0 {
			t.Errorf("%d messages left", n)
		}
	})
}
