package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

var auditUSA = []policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}

// newAuditAccount creates an account through the service (its creation is its first
// event) and returns a principal of it.
func newAuditAccount(t *testing.T, svc *tenancy.Service, maxSubs int) subaccounts.Principal {
	t.Helper()
	a, err := svc.CreateAccount(t.Context(), "Audited "+uuid.NewString()[:8], tenancy.ContractInput{Configurations: auditUSA, MaxSubaccounts: ptr(maxSubs)})
	if err != nil {
		t.Fatal(err)
	}
	return subaccounts.Principal{AccountID: a.ID, Scopes: subaccounts.TenantScopes}
}

func countUnchained(t *testing.T, db *store.DB, accountID uuid.UUID) int64 {
	t.Helper()
	n, err := db.CountUnchainedAuditEvents(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAuditChainedOnRead: audited writes leave their events unchained; listing and
// verifying chain every committed event first, so readers see them all, numbered
// without gaps, in a chain that verifies, however many writers raced.
func TestAuditChainedOnRead(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, dialect)
			svc := tenancy.NewService(db, audit.NewRecorder(db), nil)
			aud := audit.NewService(db, nil)
			p := newAuditAccount(t, svc, 30)
			const writers = 20
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Go(func() {
					_, errs[i] = svc.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: fmt.Sprintf("Sub %02d", i), Configurations: auditUSA})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("writer %d: %v", i, err)
				}
			}
			if n := countUnchained(t, db, p.AccountID); n != writers+1 {
				t.Fatalf("%d unchained events before any read, want %d", n, writers+1)
			}
			items, next, err := aud.ListAuditEvents(ctx, p, audit.AuditQuery{}, subaccounts.Page{Limit: 100})
			if err != nil || next != nil {
				t.Fatalf("list: %v (next %v)", err, next)
			}
			if len(items) != writers+1 || items[0].Action != "account.create" {
				t.Fatalf("%d events, first %q; want %d starting with account.create", len(items), items[0].Action, writers+1)
			}
			for i, e := range items {
				if e.Seq != int64(i+1) || e.Hash == "" {
					t.Fatalf("event %d: seq %d, hash %q", i, e.Seq, e.Hash)
				}
			}
			// One more write, then verify: it chains it before checking.
			if _, err := svc.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: "Last", Configurations: auditUSA}); err != nil {
				t.Fatal(err)
			}
			v, err := aud.VerifyAudit(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Valid || v.EventsChecked != writers+2 || v.Head.Seq != writers+2 || v.Pending != 0 {
				t.Errorf("verification %+v, want valid with %d events and none pending", v, writers+2)
			}
			if n := countUnchained(t, db, p.AccountID); n != 0 {
				t.Errorf("%d unchained events after verify", n)
			}
		})
	}
}

// TestRunAuditChainer: the background chainer links the events of every account without
// anyone reading the log, and returns when its context ends.
func TestRunAuditChainer(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, dialect)
			svc := tenancy.NewService(db, audit.NewRecorder(db), nil)
			aud := audit.NewService(db, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				aud.RunAuditChainer(ctx, 5*time.Millisecond)
			}()
			var accounts []subaccounts.Principal
			for i := range 3 {
				p := newAuditAccount(t, svc, 5)
				for j := range i + 1 {
					if _, err := svc.CreateSubaccount(context.Background(), p, tenancy.SubaccountInput{Name: fmt.Sprint("Sub ", j), Configurations: auditUSA}); err != nil {
						t.Fatal(err)
					}
				}
				accounts = append(accounts, p)
			}
			// Wait for the chainer, not for a time: the deadline only keeps a broken chainer
			// from hanging the test.
			deadline := time.Now().Add(30 * time.Second)
			for _, p := range accounts {
				for countUnchained(t, db, p.AccountID) != 0 {
					if time.Now().After(deadline) {
						t.Fatalf("account %s still has unchained events", p.AccountID)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			cancel()
			<-done
			for i, p := range accounts {
				v, err := audit.VerifyAuditChain(context.Background(), db, p.AccountID, 100)
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(i + 2); !v.Valid || v.EventsChecked != want {
					t.Errorf("account %d: verification %+v, want valid with %d events", i, v, want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
