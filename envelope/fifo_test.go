package envelope_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/envelope"
)

const (
	standardURL = "https://sqs.us-east-1.amazonaws.com/123456789012/mail"
	fifoURL     = "https://sqs.us-east-1.amazonaws.com/123456789012/mail.fifo"
)

func TestIsFIFO(t *testing.T) {
	for url, want := range map[string]bool{
		standardURL: false, fifoURL: true,
		"http://127.0.0.1:4566/000000000000/mail-dlq.fifo": true,
		"https://sqs.us-east-1.amazonaws.com/1/fifo":       false,
		"": false,
	} {
		if got := envelope.IsFIFO(url); got != want {
			t.Errorf("IsFIFO(%q) = %v, want %v", url, got, want)
		}
	}
}

// The exact entries a Producer sends: on a standard queue the tenant as
// MessageGroupId (unless NoGroupID) and no deduplication id, the group
// field ignored; on a FIFO queue GroupID and DeduplicationID, and
// NoGroupID refused for every envelope without a call.
func TestProducerEntriesOnStandardAndFIFOQueues(t *testing.T) {
	byTenant := env(map[string]any{"id": "order-4711"})
	byGroup := env(map[string]any{"id": "order-4712", "tenant": "acme", "group": "recipient@example.com"})
	noID := env(map[string]any{"tenantName": "ses-1"})
	invalid := []byte(`{"version":1}`)
	bodies := [][]byte{byTenant, byGroup, noID, invalid}
	dedup := func(body []byte) *string {
		e, err := envelope.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		return aws.String(e.DeduplicationID())
	}
	entry := func(i int, group, dedup *string) types.SendMessageBatchRequestEntry {
		return types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(bodies[i])), MessageGroupId: group, MessageDeduplicationId: dedup}
	}
	cases := []struct {
		name      string
		url       string
		noGroupID bool
		want      []types.SendMessageBatchRequestEntry
		wantErr   []error // per envelope; nil: enqueued (an *envelope.Error for the invalid one is checked apart)
	}{
		{"standard", standardURL, false, []types.SendMessageBatchRequestEntry{
			entry(0, aws.String("123456789012"), nil),
			entry(1, aws.String("acme"), nil),
			entry(2, aws.String("ses-1"), nil),
		}, nil},
		{"standard without group", standardURL, true, []types.SendMessageBatchRequestEntry{
			entry(0, nil, nil),
			entry(1, nil, nil),
			entry(2, nil, nil),
		}, nil},
		{"FIFO", fifoURL, false, []types.SendMessageBatchRequestEntry{
			entry(0, aws.String("123456789012"), aws.String("173d0ddbff034193face7ce60d3f58b416940a4c29306f9af512e4e8f2bf61e3")),
			entry(1, aws.String("recipient@example.com"), dedup(byGroup)),
			entry(2, aws.String("ses-1"), dedup(noID)),
		}, nil},
		{"FIFO without group", fifoURL, true, nil,
			[]error{envelope.ErrFIFONeedsGroup, envelope.ErrFIFONeedsGroup, envelope.ErrFIFONeedsGroup, envelope.ErrFIFONeedsGroup}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{}
			p := &envelope.Producer{Client: r, QueueURL: c.url, NoGroupID: c.noGroupID}
			results, err := p.EnqueueBodies(context.Background(), bodies)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.entries, c.want) {
				t.Errorf("entries\n%s\nwant\n%s", describe(r.entries), describe(c.want))
			}
			for i, res := range results {
				switch {
				case c.wantErr != nil:
					if !errors.Is(res.Err, c.wantErr[i]) || res.MessageID != "" {
						t.Errorf("envelope %d: %+v, want error %v", i, res, c.wantErr[i])
					}
				case i == 3:
					var ve *envelope.Error
					if !errors.As(res.Err, &ve) {
						t.Errorf("invalid envelope: %v, want an *envelope.Error", res.Err)
					}
				case res.Err != nil || res.MessageID != "m-"+strconv.Itoa(i):
					t.Errorf("envelope %d: %+v", i, res)
				}
			}
		})
	}
}

// describe prints entries as the test compares them.
func describe(entries []types.SendMessageBatchRequestEntry) string {
	s := ""
	for _, e := range entries {
		s += "  id=" + aws.ToString(e.Id) + " group=" + str(e.MessageGroupId) + " dedup=" + str(e.MessageDeduplicationId) + " body=" + aws.ToString(e.MessageBody)[:40] + "…\n"
	}
	return s
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.Quote(*p)
}

// scripted is an SQS whose answer to each entry of each call a script
// gives; it records which envelopes (by id) each call carried.
type scripted struct {
	labels []string                                   // envelope id by entry id
	answer func(call int, label string) (code string) // "" accepts; "Server" fails on SQS's side, others the sender's
	down   map[int]bool                               // calls that fail as a whole
	calls  [][]string
}

func (s *scripted) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	call := len(s.calls)
	var labels []string
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		i, _ := strconv.Atoi(aws.ToString(e.Id))
		label := s.labels[i]
		labels = append(labels, label)
		if code := s.answer(call, label); code != "" {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String(code), Message: aws.String("scripted"), SenderFault: code != "Server"})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + label)})
	}
	s.calls = append(s.calls, labels)
	if s.down[call] {
		return nil, errors.New("connection reset")
	}
	// SQS lists the failures in no particular order.
	for i, j := 0, len(out.Failed)-1; i < j; i, j = i+1, j-1 {
		out.Failed[i], out.Failed[j] = out.Failed[j], out.Failed[i]
	}
	return out, nil
}

