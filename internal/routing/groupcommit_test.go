package routing_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

func ptr[T any](v T) *T { return &v }

// fixture is an account with one subaccount permitting USA on VISA and one card in it.
type fixture struct {
	svc  *app.Services
	p    subaccounts.Principal
	card subaccounts.Card
}

func newFixture(t *testing.T, dialect string, cfg app.Config) fixture {
	t.Helper()
	ctx := t.Context()
	db := storetest.Open(t, dialect)
	ring := keystest.Ring(t)
	if _, err := keys.CheckFingerprintKeys(ctx, db, ring); err != nil {
		t.Fatal(err)
	}
	cfg.Keys = ring
	return seedFixture(t, db, cfg)
}

// seedFixture builds the services over db and gives them an account, a subaccount
// permitting USA on VISA, and one card in it.
func seedFixture(t *testing.T, db app.Store, cfg app.Config) fixture {
	t.Helper()
	ctx := t.Context()
	if cfg.Keys == nil {
		cfg.Keys = keystest.Ring(t)
	}
	svc := app.New(db, cfg)
	t.Cleanup(svc.Close)
	usa := []policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}
	a, err := svc.Tenancy.CreateAccount(ctx, "Acme", tenancy.ContractInput{Configurations: usa, MaxSubaccounts: ptr(5)})
	if err != nil {
		t.Fatal(err)
	}
	p := subaccounts.Principal{AccountID: a.ID, Scopes: subaccounts.TenantScopes}
	sub, err := svc.Tenancy.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: "Shop", Configurations: usa})
	if err != nil {
		t.Fatal(err)
	}
	card, err := svc.Cards.EnrolCard(ctx, p, sub.ID, cards.CardInput{
		Number: ptr("4111111111111111"), ExpMonth: ptr(12), ExpYear: ptr(time.Now().Year() + 1),
		CountryCode: ptr("USA"), TermsOfUse: ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, p: p, card: card}
}

func msg(ntid, typ, card string) routing.MessageInput {
	in := routing.MessageInput{
		NetworkTransactionID: ptr(ntid), Type: ptr(typ), Amount: ptr(int64(100)), Currency: ptr("USD"),
		Datetime: ptr("2026-11-20T10:00:00Z"),
		Merchant: &routing.MerchantInput{Name: ptr("Diner"), MCC: ptr("5812"), CountryCode: ptr("USA")},
	}
	if len(card) == 36 {
		in.CardID = ptr(card)
	} else {
		in.CardNumber = ptr(card)
	}
	return in
}

