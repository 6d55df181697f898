package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
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

// BenchmarkLedger measures the money paths in the service, against each database: a
// transfer alone and from 32 concurrent callers (which all serialise on the account row),
// a charged enrolment next to an uncharged one (the baseline of the same run), and a
// network message routed with a fee next to one routed free.
func BenchmarkLedger(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, dialect)
			ring := keystest.Ring(b)
			if _, err := keys.CheckFingerprintKeys(ctx, db, ring); err != nil {
				b.Fatal(err)
			}
			svc := app.New(db, app.Config{Keys: ring})
			b.Cleanup(svc.Close)
			usa := []policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}
			newAccount := func(name string, enrol, fee int64) (subaccounts.Principal, []uuid.UUID) {
				a, err := svc.Tenancy.CreateAccount(ctx, name, tenancy.ContractInput{
					Configurations: usa, MaxSubaccounts: ptr(100),
					Pricing: &tenancy.PricingInput{CardEnrolment: ptr(enrol), Transaction: ptr(fee)},
				})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Ledger.TopUp(ctx, a.ID, ptr(int64(1e12)), ptr("bench")); err != nil {
					b.Fatal(err)
				}
				p := subaccounts.Principal{AccountID: a.ID, Scopes: subaccounts.TenantScopes}
				var subs []uuid.UUID
				for i := range 50 {
					s, err := svc.Tenancy.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: fmt.Sprintf("S%d", i), Configurations: usa, UsePrimaryBalance: ptr(false)})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := svc.Ledger.Transfer(ctx, p, subaccounts.KindBalanceTransfer, transfer(a.ID, s.ID, 1e9, "seed")); err != nil {
						b.Fatal(err)
					}
					subs = append(subs, s.ID)
				}
				return p, subs
			}
			p, subs := newAccount("Transfers", 0, 0)
			var n atomic.Int64
			transferOnce := func() {
				i := n.Add(1)
				from, to := p.AccountID, subs[int(i)%len(subs)]
				if i%2 == 0 {
					from, to = to, from
				}
				if _, err := svc.Ledger.Transfer(ctx, p, subaccounts.KindBalanceTransfer, transfer(from, to, 1+i%100, "bench")); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("transfer-serial", func(b *testing.B) {
				for b.Loop() {
					transferOnce()
				}
			})
			b.Run("transfer-parallel-32", func(b *testing.B) {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						transferOnce()
					}
				})
			})
			var pans atomic.Int64
			enrol := func(p subaccounts.Principal, sub uuid.UUID) {
				_, err := svc.Cards.EnrolCard(ctx, p, sub, cards.CardInput{
					Number: ptr(testLuhnPAN(int(pans.Add(1)))), ExpMonth: ptr(12), ExpYear: ptr(time.Now().Year() + 1),
					CountryCode: ptr("USA"), TermsOfUse: ptr(true),
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			free, freeSubs := newAccount("Free", 0, 0)
			charged, chargedSubs := newAccount("Charged", 100, 5)
			b.Run("enrol-free-baseline", func(b *testing.B) {
				for b.Loop() {
					enrol(free, freeSubs[0])
				}
			})
			b.Run("enrol-charged", func(b *testing.B) {
				for b.Loop() {
					enrol(charged, chargedSubs[0])
				}
			})
			ingest := func(p subaccounts.Principal, sub uuid.UUID) func(b *testing.B) {
				// One card for every run of the benchmark function; message ids keep counting
				// across runs, so no message is ever a duplicate.
				pan := testLuhnPAN(int(pans.Add(1)))
				if _, err := svc.Cards.EnrolCard(ctx, p, sub, cards.CardInput{
					Number: ptr(pan), ExpMonth: ptr(12), ExpYear: ptr(time.Now().Year() + 1),
					CountryCode: ptr("USA"), TermsOfUse: ptr(true),
				}); err != nil {
					b.Fatal(err)
				}
				var seq atomic.Int64
				return func(b *testing.B) {
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							in := msg(fmt.Sprintf("B-%s-%d", p.AccountID, seq.Add(1)), "auth", pan)
							out, err := svc.Routing.IngestTransaction(ctx, p, in)
							if err != nil || out.Status != routing.IngestRouted {
								b.Fatalf("ingest: %v %v", out.Status, err)
							}
						}
					})
				}
			}
			b.Run("ingest-free-baseline-parallel-32", ingest(free, freeSubs[1]))
			b.Run("ingest-with-fee-parallel-32", ingest(charged, chargedSubs[1]))
		})
	}
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