// On a FIFO queue a Producer never lets an envelope overtake an earlier one
// of its group that it failed to enqueue: a failed entry is retried only
// while nothing later of its group is in the queue and nothing earlier of
// it failed for good, and the later batches of the call leave out its
// group. On a standard queue every failure on SQS's side is retried.
func TestProducerKeepsGroupOrderOnFIFO(t *testing.T) {
	// fails lets the named envelopes fail with code in the given calls.
	fails := func(code string, calls []int, labels ...string) func(int, string) string {
		return func(call int, label string) string {
			for _, c := range calls {
				for _, l := range labels {
					if call == c && label == l {
						return code
					}
				}
			}
			return ""
		}
	}
	held := "held" // the envelope's error is ErrGroupHeld
	refused := "refused"
	batchDown := "send message batch: connection reset"
	cases := []struct {
		name   string
		url    string
		labels []string // envelope ids; the group is the letter
		answer func(int, string) string
		down   map[int]bool
		calls  [][]string
		errs   map[string]string // by envelope id: held, refused, or a prefix of the error
	}{
		{"FIFO: a failure on SQS's side, nothing later of the group sent: retried",
			fifoURL, []string{"A1", "B1"}, fails("Server", []int{0}, "A1"), nil,
			[][]string{{"A1", "B1"}, {"A1"}}, nil},
		{"FIFO: failures of one group retried together in order",
			fifoURL, []string{"A1", "A2", "B1"}, fails("Server", []int{0}, "A1", "A2"), nil,
			[][]string{{"A1", "A2", "B1"}, {"A1", "A2"}}, nil},
		{"FIFO: overtaken by a later one of its group: not retried",
			fifoURL, []string{"A1", "A2", "B1"}, fails("Server", []int{0}, "A1"), nil,
			[][]string{{"A1", "A2", "B1"}}, map[string]string{"A1": refused}},
		{"FIFO: a failure on SQS's side after one for good in its group: not retried",
			fifoURL, []string{"A1", "A2", "B1"}, func(call int, label string) string {
				return map[string]string{"A1": "InvalidParameterValue", "A2": "Server"}[label]
			}, nil,
			[][]string{{"A1", "A2", "B1"}}, map[string]string{"A1": refused, "A2": refused}},
		{"FIFO: later batches leave out a group that failed",
			fifoURL, []string{"A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4", "A5", "B5", "A6", "B6", "C1"}, fails("InvalidParameterValue", []int{0}, "A1"), nil,
			[][]string{{"A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4", "A5", "B5"}, {"B6", "C1"}},
			map[string]string{"A1": refused, "A6": held}},
		{"FIFO: a batch that failed as a whole holds its groups back",
			fifoURL, []string{"A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4", "A5", "A6", "A7", "C1"}, fails("", nil), map[int]bool{0: true},
			[][]string{{"A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4", "A5", "A6"}, {"C1"}},
			map[string]string{"A1": batchDown, "B1": batchDown, "A2": batchDown, "B2": batchDown, "A3": batchDown, "B3": batchDown,
				"A4": batchDown, "B4": batchDown, "A5": batchDown, "A6": batchDown, "A7": held}},
		{"standard: a failure on SQS's side retried whatever its group",
			standardURL, []string{"A1", "A2", "B1"}, fails("Server", []int{0}, "A1"), nil,
			[][]string{{"A1", "A2", "B1"}, {"A1"}}, nil},
		{"standard: later batches send every group",
			standardURL, []string{"A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4", "A5", "B5", "A6"}, fails("InvalidParameterValue", []int{0}, "A1"), nil,
			[][]string{{"A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4", "A5", "B5"}, {"A6"}},
			map[string]string{"A1": refused}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bodies := make([][]byte, len(c.labels))
			for i, l := range c.labels {
				bodies[i] = env(map[string]any{"id": l, "group": l[:1], "tenant": l[:1]})
			}
			s := &scripted{labels: c.labels, answer: c.answer, down: c.down}
			results, err := (&envelope.Producer{Client: s, QueueURL: c.url}).EnqueueBodies(context.Background(), bodies)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.calls, c.calls) {
				t.Errorf("calls %q, want %q", s.calls, c.calls)
			}
			for i, r := range results {
				want, l := c.errs[c.labels[i]], c.labels[i]
				switch {
				case want == "" && (r.Err != nil || r.MessageID != "m-"+l):
					t.Errorf("%s: %+v, want enqueued", l, r)
				case want == held && !errors.Is(r.Err, envelope.ErrGroupHeld):
					t.Errorf("%s: %v, want ErrGroupHeld", l, r.Err)
				case want == refused && (r.Err == nil || r.Err.Error() != "sqs refused the message: "+c.answer(0, l)+": scripted"):
					t.Errorf("%s: %v, want refused by SQS", l, r.Err)
				case want != "" && want != held && want != refused && (r.Err == nil || len(r.Err.Error()) < len(want) || r.Err.Error()[:len(want)] != want):
					t.Errorf("%s: %v, want an error starting %q", l, r.Err, want)
				}
			}
		})
	}
}