// TestGroupCommitMixedGroup: concurrent single messages share transactions, and inside one
// group every message gets its own correct answer — new ones routed, repeats and earlier
// messages answered as duplicates, unknown cards queued, invalid ones refused — without
// failing the others.
func TestGroupCommitMixedGroup(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var groups []int
			hold := make(chan struct{})
			calls := 0
			f := newFixture(t, d, app.Config{GroupCommit: routing.GroupCommit{MaxBatch: 256, MaxWait: 2 * time.Millisecond, Writers: 1},
				OnGroupWritten: func(n int) {
					// Hold the group after the first message until every request is
					// queued, so the rest must share the next transaction.
					mu.Lock()
					calls++
					first := calls == 2
					groups = append(groups, n)
					mu.Unlock()
					if first {
						<-hold
					}
				}})
			ctx := t.Context()
			card := f.card.ID.String()
			// One message stored before the group.
			if _, err := f.svc.Routing.IngestTransaction(ctx, f.p, msg("before", "auth", card)); err != nil {
				t.Fatal(err)
			}
			type req struct {
				in   routing.MessageInput
				want routing.IngestStatus // 0: refused as invalid
			}
			var reqs []req
			for i := range 40 {
				reqs = append(reqs, req{msg(fmt.Sprintf("new-%d", i), "auth", card), routing.IngestRouted})
			}
			for range 5 {
				reqs = append(reqs, req{msg("before", "auth", card), routing.IngestDuplicate})
			}
			for i := range 5 {
				reqs = append(reqs, req{msg(fmt.Sprintf("lost-%d", i), "auth", uuid.NewString()), routing.IngestUnrouted})
			}
			for i := range 5 {
				reqs = append(reqs, req{msg(fmt.Sprintf("pan-%d", i), "clearing", "4111111111111111"), routing.IngestRouted})
			}
			bad := msg("bad", "auth", card)
			bad.Currency = ptr("XXY")
			reqs = append(reqs, req{bad, 0})
			// Six copies of one new message: exactly one is routed, five are duplicates.
			for range 6 {
				reqs = append(reqs, req{msg("twin", "auth", card), -1})
			}

			outs := make([]routing.IngestOutcome, len(reqs))
			errs := make([]error, len(reqs))
			var wg sync.WaitGroup
			for i, r := range reqs {
				wg.Go(func() { outs[i], errs[i] = f.svc.Routing.IngestTransaction(ctx, f.p, r.in) })
			}
			time.Sleep(100 * time.Millisecond) // let every request reach the queue
			close(hold)
			wg.Wait()

			twinID, twinRouted := uuid.Nil, 0
			for i, r := range reqs {
				switch {
				case r.want == 0:
					if errs[i] == nil {
						t.Errorf("request %d: invalid message accepted", i)
					}
					continue
				case errs[i] != nil:
					t.Errorf("request %d: %v", i, errs[i])
					continue
				case r.want == -1:
					if outs[i].Status == routing.IngestRouted {
						twinRouted++
					} else if outs[i].Status != routing.IngestDuplicate {
						t.Errorf("twin %d: status %d", i, outs[i].Status)
					}
					if twinID == uuid.Nil {
						twinID = outs[i].Transaction.ID
					} else if outs[i].Transaction.ID != twinID {
						t.Errorf("twin %d has id %s, another %s", i, outs[i].Transaction.ID, twinID)
					}
				case outs[i].Status != r.want:
					t.Errorf("request %d (%s): status %d, want %d", i, *r.in.NetworkTransactionID, outs[i].Status, r.want)
				}
				if r.want == routing.IngestRouted && outs[i].Transaction.CardID != f.card.ID {
					t.Errorf("request %d routed to card %s", i, outs[i].Transaction.CardID)
				}
			}
			if twinRouted != 1 {
				t.Errorf("%d copies of one message were routed, want 1", twinRouted)
			}

			mu.Lock()
			defer mu.Unlock()
			total, biggest := 0, 0
			for _, n := range groups {
				total += n
				biggest = max(biggest, n)
			}
			// The invalid message never reaches a group; the first message was alone.
			if want := 1 + len(reqs) - 1; total != want {
				t.Errorf("groups %v carry %d messages, want %d", groups, total, want)
			}
			if biggest < 2 {
				t.Errorf("no group held more than one message: %v", groups)
			}
			page, _, err := f.svc.Routing.ListTransactions(ctx, f.p, routing.TransactionQuery{}, subaccounts.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 + 40 + 5 + 1; len(page) != want {
				t.Errorf("%d routed transactions stored, want %d", len(page), want)
			}
			queue, _, err := f.svc.Routing.ListUnrouted(ctx, f.p, subaccounts.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(queue) != 5 {
				t.Errorf("%d unrouted, want 5", len(queue))
			}
		})
	}
}

// TestGroupCommitClose: messages queued when the service closes are still written, and
// later ones are refused.
func TestGroupCommitClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sqlite", app.Config{})
	ctx := t.Context()
	out, err := f.svc.Routing.IngestTransaction(ctx, f.p, msg("one", "auth", f.card.ID.String()))
	if err != nil || out.Status != routing.IngestRouted {
		t.Fatalf("%+v %v", out, err)
	}
	f.svc.Close()
	if _, err := f.svc.Routing.IngestTransaction(ctx, f.p, msg("two", "auth", f.card.ID.String())); err == nil {
		t.Error("a closed service took a message")
	}
}
