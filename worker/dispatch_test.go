package worker

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// jobs are jobs written "lane:tenant:group:id" (group empty on a standard
// lane; ":L" after the id: its envelope is in S3), all pushed in order.
func pushAll(d *dispatcher, lanes map[string]*lane, specs string) map[string]*job {
	out := map[string]*job{}
	for _, s := range strings.Fields(specs) {
		p := strings.Split(s, ":")
		j := &job{lane: lanes[p[0]], tenant: p[1], group: p[2], msg: types.Message{MessageId: aws.String(p[3])}, large: len(p) > 4 && p[4] == "L"}
		out[p[3]] = j
		d.push(j)
	}
	return out
}

func testLanes(specs ...string) ([]*lane, map[string]*lane) {
	var list []*lane
	byName := map[string]*lane{}
	for _, s := range specs { // name/weight[/fifo]
		p := strings.Split(s, "/")
		l := &lane{Lane: Lane{Name: p[0], Weight: int(p[1][0] - '0')}, fifo: len(p) > 2}
		list = append(list, l)
		byName[p[0]] = l
	}
	return list, byName
}

// take takes n jobs without finishing them, and returns their ids.
func take(t *testing.T, d *dispatcher, n int) string {
	t.Helper()
	var ids []string
	for range n {
		j := d.pick(true)
		if j == nil {
			j = d.pick(false)
		}
		if j == nil {
			ids = append(ids, "-")
			continue
		}
		ids = append(ids, aws.ToString(j.msg.MessageId))
	}
	return strings.Join(ids, " ")
}

func TestDispatchOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lanes []string
		limit int
		push  string
		want  string // ids in the order senders get them ("-": none offered)
	}{
		{"one tenant in order", []string{"q/1"}, 4, "q:a::1 q:a::2 q:a::3", "1 2 3 -"},
		{"tenants take turns", []string{"q/1"}, 32, "q:a::a1 q:a::a2 q:a::a3 q:a::a4 q:b::b1 q:b::b2 q:c::c1",
			"a1 b1 c1 a2 b2 a3 a4"},
		// With every waiting tenant at its limit, they go on in turn.
		{"all at their limit", []string{"q/1"}, 2, "q:a::a1 q:a::a2 q:a::a3 q:a::a4 q:b::b1 q:b::b2 q:b::b3",
			"a1 b1 a2 b2 a3 b3 a4"},
		{"lanes by weight", []string{"hi/3", "lo/1"}, 32, "lo:x::l1 lo:x::l2 lo:x::l3 hi:y::h1 hi:y::h2 hi:y::h3 hi:y::h4 hi:y::h5",
			"h1 l1 h2 h3 h4 l2 h5 l3"},
		{"an empty lane costs nothing", []string{"hi/8", "lo/1"}, 32, "lo:x::l1 lo:x::l2 lo:x::l3", "l1 l2 l3 -"},
		// Only a group's head is offered while it is out.
		{"a FIFO group one at a time", []string{"f/1/fifo"}, 32, "f:a:g1:1 f:a:g1:2 f:a:g2:3 f:b:g3:4", "1 4 3 -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, byName := testLanes(tc.lanes...)
			d := newDispatcher(list, tc.limit, 4)
			pushAll(d, byName, tc.push)
			if got := take(t, d, len(strings.Fields(tc.want))); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}

// A tenant that holds its limit while another's job waits waits itself,
// even on its turn; alone, it goes past its limit.
func TestDispatchTenantLimit(t *testing.T) {
	list, byName := testLanes("q/1")
	d := newDispatcher(list, 2, 4)
	pushAll(d, byName, "q:a::a1 q:a::a2 q:a::a3 q:a::a4")
	if got := take(t, d, 3); got != "a1 a2 a3" {
		t.Fatalf("alone: %q, want a past its limit", got)
	}
	pushAll(d, byName, "q:b::b1 q:b::b2 q:b::b3")
	if got := take(t, d, 4); got != "b1 b2 a4 b3" {
		t.Errorf("with b waiting: %q, want b up to its limit first", got)
	}
}

func TestDispatchFIFOGroupGoesOnAfterItsHead(t *testing.T) {
	list, byName := testLanes("f/1/fifo")
	d := newDispatcher(list, 32, 4)
	jobs := pushAll(d, byName, "f:a:g:1 f:a:g:2 f:a:g:3 f:a:h:4")
	if got := take(t, d, 3); got != "1 4 -" {
		t.Fatalf("offered %q, want the heads 1 and 4", got)
	}
	if rel := d.done(jobs["1"], false); len(rel) != 0 {
		t.Fatalf("a finished head released %d jobs", len(rel))
	}
	if got := take(t, d, 2); got != "2 -" {
		t.Fatalf("after the head: %q, want 2 alone", got)
	}
	// 2 is handed back: 3 comes back unstarted, and the group is free for
	// what SQS delivers next.
	rel := d.done(jobs["2"], true)
	if len(rel) != 1 || rel[0] != jobs["3"] {
		t.Fatalf("released %v, want job 3", rel)
	}
	pushAll(d, byName, "f:a:g:2b")
	if got := take(t, d, 2); got != "2b -" {
		t.Fatalf("after the release: %q, want the redelivery", got)
	}
	if d.total != 0 {
		t.Errorf("%d jobs still counted", d.total)
	}
}

func TestDispatchCloseOffersEverything(t *testing.T) {
	list, byName := testLanes("f/1/fifo")
	d := newDispatcher(list, 32, 4)
	pushAll(d, byName, "f:a:g:1 f:a:g:2")
	if j, ok := d.next(); !ok || aws.ToString(j.msg.MessageId) != "1" {
		t.Fatalf("first: %v %v", j, ok)
	}
	d.close()
	if j, ok := d.next(); !ok || aws.ToString(j.msg.MessageId) != "2" {
		t.Fatalf("after close: %v %v, want job 2 (to hand back unstarted)", j, ok)
	}
	if _, ok := d.next(); ok {
		t.Fatal("next after everything was taken")
	}
}

// Jobs with an S3 payload go out only while a large-message slot is free;
// small ones go on meanwhile, behind a large one of their own tenant too.
func TestDispatchLargeMessageSlots(t *testing.T) {
	list, byName := testLanes("q/1")
	d := newDispatcher(list, 32, 1)
	jobs := pushAll(d, byName, "q:a::L1:L q:a::L2:L q:a::a3 q:b::s1 q:b::s2")
	if got := take(t, d, 5); got != "L1 s1 a3 s2 -" {
		t.Fatalf("offered %q, want L2 held for the slot and the small ones going", got)
	}
	d.done(jobs["L1"], false)
	if got := take(t, d, 2); got != "L2 -" {
		t.Errorf("after L1: %q, want L2", got)
	}
}
