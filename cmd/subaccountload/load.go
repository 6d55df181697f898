package main

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// outcome is the answer to one request of a load run.
type outcome struct {
	status int
	// ok counts the items that succeeded: 1 for a single request answered as expected,
	// the 201 items of a batch.
	ok int
	// failedItems holds the statuses of a batch's items that did not succeed.
	failedItems []int
}

// requestFunc sends one request of a load run.
type requestFunc func(ctx context.Context, worker int, rng *rand.Rand) (outcome, error)

// loadResult is what a load run measured. Only requests started inside the measured
// window count; the window ends when the last of them has been answered.
type loadResult struct {
	workers     int
	requests    int
	ok          int64
	statuses    map[int]int // HTTP status → requests
	itemStatus  map[int]int // status of failed batch items → items
	errors      int         // requests without an answer (transport errors)
	firstError  string
	latencies   []time.Duration // every measured request, sorted
	elapsed     time.Duration
	itemsPerReq int
	allOK       int64 // items that succeeded, warm-up included

	// CPU time used during the whole run (warm-up included) by the servers (summed over
	// the replicas), the PostgreSQL backends of the run's database and the load generator
	// itself; zero when it could not be read.
	serverCPU, pgCPU, clientCPU time.Duration
	servers                     int // server processes the run was spread over
	// groups are the group commits the servers reported over the run (zero where none
	// ran or /metrics could not be read).
	groups     groupCounts
	pgBackends int // backends of the run's database at its end
}

// serverCPUPerItem is the servers' CPU per item that succeeded, warm-up included in
// both; zero when the CPU time could not be read.
func (r loadResult) serverCPUPerItem() time.Duration { return perItem(r.serverCPU, r.allOK) }

// pgCPUPerItem is the PostgreSQL backends' CPU per item that succeeded.
func (r loadResult) pgCPUPerItem() time.Duration { return perItem(r.pgCPU, r.allOK) }

func perItem(cpu time.Duration, items int64) time.Duration {
	if cpu <= 0 || items <= 0 {
		return 0
	}
	return cpu / time.Duration(items)
}

// rate is the items that succeeded per second of the measured window.
func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

func (r loadResult) p(q float64) time.Duration { return percentile(r.latencies, q) }

// runLoad runs workers sending requests back to back: warmup unmeasured, then duration
// measured.
func runLoad(ctx context.Context, workers int, warmup, duration time.Duration, fn requestFunc) (loadResult, error) {
	type workerResult struct {
		statuses   map[int]int
		items      map[int]int
		ok         int64
		allOK      int64
		errors     int
		firstError string
		lat        []time.Duration
		lastEnd    time.Time
	}
	start := time.Now()
	t0 := start.Add(warmup)
	t1 := t0.Add(duration)
	results := make([]workerResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(w)))
			r := &results[w]
			r.statuses, r.items = map[int]int{}, map[int]int{}
			for ctx.Err() == nil {
				begin := time.Now()
				if !begin.Before(t1) {
					return
				}
				o, err := fn(ctx, w, rng)
				end := time.Now()
				if err == nil {
					r.allOK += int64(o.ok)
				}
				if begin.Before(t0) {
					continue
				}
				r.lat = append(r.lat, end.Sub(begin))
				r.lastEnd = end
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					r.errors++
					if r.firstError == "" {
						r.firstError = err.Error()
					}
					continue
				}
				r.statuses[o.status]++
				r.ok += int64(o.ok)
				for _, s := range o.failedItems {
					r.items[s]++
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	res := loadResult{workers: workers, statuses: map[int]int{}, itemStatus: map[int]int{}}
	end := t1
	for _, r := range results {
		res.ok += r.ok
		res.allOK += r.allOK
		res.errors += r.errors
		if res.firstError == "" {
			res.firstError = r.firstError
		}
		for s, n := range r.statuses {
			res.statuses[s] += n
		}
		for s, n := range r.items {
			res.itemStatus[s] += n
		}
		res.latencies = append(res.latencies, r.lat...)
		if r.lastEnd.After(end) {
			end = r.lastEnd
		}
	}
	res.requests = len(res.latencies)
	res.elapsed = end.Sub(t0)
	slices.Sort(res.latencies)
	if res.ok == 0 {
		msg := "no request succeeded"
		if res.firstError != "" {
			msg += "; first error: " + res.firstError
		}
		return res, errors.New(msg)
	}
	return res, nil
}

// percentile returns the q-th percentile (0 < q ≤ 100) of sorted by the nearest-rank
// method: the smallest value that at least q% of the values do not exceed. It is 0 for
// no values.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
