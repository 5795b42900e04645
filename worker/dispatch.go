package worker

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/envelope"
)

// job is a received message waiting for a sender, with what the
// dispatcher orders it by.
type job struct {
	lane   *lane
	msg    types.Message
	tenant string // the envelope's tenant; "" when fairness is off or the body is no envelope
	group  string // the FIFO message group; "" on a standard queue
	large  bool   // the envelope is in S3 (package payload): it takes a large-message slot
	// The body, parsed when the tenant was needed (parsed is false
	// otherwise): handle uses it instead of parsing again.
	parsed bool
	env    *envelope.Envelope
	perr   error
}

// dispatcher hands received messages to the senders, in three orders at
// once:
//
//   - among lanes by weight (stride scheduling: a lane with weight 8 gets
//     eight jobs to one of a lane with weight 1 while both have jobs; a lane
//     without jobs is skipped, so an empty lane costs the others nothing);
//   - among tenants within a lane, round robin; a tenant holds at most
//     limit senders while another tenant's job waits (when every waiting
//     tenant is at its limit, they go on round robin);
//   - in order within a FIFO message group: only a group's oldest job is
//     offered, and the next one only once it is finished. A job that ends
//     handed back (made visible again later) releases the rest of its
//     group, unstarted: SQS hands them out again after it.
//
// A job whose envelope is in S3 goes to a sender only while fewer than
// largeLimit such jobs are out: memory stays bounded, and no sender waits
// for a large-message slot while small messages are waiting.
type dispatcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	lanes  []*laneJobs
	limit  int                // senders one tenant may hold while others wait
	large  int                // jobs with an S3 payload out at most
	out    int                // jobs with an S3 payload out
	busy   map[string]int     // jobs with a sender, per tenant
	queued map[string]int     // jobs offered (not started), per tenant
	groups map[groupKey]*fifo // FIFO groups with a job offered or started
	total  int                // jobs not started, offered or behind a group's head
	pass   float64            // the pass of the last lane served
	closed bool
}

type laneJobs struct {
	lane    *lane
	weight  float64
	pass    float64
	tenants []*tenantJobs // with jobs offered, in arrival order
	next    int           // round robin: the tenant to look at first
	jobs    int           // offered
}

type tenantJobs struct {
	key  string
	jobs []*job
}

type groupKey struct {
	lane  *lane
	group string
}

// fifo is one FIFO group's jobs behind the one offered or started.
type fifo struct{ waiting []*job }

func newDispatcher(lanes []*lane, limit, large int) *dispatcher {
	d := &dispatcher{limit: max(limit, 1), large: max(large, 1), busy: map[string]int{}, queued: map[string]int{}, groups: map[groupKey]*fifo{}}
	d.cond = sync.NewCond(&d.mu)
	for _, l := range lanes {
		d.lanes = append(d.lanes, &laneJobs{lane: l, weight: float64(max(l.Weight, 1))})
	}
	return d
}

// push adds a received job.
func (d *dispatcher) push(j *job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total++
	if j.lane.fifo {
		k := groupKey{j.lane, j.group}
		if g, ok := d.groups[k]; ok {
			g.waiting = append(g.waiting, j)
			return
		}
		d.groups[k] = &fifo{}
	}
	d.offer(j)
	d.cond.Signal()
}

// offer makes j available to the senders.
func (d *dispatcher) offer(j *job) {
	lj := d.laneOf(j.lane)
	if lj.jobs == 0 {
		lj.pass = max(lj.pass, d.pass) // idleness earns no credit
	}
	lj.jobs++
	d.queued[j.tenant]++
	for _, t := range lj.tenants {
		if t.key == j.tenant {
			t.jobs = append(t.jobs, j)
			return
		}
	}
	lj.tenants = append(lj.tenants, &tenantJobs{key: j.tenant, jobs: []*job{j}})
}

func (d *dispatcher) laneOf(l *lane) *laneJobs {
	for _, lj := range d.lanes {
		if lj.lane == l {
			return lj
		}
	}
	panic("worker: job of an unknown lane")
}

