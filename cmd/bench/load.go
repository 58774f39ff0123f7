package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// request builds the i-th request of a load run.
type request func(i int) (*http.Request, error)

// loadResult is what one load run measured.
type loadResult struct {
	Sent, Failed int
	Elapsed      time.Duration
	Latencies    []time.Duration // of the requests answered with the wanted status
}

// add sums another run into r.
func (r *loadResult) add(o loadResult) {
	r.Sent += o.Sent
	r.Failed += o.Failed
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
}

// Rate is the answered requests per second.
func (r loadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// Quantile returns the q-quantile of the latencies (0 without any).
func (r loadResult) Quantile(q float64) time.Duration { return quantile(r.Latencies, q) }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: 30 * time.Second, DisableCompression: true,
		},
	}
}

// do sends one request and reports whether it got the wanted status.
func do(c *http.Client, mk request, i, want int) bool {
	req, err := mk(i)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == want
}

// closedLoop keeps conns requests in flight for d (or until max
// requests), each sender waiting for its answer before sending again: the
// most the server sustains.
func closedLoop(ctx context.Context, mk request, want, conns int, d time.Duration, maxReqs int) loadResult {
	c := newClient(conns)
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{}
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			failed := 0
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= maxReqs {
					break
				}
				t0 := time.Now()
				if do(c, mk, i, want) {
					lat = append(lat, time.Since(t0))
				} else {
					failed++
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.Failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Sent = len(res.Latencies) + res.Failed
	return res
}

// openLoop sends rate requests a second for d whatever the answers take,
// through up to conns connections, and measures each latency from the
// moment the request was due: a server that falls behind shows it in the
// tail instead of slowing the sender down.
func openLoop(ctx context.Context, mk request, want, conns int, rate float64, d time.Duration) loadResult {
	c := newClient(conns)
	defer c.CloseIdleConnections()
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, conns*64)
	var mu sync.Mutex
	res := loadResult{}
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ok := do(c, mk, j.i, want)
				lat := time.Since(j.due)
				mu.Lock()
				if ok {
					res.Latencies = append(res.Latencies, lat)
				} else {
					res.Failed++
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	total := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	sent := 0
	for sent < total && ctx.Err() == nil {
		now := time.Now()
		for sent < total {
			due := start.Add(time.Duration(sent) * interval)
			if due.After(now) {
				break
			}
			jobs <- job{i: sent, due: due}
			sent++
		}
		time.Sleep(time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Sent = sent
	return res
}

// jsonPost builds a POST of body with a bearer token.
func jsonPost(url, token string, body func(i int) []byte) request {
	return func(i int) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body(i)))
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req, nil
	}
}
