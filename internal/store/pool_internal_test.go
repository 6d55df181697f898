package store

import (
	"context"
	"os"
	"sync"
	"testing"
)

// TestPostgresPoolSize: Options.MaxConns bounds the pool: callers beyond it wait for a
// connection instead of opening more server processes.
func TestPostgresPoolSize(t *testing.T) {
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TEST_DATABASE_URL is not set: under CI the PostgreSQL suite must run")
		}
		t.Skip("TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	for _, tc := range []struct{ maxConns, want int }{{3, 3}, {0, DefaultMaxConns}} {
		db, err := OpenPostgres(ctx, url, Options{SkipMigrations: true, MaxConns: tc.maxConns})
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, err := db.gdb.DB()
		if err != nil {
			t.Fatal(err)
		}
		if got := sqlDB.Stats().MaxOpenConnections; got != tc.want {
			t.Errorf("MaxConns %d: pool of %d, want %d", tc.maxConns, got, tc.want)
		}
		if tc.maxConns == 3 {
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					if err := db.gdb.WithContext(ctx).Exec("SELECT pg_sleep(0.05)").Error; err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if st := sqlDB.Stats(); st.OpenConnections > 3 || st.WaitCount == 0 {
				t.Errorf("10 callers on a pool of 3: %d open, %d waits", st.OpenConnections, st.WaitCount)
			}
		}
		_ = sqlDB.Close()
	}
}
