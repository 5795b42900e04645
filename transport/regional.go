package transport

import "sync"

// Regional keeps one client per region: made by New on first use, then
// reused. A delegate sender must call SES in the identity's region, so each
// transport holds a client per region it has sent to.
type Regional[C any] struct {
	New func(region string) C

	mu sync.Mutex
	m  map[string]C
}

// For returns region's client.
func (r *Regional[C]) For(region string) C {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.m[region]; ok {
		return c
	}
	if r.m == nil {
		r.m = map[string]C{}
	}
	c := r.New(region)
	r.m[region] = c
	return c
}
