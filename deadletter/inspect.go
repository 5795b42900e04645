package deadletter

import (
	"context"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Group is dead letters that share a reason, error code, region, identity
// and tenant.
type Group struct {
	Reason    string    `json:"reason"`
	ErrorCode string    `json:"errorCode"`
	Region    string    `json:"region"`
	Identity  string    `json:"identity"`
	Tenant    string    `json:"tenant"`
	Count     int       `json:"count"`
	Oldest    time.Time `json:"oldest"`
	Newest    time.Time `json:"newest"`
	// Payloads is how many of Count carry their envelope in S3 (an SQS
	// Extended Client pointer): a purge deletes those objects too.
	Payloads int `json:"payloads"`
}

// Inspect reads every message in the dead-letter queue at url and groups
// them. It consumes nothing: what it receives is made visible again when it
// is done (or fails). On a FIFO queue that is not every message: SQS hands
// out no more of a message group while messages of it are held, so Inspect
// sees of each group only what the first receive that met it brought (up to
// ten).
func Inspect(ctx context.Context, q Queue, url string) ([]Group, error) {
	s := newScanner(q, url)
	groups := map[Group]*Group{}
	err := s.each(ctx, func(msgs []types.Message) bool {
		for _, m := range msgs {
			e := Describe(m)
			k := Group{Reason: e.Reason, ErrorCode: e.ErrorCode, Region: e.Region, Identity: e.Identity, Tenant: e.Tenant}
			g, ok := groups[k]
			if !ok {
				g = &Group{Reason: k.Reason, ErrorCode: k.ErrorCode, Region: k.Region, Identity: k.Identity, Tenant: k.Tenant, Oldest: e.FailedAt, Newest: e.FailedAt}
				groups[k] = g
			}
			g.Count++
			if e.PayloadBucket != "" {
				g.Payloads++
			}
			if e.FailedAt.Before(g.Oldest) {
				g.Oldest = e.FailedAt
			}
			if e.FailedAt.After(g.Newest) {
				g.Newest = e.FailedAt
			}
		}
		return true
	}, nil)
	out := make([]Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		if a.ErrorCode != b.ErrorCode {
			return a.ErrorCode < b.ErrorCode
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Identity != b.Identity {
			return a.Identity < b.Identity
		}
		return a.Tenant < b.Tenant
	})
	return out, err
}
