package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// BacklogReader reads what waits in the database's queues (the store's Backlog).
type BacklogReader func(ctx context.Context, now time.Time) (subaccounts.Backlog, error)

// WatchBacklog reads the queues at every scrape, for at most timeout: the webhook
// outbox, the stream's pending events and the audit events the chainer has not linked
// yet. They are shared by every replica, so every replica reports the same figures.
// A read that fails (the database away, the pool exhausted past timeout) reports only
// subaccountd_backlog_up 0, never a stale figure.
func (m *Metrics) WatchBacklog(read BacklogReader, timeout time.Duration) {
	if m == nil || read == nil {
		return
	}
	m.reg.MustRegister(&backlogCollector{read: read, timeout: timeout})
}

func gaugeDesc(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }

var (
	backlogUp         = gaugeDesc("subaccountd_backlog_up", "1 when the last scrape read the database's queues, 0 when it could not.")
	deliveriesPending = gaugeDesc("subaccountd_webhook_deliveries_pending", "Webhook deliveries not yet delivered or failed, due or scheduled for a retry (counted up to 100000).")
	deliveriesDue     = gaugeDesc("subaccountd_webhook_deliveries_due", "Pending webhook deliveries whose attempt is due now (counted up to 100000).")
	oldestDue         = gaugeDesc("subaccountd_webhook_oldest_due_seconds", "How long the most overdue pending delivery has been due; 0 when none is.")
	streamPending     = gaugeDesc("subaccountd_stream_events_pending", "Events not yet published to the stream (counted up to 100000).")
	streamOldest      = gaugeDesc("subaccountd_stream_oldest_pending_seconds", "Age of the oldest event not yet published to the stream; 0 when none waits.")
	auditUnchained    = gaugeDesc("subaccountd_audit_unchained_events", "Audit events the chainer has not linked into their account's hash chain yet (counted up to 100000).")
	auditLag          = gaugeDesc("subaccountd_audit_chain_lag_seconds", "Age of the oldest audit event not yet chained: the audit chainer's lag; 0 when none waits.")
)

type backlogCollector struct {
	read    BacklogReader
	timeout time.Duration
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backlogUp, deliveriesPending, deliveriesDue, oldestDue, streamPending, streamOldest, auditUnchained, auditLag} {
		ch <- d
	}
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	now := time.Now()
	b, err := c.read(ctx, now)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(backlogUp, prometheus.GaugeValue, 0)
		return
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	age := func(since *time.Time) float64 {
		if since == nil || !now.After(*since) {
			return 0
		}
		return now.Sub(*since).Seconds()
	}
	gauge(backlogUp, 1)
	gauge(deliveriesPending, float64(b.PendingDeliveries))
	gauge(deliveriesDue, float64(b.DueDeliveries))
	gauge(oldestDue, age(b.OldestDue))
	gauge(streamPending, float64(b.StreamPending))
	gauge(streamOldest, age(b.OldestStreamPending))
	gauge(auditUnchained, float64(b.UnchainedAudit))
	gauge(auditLag, age(b.OldestUnchained))
}
