package metrics

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTenants is how many tenants sesq_tenant_messages_total names by
// default; SetTenants changes it.
const DefaultTenants = 20

// TenantRank is how often the tenants named in sesq_tenant_messages_total
// are ranked again by how busy they were.
const TenantRank = time.Minute

// tenantsPerName is how many tenants are counted for each one named: the
// candidates a ranking chooses from.
const tenantsPerName = 10

// Tenant label values that are no tenant's own.
const (
	// In parentheses, which no tenant name has ([A-Za-z0-9_-]): a tenant
	// named "other" must not share, or delete, everyone else's series.
	tenantOther   = "(other)"   // a tenant not among the busiest
	tenantUnknown = "(unknown)" // a body that is no valid envelope
)

// tenantSet bounds the tenant label to the max busiest tenants; every other
// tenant is counted as "other". Between rankings a tenant keeps the label it
// has; a tenant first seen gets its own while fewer than max are named. At
// each ranking (every TenantRank) the max tenants with the most messages
// are named and the series of those that dropped out are removed, so the
// set follows who is busy now: counts are halved at each ranking (a
// tenant's weight fades with a half-life of one ranking period). The counts
// are kept for at most tenantsPerName·max tenants, by the space-saving
// algorithm (Metwally et al.): a new tenant takes the place and the count
// of the least counted one, plus one, so that a busy tenant is never
// undercounted however many quiet ones come and go.
type tenantSet struct {
	mu     sync.Mutex
	max    int                // 0: off
	counts map[string]float64 // messages per tenant, halved at each ranking
	named  map[string]bool    // tenants with series of their own
	next   time.Time          // when to rank again
	now    func() time.Time
	vec    *prometheus.CounterVec // labels tenant, outcome
}

func newTenantSet(vec *prometheus.CounterVec, max int, now func() time.Time) *tenantSet {
	s := &tenantSet{vec: vec, now: now}
	s.reset(max)
	return s
}

// reset starts over with max names, removing every series.
func (s *tenantSet) reset(max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.max = max
	s.counts = map[string]float64{}
	s.named = map[string]bool{}
	s.next = time.Time{}
	s.vec.Reset()
}

// observe counts one message of tenant ("" when unknown) with outcome.
func (s *tenantSet) observe(tenant, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max <= 0 {
		return
	}
	if tenant == "" {
		s.vec.WithLabelValues(tenantUnknown, outcome).Inc()
		return
	}
	if now := s.now(); !now.Before(s.next) {
		// Counts fade by the time since the last ranking, not by the
		// number of rankings: a ranking runs only when a message comes.
		periods := 1.0
		if !s.next.IsZero() {
			periods += float64(now.Sub(s.next)) / float64(TenantRank)
		}
		s.rank(math.Pow(0.5, periods))
		s.next = now.Add(TenantRank)
	}
	s.count(tenant)
	if !s.named[tenant] && len(s.named) < s.max {
		s.named[tenant] = true
	}
	label := tenantOther
	if s.named[tenant] {
		label = tenant
	}
	s.vec.WithLabelValues(label, outcome).Inc()
}

// count adds one message to tenant's count (space-saving when full).
func (s *tenantSet) count(tenant string) {
	if _, ok := s.counts[tenant]; ok || len(s.counts) < tenantsPerName*s.max {
		s.counts[tenant]++
		return
	}
	least, fewest := "", math.Inf(1)
	for t, c := range s.counts {
		if c < fewest || c == fewest && t < least {
			least, fewest = t, c
		}
	}
	delete(s.counts, least)
	s.counts[tenant] = fewest + 1
}

// rank names the max tenants with the most messages (a named one first on
// a tie, then by name), removes the series of the tenants that dropped out,
// and multiplies the counts by fade.
func (s *tenantSet) rank(fade float64) {
	ranked := make([]string, 0, len(s.counts))
	for t := range s.counts {
		ranked = append(ranked, t)
	}
	sort.Slice(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if s.counts[a] != s.counts[b] {
			return s.counts[a] > s.counts[b]
		}
		if s.named[a] != s.named[b] {
			return s.named[a]
		}
		return a < b
	})
	named := make(map[string]bool, s.max)
	for _, t := range ranked[:min(len(ranked), s.max)] {
		named[t] = true
	}
	for t := range s.named {
		if !named[t] {
			s.vec.DeletePartialMatch(prometheus.Labels{"tenant": t})
		}
	}
	s.named = named
	for t, c := range s.counts {
		if c *= fade; c < 0.5 {
			delete(s.counts, t)
		} else {
			s.counts[t] = c
		}
	}
}

// names lists the tenants with series of their own, sorted.
func (s *tenantSet) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.named))
	for t := range s.named {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
