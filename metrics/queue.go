package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector reads the queue's backlog when scraped, so the figures
// are those of the shared queue (every replica's jobs), not a counter one
// process keeps.
type queueCollector struct {
	queue   QueueStatser
	timeout time.Duration
	jobs    *prometheus.Desc
	oldest  *prometheus.Desc
	up      *prometheus.Desc
}

func newQueueCollector(q QueueStatser, timeout time.Duration) *queueCollector {
	return &queueCollector{
		queue:   q,
		timeout: timeout,
		jobs:    prometheus.NewDesc("oncall_queue_jobs", "Jobs in the queue by state (ready, delayed, in_flight, dead), read on scrape.", []string{"state"}, nil),
		oldest:  prometheus.NewDesc("oncall_queue_oldest_job_age_seconds", "Age of the oldest job waiting in the queue, read on scrape.", nil, nil),
		up:      prometheus.NewDesc("oncall_queue_up", "1 when the scrape could read the queue's backlog, 0 when it failed or timed out.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.oldest
	ch <- c.up
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.queue.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for state, n := range map[string]int{"ready": st.Ready, "delayed": st.Delayed, "in_flight": st.InFlight, "dead": st.Dead} {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, st.OldestAge.Seconds())
}

// DataLossReporter tells whether the store lost its data while this
// process ran (a Redis restarted without persistence).
type DataLossReporter interface {
	DataLosses() int
	DataLostAt() time.Time
}

// dataLossCollector reads the store's data-loss record when scraped.
type dataLossCollector struct {
	store  DataLossReporter
	losses *prometheus.Desc
	lastAt *prometheus.Desc
}

func newDataLossCollector(s DataLossReporter) *dataLossCollector {
	return &dataLossCollector{
		store:  s,
		losses: prometheus.NewDesc("oncall_store_data_losses_total", "Times this process found the store's data gone (its epoch key missing or changed): queued jobs, incidents and dedupe keys lost.", nil, nil),
		lastAt: prometheus.NewDesc("oncall_store_data_lost_timestamp_seconds", "When the store's data was last found gone (by any replica, within a day), as a Unix time; 0 if never.", nil, nil),
	}
}

func (c *dataLossCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.losses
	ch <- c.lastAt
}

func (c *dataLossCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.losses, prometheus.CounterValue, float64(c.store.DataLosses()))
	at := 0.0
	if t := c.store.DataLostAt(); !t.IsZero() {
		at = float64(t.UnixMilli()) / 1000
	}
	ch <- prometheus.MustNewConstMetric(c.lastAt, prometheus.GaugeValue, at)
}
