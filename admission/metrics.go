package admission

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the webhook's Prometheus metrics (client_golang). A nil
// *Metrics records nothing. Names are documented in docs/webhook.md.
type Metrics struct {
	gatherer      prometheus.Gatherer
	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	verifyTime    *prometheus.HistogramVec
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	cacheEntries  prometheus.GaugeFunc
	registryErrs  prometheus.Counter
	reloads       *prometheus.CounterVec
}

// latencyBuckets span a warm cache hit (well under a millisecond) to the
// longest deadline (10 s).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics creates the metrics in a new registry that also holds the Go
// runtime and process collectors, and serves them on /metrics.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_webhook_admission_requests_total",
			Help: "AdmissionReview requests answered, by endpoint (validate, mutate) and result (allowed, denied, warned).",
		}, []string{"endpoint", "result"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signet_webhook_admission_duration_seconds",
			Help:    "Time to answer an AdmissionReview request, by endpoint.",
			Buckets: latencyBuckets,
		}, []string{"endpoint"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_webhook_verifications_total",
			Help: "Image verdicts, by policy set and outcome (trusted, skipped, not_trusted, error), cache hits included.",
		}, []string{"policy_set", "outcome"}),
		verifyTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signet_webhook_verification_duration_seconds",
			Help:    "Time to reach an image verdict, by whether it came from the cache.",
			Buckets: latencyBuckets,
		}, []string{"cached"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_webhook_cache_hits_total",
			Help: "Image verdicts answered from the verdict cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_webhook_cache_misses_total",
			Help: "Image verdicts that needed a verification (shared ones counted once per request).",
		}),
		registryErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_webhook_registry_errors_total",
			Help: "Verifications that failed because a registry could not be read (resolve, list or fetch).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_webhook_policy_set_loads_total",
			Help: "Policy set (re)loads, by policy set and result (ok, error).",
		}, []string{"policy_set", "result"}),
	}
	reg.MustRegister(m.requests, m.requestTime, m.verifications, m.verifyTime, m.cacheHits, m.cacheMisses, m.registryErrs, m.reloads)
	return m
}

// Gatherer returns the registry the metrics are in.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.gatherer }

// registerCacheSize adds a gauge of the verdict cache's entries.
func (m *Metrics) registerCacheSize(size func() int) {
	if m == nil {
		return
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "signet_webhook_cache_entries",
		Help: "Verdicts in the verdict cache.",
	}, func() float64 { return float64(size()) })
	if reg, ok := m.gatherer.(prometheus.Registerer); ok && m.cacheEntries == nil {
		if reg.Register(g) == nil {
			m.cacheEntries = g
		}
	}
}

func (m *Metrics) request(endpoint, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(endpoint, result).Inc()
	m.requestTime.WithLabelValues(endpoint).Observe(d.Seconds())
}

func (m *Metrics) verdict(r *Result, d time.Duration) {
	if m == nil {
		return
	}
	outcome := "trusted"
	switch {
	case r.Skipped:
		outcome = "skipped"
	case r.Allowed:
	case isVerdictCheck(r.Check):
		outcome = "not_trusted"
	default:
		outcome = "error"
	}
	m.verifications.WithLabelValues(r.PolicySet, outcome).Inc()
	cached := "false"
	if r.Cached {
		cached = "true"
		m.cacheHits.Inc()
	} else {
		m.cacheMisses.Inc()
	}
	m.verifyTime.WithLabelValues(cached).Observe(d.Seconds())
	if r.Check == CheckRegistry {
		m.registryErrs.Inc()
	}
}

func (m *Metrics) load(set string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reloads.WithLabelValues(set, result).Inc()
}

// isVerdictCheck reports whether check is a verification verdict (the
// signature was read and judged, or there was none) rather than an error
// that kept verification from reaching one.
func isVerdictCheck(check string) bool {
	switch check {
	case CheckRegistry, CheckPolicy, CheckReference, CheckTimeout, CheckVerifier:
		return false
	}
	return true
}
