package metrics

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves GET /metrics (the Prometheus text format, or OpenMetrics when asked)
// and net/http/pprof's profiles under /debug/pprof/. It is meant for METRICS_ADDR's
// private listener only: profiles show the process's internals, so neither is ever on
// the public port. The mux is its own; nothing registers on http.DefaultServeMux.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector that fails (the backlog read) costs its own figures, not the scrape.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
