package ratelimit_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/cardseg/subaccounts/internal/ratelimit"
	"github.com/cardseg/subaccounts/internal/ratelimit/redistest"
)

// BenchmarkAllow is the cost a limited request pays: one AllowN on a key among 1,000 busy
// ones, in process and (when Redis is up) in Redis over loopback.
func BenchmarkAllow(b *testing.B) {
	lims := map[string]ratelimit.Limiter{"memory": ratelimit.NewMemory(0)}
	if url, ok := redistest.Available(b); ok {
		rdb, err := ratelimit.NewRedisClient(url, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rdb.Close() })
		lims["redis"] = ratelimit.NewRedis(rdb, redistest.Prefix(b), 0)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "client:" + strconv.Itoa(i)
	}
	l := ratelimit.PerSecond(1_000_000)
	for name, lim := range lims {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := lim.AllowN(ctx, keys[i%len(keys)], l, 1); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
