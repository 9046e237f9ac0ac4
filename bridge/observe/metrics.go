package observe

import (
	"context"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// MetricsOptions configures Metrics.
type MetricsOptions struct {
	// OwnListener says /metrics is served on a listener of its own (the
	// caller serves Handler there), so the bridge does not mount it on
	// its routes. False mounts it behind the keys like every route.
	OwnListener bool
}

// Metrics keeps Prometheus metrics of what it observes, in a registry of
// its own with the Go and process collectors. Label values are bounded:
// routes are route templates, tools unknown to the registry are
// "unknown", upstreams are the configured ones. It is safe for
// concurrent use.
type Metrics struct {
	Nop
	opts MetricsOptions
	reg  *prometheus.Registry

	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	toolCalls        *prometheus.CounterVec
	toolDuration     *prometheus.HistogramVec
	tokens           *prometheus.CounterVec
	activeStreams    prometheus.Gauge
	serverUp         *prometheus.GaugeVec
	tools            *prometheus.GaugeVec
	reloads          *prometheus.CounterVec
	guard            *prometheus.CounterVec // see guard.go
}

var _ Observer = (*Metrics)(nil)

// NewMetrics returns Metrics; nil opts means the zero MetricsOptions.
func NewMetrics(opts *MetricsOptions) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	if opts != nil {
		m.opts = *opts
	}
	const ns = "mcp_bridge"
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
		Help: "HTTP requests by route template and status code."}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
		Help: "Duration of HTTP requests (streamed answers included) by route template.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 9)}, []string{"route"})
	m.upstreamRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_requests_total",
		Help: "Upstream chat requests by upstream and status code (0: no answer)."}, []string{"upstream", "code"})
	m.upstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "upstream_request_duration_seconds",
		Help: "Time to the first byte of upstream answers.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 10)}, []string{"upstream"})
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "tool_calls_total",
		Help: "Tool calls by server, tool, face and outcome."}, []string{"server", "tool", "face", "outcome"})
	m.toolDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "tool_call_duration_seconds",
		Help: "Duration of tool calls by server.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 9)}, []string{"server"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "tokens_total",
		Help: "Tokens used by chat requests, prompt or completion, summed over rounds."}, []string{"direction"})
	m.activeStreams = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "active_streams",
		Help: "Streamed chat answers in progress."})
	m.serverUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "mcp_server_up",
		Help: "1 while the MCP server is connected, else 0."}, []string{"server"})
	m.tools = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "tools",
		Help: "Tools exposed per MCP server."}, []string{"server"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "config_reloads_total",
		Help: "Configuration reloads by result (applied, rejected)."}, []string{"result"})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.upstreamRequests, m.upstreamDuration, m.toolCalls, m.toolDuration,
		m.tokens, m.activeStreams, m.serverUp, m.tools, m.reloads)
	m.guard = newGuardCounter(m.reg)
	// Counters that are zero until something happens are still shown.
	m.tokens.WithLabelValues("prompt")
	m.tokens.WithLabelValues("completion")
	return m
}

// OwnListener reports MetricsOptions.OwnListener.
func (m *Metrics) OwnListener() bool { return m.opts.OwnListener }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the metrics' registry, for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) HTTPRequest(_ context.Context, r *HTTPRecord) {
	route := r.Route
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(r.Code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(r.Duration.Seconds())
}

func (m *Metrics) UpstreamRequest(_ context.Context, r *UpstreamRecord) {
	m.upstreamRequests.WithLabelValues(r.Upstream, strconv.Itoa(r.Code)).Inc()
	if r.Code != 0 {
		m.upstreamDuration.WithLabelValues(r.Upstream).Observe(r.FirstByte.Seconds())
	}
}

func (m *Metrics) ToolCallFinished(_ context.Context, r *ToolCallRecord) {
	server, tool := r.Server, r.Tool
	if server == "" {
		server, tool = "unknown", "unknown"
	}
	m.toolCalls.WithLabelValues(server, tool, r.Face, r.Outcome).Inc()
	m.toolDuration.WithLabelValues(server).Observe(r.Duration.Seconds())
}

func (m *Metrics) ChatFinished(_ context.Context, r *ChatRecord) {
	m.tokens.WithLabelValues("prompt").Add(float64(max(r.PromptTokens, 0)))
	m.tokens.WithLabelValues("completion").Add(float64(max(r.CompletionTokens, 0)))
}

func (m *Metrics) ActiveStreams(_ context.Context, delta int) { m.activeStreams.Add(float64(delta)) }

func (m *Metrics) ServerState(_ context.Context, ev mcpclient.Event) {
	switch ev.Kind {
	case mcpclient.EventUp:
		m.serverUp.WithLabelValues(ev.Server).Set(1)
	case mcpclient.EventDown:
		m.serverUp.WithLabelValues(ev.Server).Set(0)
	}
	m.tools.WithLabelValues(ev.Server).Set(float64(ev.Tools))
}

func (m *Metrics) ConfigReload(_ context.Context, ok bool, _ string) {
	result := "applied"
	if !ok {
		result = "rejected"
	}
	m.reloads.WithLabelValues(result).Inc()
}
