package store_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// benchAuditEvents is how many events BenchmarkVerifyAudit chains and verifies;
// AUDIT_BENCH_EVENTS overrides it (a quick look needs fewer).
func benchAuditEvents(b *testing.B) int {
	b.Helper()
	n := 1_000_000
	if v := os.Getenv("AUDIT_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("AUDIT_BENCH_EVENTS=%q: want a positive integer", v)
		}
	}
	return n
}

// chainedEvents yields n events of one account chained with the real chaining code
// (ChainHash over the canonical form), shaped like the service's own (a subaccount
// update with before and after documents).
func chainedEvents(b *testing.B, accountID uuid.UUID, n int) func() (subaccounts.AuditEvent, bool) {
	b.Helper()
	prev, seq := subaccounts.GenesisHash, int64(0)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() (subaccounts.AuditEvent, bool) {
		if seq == int64(n) {
			return subaccounts.AuditEvent{}, false
		}
		seq++
		res := uuid.New().String()
		before, _ := json.Marshal(map[string]any{"id": res, "name": "bench " + strconv.FormatInt(seq, 10), "suspended": false})
		after, _ := json.Marshal(map[string]any{"id": res, "name": "bench " + strconv.FormatInt(seq, 10), "suspended": true})
		e := subaccounts.AuditEvent{
			ID: uuid.Must(uuid.NewV7()), AccountID: accountID, Seq: seq,
			ActorSubject: "bench-client", ActorClientID: "bench-client", Action: "subaccount.update",
			ResourceType: "subaccount", ResourceID: res, Before: before, After: after,
			RequestID: "req-" + strconv.FormatInt(seq, 10), CreatedAt: start.Add(time.Duration(seq) * time.Millisecond),
			PrevHash: prev,
		}
		h, err := audit.ChainHash(e)
		if err != nil {
			panic(err) // the documents above are always valid JSON
		}
		e.Hash, prev = h, h
		return e, true
	}
}

// BenchmarkVerifyAudit times a full verification of one account's chain of a million
// events (AUDIT_BENCH_EVENTS), read in the service's batch size, on each database. The
// events are generated with the real chaining code and bulk-inserted before the timer
// starts.
func BenchmarkVerifyAudit(b *testing.B) {
	n := benchAuditEvents(b)
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, dialect)
			// audit_events has no foreign key to accounts: an account id is enough.
			a := subaccounts.Account{ID: uuid.New()}
			loadStart := time.Now()
			inserted, err := store.BulkInsertChainedAudit(ctx, db, chainedEvents(b, a.ID, n))
			if err != nil || inserted != int64(n) {
				b.Fatalf("bulk insert: %d events, %v", inserted, err)
			}
			b.Logf("%s: %d chained events inserted in %s", dialect, n, time.Since(loadStart).Round(time.Millisecond))
			b.ResetTimer()
			for b.Loop() {
				v, err := audit.VerifyAuditChain(ctx, db, a.ID, 1000)
				if err != nil || !v.Valid || v.EventsChecked != int64(n) {
					b.Fatalf("verify: %+v, %v", v, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
		})
	}
}
