package metrics

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tenantRig is a tenantSet of 2 names on a clock the test moves.
type tenantRig struct {
	s   *tenantSet
	vec *prometheus.CounterVec
	now time.Time
}

func newTenantRig(max int) *tenantRig {
	r := &tenantRig{vec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t"}, []string{"tenant", "outcome"}),
		now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	r.s = newTenantSet(r.vec, max, func() time.Time { return r.now })
	return r
}

func (r *tenantRig) send(tenant string, n int) {
	for range n {
		r.s.observe(tenant, "sent")
	}
}

// series is the value of each tenant's "sent" series there is.
func (r *tenantRig) series() map[string]float64 {
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.vec)
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tenant" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

func (r *tenantRig) value(tenant string) float64 { return r.series()[tenant] }

// The names follow the busiest tenants: the first ones seen are named at
// once; at the next ranking the busiest take their places and the series
// of those that dropped out are removed; a tenant that goes quiet fades out.
func TestTenantSetFollowsTheBusiest(t *testing.T) {
	r := newTenantRig(2)
	r.send("a", 1)
	r.send("b", 1)
	r.send("c", 50) // busy, but both names are taken until the ranking
	r.send("d", 20)
	if got := r.s.names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("names %v, want the first two seen", got)
	}
	if v := r.value("(other)"); v != 70 {
		t.Errorf("other = %v, want 70", v)
	}
	r.now = r.now.Add(TenantRank)
	r.send("c", 1) // ranks: c 51, d 20, a 1, b 1
	if got := r.s.names(); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("after a ranking: names %v, want c and d", got)
	}
	if v := r.value("c"); v != 1 {
		t.Errorf("c = %v, want 1 (its own series starts at the ranking)", v)
	}
	if n := len(r.series()); n != 2 { // other and c; a and b removed
		t.Errorf("%d series, want 2 (other, c)", n)
	}
	// d goes quiet, b gets busy: halved at each ranking, d falls behind.
	for range 3 {
		r.now = r.now.Add(TenantRank)
		r.send("b", 30)
		r.send("c", 30)
	}
	if got := r.s.names(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("names %v, want b and c", got)
	}
	if r.value("d") != 0 || len(r.series()) != 3 { // other, b, c
		t.Errorf("series %d, want other, b and c", len(r.series()))
	}
}

// Ties keep the tenants already named: a name does not flap between equals.
func TestTenantSetTiesKeepTheirNames(t *testing.T) {
	r := newTenantRig(1)
	r.send("z", 5)
	r.send("a", 5)
	r.now = r.now.Add(TenantRank)
	r.send("x", 0)
	r.s.observe("z", "sent")
	if got := r.s.names(); !slices.Equal(got, []string{"z"}) {
		t.Errorf("names %v, want z (named before a, equally busy)", got)
	}
}

// However many tenants come, the counts hold at most 10 per name, the
// names at most max, and a busy tenant among a flood of one-message
// tenants still wins its name at the next ranking.
func TestTenantSetIsBounded(t *testing.T) {
	r := newTenantRig(3)
	r.send("first-1", 1)
	r.send("first-2", 1)
	r.send("first-3", 1)
	for i := range 10_000 {
		r.s.observe(fmt.Sprint("flood-", i), "sent")
		if i%100 == 0 {
			r.send("busy", 10)
		}
	}
	if n := len(r.s.counts); n > tenantsPerName*3 {
		t.Errorf("%d tenants counted, want at most %d", n, tenantsPerName*3)
	}
	r.now = r.now.Add(TenantRank)
	r.send("busy", 1)
	names := r.s.names()
	if len(names) > 3 || !slices.Contains(names, "busy") {
		t.Errorf("names %v, want at most 3 with busy", names)
	}
	if n := len(r.series()); n > 3+1 {
		t.Errorf("%d series, want at most 4 (3 names and other)", n)
	}
}
