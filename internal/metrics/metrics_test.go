package metrics_test

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/internal/metrics"
	"github.com/sesq/sesq/worker"
)

// scrape is the exposition of m's handler, sesq's own samples only.
func scrape(t *testing.T, m *metrics.Metrics) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]string{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "sesq_") {
			i := strings.LastIndexByte(line, ' ')
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

func TestNewMetrics(t *testing.T) {
	m := metrics.New("v1.2.3")
	m.SESCall("us-east-1", "SendEmail", "", 10*time.Millisecond, false)
	m.SESCall("us-east-1", "SendEmail", "", 10*time.Millisecond, false)
	m.SESCall("us-east-1", "SendEmail", "Throttling", time.Millisecond, true)
	m.SESCall("eu-west-1", "SendRawEmail", "other", time.Millisecond, false)
	m.StoreError("claim")
	m.StoreError("claim")
	states := map[string]worker.BreakerState{"us-east-1": worker.BreakerClosed, "eu-west-1": worker.BreakerOpen, "ap-south-1": worker.BreakerProbing}
	m.ObserveBreakers(func() map[string]worker.BreakerState { return states })

	got := scrape(t, m)
	want := map[string]string{
		`sesq_build_info{goversion="` + runtime.Version() + `",version="v1.2.3"}`:       "1",
		`sesq_ses_calls_total{action="SendEmail",code="",region="us-east-1"}`:           "2",
		`sesq_ses_calls_total{action="SendEmail",code="Throttling",region="us-east-1"}`: "1",
		`sesq_ses_calls_total{action="SendRawEmail",code="other",region="eu-west-1"}`:   "1",
		`sesq_ses_throttles_total{region="us-east-1"}`:                                  "1",
		`sesq_idempotency_errors_total{operation="claim"}`:                              "2",
		`sesq_idempotency_errors_total{operation="renew"}`:                              "0", // shown before the first failure
		`sesq_idempotency_errors_total{operation="done"}`:                               "0",
		`sesq_idempotency_errors_total{operation="release"}`:                            "0",
		`sesq_breaker_state{region="us-east-1"}`:                                        "0",
		`sesq_breaker_state{region="eu-west-1"}`:                                        "1",
		`sesq_breaker_state{region="ap-south-1"}`:                                       "2",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Read at each scrape: a region that closes shows so at once.
	states["eu-west-1"] = worker.BreakerClosed
	if v := scrape(t, m)[`sesq_breaker_state{region="eu-west-1"}`]; v != "0" {
		t.Errorf("after closing: %q", v)
	}
}

// A nil *Metrics records nothing and does not panic.
func TestNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	m.SESCall("r", "a", "c", time.Second, true)
	m.StoreError("claim")
	m.ObserveBreakers(nil)
	m.Message("sent", "r", "a", "t")
	m.SetTenants(3)
}

// The region label is bounded: an envelope may name any well-formed region,
// and past MaxRegions the rest count as "other" (and leave the gauges).
func TestRegionLabelIsBounded(t *testing.T) {
	m := metrics.New("v")
	states := map[string]worker.BreakerState{}
	for i := range metrics.MaxRegions + 10 {
		region := fmt.Sprintf("xx-made-up-%d", i)
		m.SESCall(region, "SendEmail", "", time.Millisecond, false)
		m.Message("rejected", region, "SendEmail", "acme")
		states[region] = worker.BreakerClosed
	}
	m.ObserveBreakers(func() map[string]worker.BreakerState { return states })
	got := scrape(t, m)
	calls, breakers := 0, 0
	for k := range got {
		switch {
		case strings.HasPrefix(k, "sesq_ses_calls_total{"):
			calls++
		case strings.HasPrefix(k, "sesq_breaker_state{"):
			breakers++
		}
	}
	if calls != metrics.MaxRegions+1 || breakers != metrics.MaxRegions || got[`sesq_ses_calls_total{action="SendEmail",code="",region="other"}`] != "10" ||
		got[`sesq_messages_total{action="SendEmail",outcome="rejected",region="other"}`] != "10" {
		t.Errorf("%d call series, %d breaker series; want %d (other counting 10) and %d", calls, breakers, metrics.MaxRegions+1, metrics.MaxRegions)
	}
}

// sesq_tenant_messages_total names at most SetTenants tenants; the rest
// count as "(other)", bodies without an envelope as "(unknown)"; 0 turns it off.
// (tenants_test.go ranks them by how busy they are.)
func TestTenantLabelIsBounded(t *testing.T) {
	m := metrics.New("v")
	m.SetTenants(4)
	m.Message("sent", "us-east-1", "SendEmail", "other") // a tenant so named has its own series
	for i := range 10 {
		m.Message("sent", "us-east-1", "SendEmail", fmt.Sprint("tenant-", i))
	}
	m.Message("rejected", "us-east-1", "SendEmail", "tenant-0")
	m.Message("invalid", "", "", "")
	got := map[string]string{}
	for k, v := range scrape(t, m) {
		if strings.HasPrefix(k, "sesq_tenant_messages_total{") {
			got[k] = v
		}
	}
	want := map[string]string{
		`sesq_tenant_messages_total{outcome="sent",tenant="other"}`:        "1",
		`sesq_tenant_messages_total{outcome="sent",tenant="tenant-0"}`:     "1",
		`sesq_tenant_messages_total{outcome="rejected",tenant="tenant-0"}`: "1",
		`sesq_tenant_messages_total{outcome="sent",tenant="tenant-1"}`:     "1",
		`sesq_tenant_messages_total{outcome="sent",tenant="tenant-2"}`:     "1",
		`sesq_tenant_messages_total{outcome="sent",tenant="(other)"}`:      "7",
		`sesq_tenant_messages_total{outcome="invalid",tenant="(unknown)"}`: "1",
	}
	if !maps.Equal(got, want) {
		t.Errorf("series\n%v\nwant\n%v", got, want)
	}
	// The existing metric keeps its labels.
	if v := scrape(t, m)[`sesq_messages_total{action="SendEmail",outcome="sent",region="us-east-1"}`]; v != "11" {
		t.Errorf("sesq_messages_total sent = %q, want 11", v)
	}

	m.SetTenants(0)
	m.Message("sent", "us-east-1", "SendEmail", "tenant-0")
	for k := range scrape(t, m) {
		if strings.HasPrefix(k, "sesq_tenant_messages_total{") {
			t.Errorf("SetTenants(0): series %s", k)
		}
	}
}