// next waits for a job a sender may take; false once the dispatcher is
// closed and empty.
func (d *dispatcher) next() (*job, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		if j := d.pick(true); j != nil {
			return j, true
		}
		if j := d.pick(false); j != nil {
			return j, true
		}
		if d.closed && d.total == 0 {
			return nil, false
		}
		d.cond.Wait()
	}
}

// pick takes the next job by lane weight and tenant turn; with capped,
// only of a tenant below its limit or with no other tenant waiting.
func (d *dispatcher) pick(capped bool) *job {
	var best *laneJobs
	var at, nth int
	for _, lj := range d.lanes {
		if lj.jobs == 0 || (best != nil && lj.pass >= best.pass-passEpsilon) {
			continue
		}
		if i, k := d.turn(lj, capped); i >= 0 {
			best, at, nth = lj, i, k
		}
	}
	if best == nil {
		return nil
	}
	d.pass = best.pass
	best.pass += 1 / best.weight
	t := best.tenants[at]
	j := t.jobs[nth]
	copy(t.jobs[nth:], t.jobs[nth+1:])
	t.jobs[len(t.jobs)-1] = nil // no finished job stays reachable
	t.jobs = t.jobs[:len(t.jobs)-1]
	best.jobs--
	if len(t.jobs) == 0 {
		best.tenants = append(best.tenants[:at], best.tenants[at+1:]...)
		best.next = at
	} else {
		best.next = at + 1
	}
	if best.next >= len(best.tenants) {
		best.next = 0
	}
	d.total--
	if d.queued[j.tenant]--; d.queued[j.tenant] == 0 {
		delete(d.queued, j.tenant)
	}
	d.busy[j.tenant]++
	if j.large {
		d.out++
	}
	return j
}

// passEpsilon: passes this close are equal (sums of 1/weight are not exact).
const passEpsilon = 1e-9

// turn is the index of the tenant whose turn it is in lj and of the job of
// it to take (its oldest one that may go), or -1. A job with an S3 payload
// may go only while a large-message slot is free; the tenant's other jobs
// go meanwhile (every offered job is independent of the others: of a FIFO
// group only the head is offered).
func (d *dispatcher) turn(lj *laneJobs, capped bool) (int, int) {
	n := len(lj.tenants)
	slot := d.out < d.large || d.closed
	for k := range n {
		i := (lj.next + k) % n
		t := lj.tenants[i]
		if capped && !d.mayTake(t.key) {
			continue
		}
		for nth, j := range t.jobs {
			if slot || !j.large {
				return i, nth
			}
		}
	}
	return -1, 0
}

// mayTake tells whether tenant may take one more sender: it holds fewer
// than the limit, or no other tenant has a job waiting.
func (d *dispatcher) mayTake(tenant string) bool {
	if d.busy[tenant] < d.limit {
		return true
	}
	others := len(d.queued)
	if d.queued[tenant] > 0 {
		others--
	}
	return others == 0
}

// done records that a sender finished j. A FIFO group goes on with its
// next job, or, when j was handed back (released), gives back the jobs
// behind it, which the caller makes visible again unstarted.
func (d *dispatcher) done(j *job, released bool) []*job {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[j.tenant]--; d.busy[j.tenant] <= 0 {
		delete(d.busy, j.tenant)
	}
	if j.large {
		d.out--
	}
	var out []*job
	if j.lane.fifo {
		k := groupKey{j.lane, j.group}
		if g := d.groups[k]; g != nil {
			switch {
			case released || d.closed:
				out = g.waiting
				d.total -= len(out)
				delete(d.groups, k)
			case len(g.waiting) > 0:
				d.offer(g.waiting[0])
				g.waiting[0] = nil
				g.waiting = g.waiting[1:]
			default:
				delete(d.groups, k)
			}
		}
	}
	d.cond.Broadcast()
	return out
}

// close ends next once every job is taken. Jobs behind a FIFO group's head
// are offered at once: once closed, the senders hand every job back
// unstarted, in no particular order, and SQS keeps the group's order.
func (d *dispatcher) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for _, g := range d.groups {
		for _, j := range g.waiting {
			d.offer(j)
		}
		g.waiting = nil
	}
	d.cond.Broadcast()
}
