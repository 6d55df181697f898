// Package redistest gives tests the Redis of the machine (TEST_REDIS_URL, by default
// redis://127.0.0.1:6379/0) and a key prefix of their own. A test skips when that Redis
// is down, except under CI (CI=true), where it fails.
package redistest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// DefaultURL is the Redis tests use when TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the test Redis's URL after checking that it answers; the test is skipped
// (failed under CI) when it does not.
func URL(t testing.TB) string {
	t.Helper()
	url, err := check(t)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is down (%v): under CI the Redis tests must run", url, err)
		}
		t.Skipf("Redis at %s is down (%v); start it (see GUIDE.md) to run this test", url, err)
	}
	return url
}

// Available returns the test Redis's URL and true when it answers, false when it does
// not (logged; failed under CI), for tests that run without Redis too.
func Available(t testing.TB) (string, bool) {
	t.Helper()
	url, err := check(t)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is down (%v): under CI the Redis tests must run", url, err)
		}
		t.Logf("Redis at %s is down (%v): testing the in-process limiter only", url, err)
		return url, false
	}
	return url, true
}

func check(t testing.TB) (string, error) {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = DefaultURL
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return url, rdb.Ping(ctx).Err()
}

// Prefix is a key prefix no other test uses.
func Prefix(t testing.TB) string {
	return "test:" + t.Name() + ":" + uuid.NewString() + ":"
}
