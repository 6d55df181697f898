package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

// testLuhnPAN returns a Luhn-valid 16-digit VISA number carrying seq.
func testLuhnPAN(seq int) string {
	body := fmt.Sprintf("4%014d", seq)
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + strconv.Itoa((10-sum%10)%10)
}

// ledgerSeed is the seed of the random operations, logged so a failure can be replayed
// with LEDGER_SEED.
func ledgerSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEDGER_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LEDGER_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with LEDGER_SEED=%d)", seed, seed)
	return seed
}

// outcome is what the test knows of one operation it sent.
type outcome struct {
	kind      string // credit, balance, enrol, top-up
	reference string
	amount    int64
	acked     bool
}

// TestLedgerUnderConcurrency drives random credit and balance transfers, charged
// enrolments and top-ups from 64 workers across 50 subaccounts with random limits, takes
// consistent snapshots while they run, and then checks that money was neither created
// nor lost, that no customer operation left a balance below its floor, that every
// acknowledged transfer is in the journal exactly once and every refused one is absent,
// and that every balance and credit limit equals what the journal sums to.
func TestLedgerUnderConcurrency(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ops := 10_000
			if dialect == "sqlite" {
				// The embedded database serialises every writer; a shorter run exercises the
				// same code without dominating the suite.
				ops = 2_000
			}
			runLedgerStress(t, dialect, 64, ops, 50)
		})
	}
}

func runLedgerStress(t *testing.T, dialect string, workers, ops, nsubs int) {
	ctx := context.Background()
	seed := ledgerSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	db := storetest.Open(t, dialect)
	ring := keystest.Ring(t)
	if _, err := keys.CheckFingerprintKeys(ctx, db, ring); err != nil {
		t.Fatal(err)
	}
	svc := app.New(db, app.Config{Keys: ring})
	t.Cleanup(svc.Close)

	usa := []policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}
	price := int64(1 + rng.IntN(50))
	a, err := svc.Tenancy.CreateAccount(ctx, "Ledger", tenancy.ContractInput{
		Configurations: usa, MaxSubaccounts: ptr(nsubs),
		Pricing: &tenancy.PricingInput{CardEnrolment: ptr(price)},
	})
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(200_000 + rng.IntN(800_000))
	if _, err := svc.Tenancy.UpdateAccount(ctx, a.ID, tenancy.AccountPatch{CreditLimit: &limit}, nil); err != nil {
		t.Fatal(err)
	}
	p := subaccounts.Principal{AccountID: a.ID, Scopes: subaccounts.TenantScopes}
	var own, all []uuid.UUID
	for i := range nsubs {
		// Every fifth subaccount shares the primary balance: its charges hit the primary.
		shared := i%5 == 0
		sub, err := svc.Tenancy.CreateSubaccount(ctx, p, tenancy.SubaccountInput{
			Name: fmt.Sprintf("Sub %02d", i), Configurations: usa, UsePrimaryBalance: ptr(shared),
		})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, sub.ID)
		if !shared {
			own = append(own, sub.ID)
		}
	}
	// Random opening limits, handed out by credit transfers before the run.
	var mu sync.Mutex
	var outcomes []outcome
	record := func(o outcome) {
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
	}
	for i, id := range own {
		amount := int64(rng.IntN(int(limit / int64(len(own)) / 2)))
		if amount == 0 {
			continue
		}
		ref := fmt.Sprintf("open-credit-%d", i)
		_, err := svc.Ledger.Transfer(ctx, p, subaccounts.KindCreditTransfer, transfer(a.ID, id, amount, ref))
		if err != nil {
			t.Fatal(err)
		}
		record(outcome{kind: "credit", reference: ref, amount: amount, acked: true})
	}
	opening := int64(50_000)
	if _, err := svc.Ledger.TopUp(ctx, a.ID, ptr(opening), ptr("opening")); err != nil {
		t.Fatal(err)
	}
	record(outcome{kind: "top-up", reference: "opening", amount: opening, acked: true})

	// Each worker draws its operations from its own generator, seeded from the run's.
	seeds := make([]uint64, workers)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seeds[w], uint64(w)))
			for {
				n := next.Add(1)
				if n > int64(ops) || stop.Load() {
					return
				}
				o, err := ledgerOp(ctx, svc, p, a.ID, own, all, r, n)
				if err != nil {
					stop.Store(true)
					errs <- fmt.Errorf("op %d (%s): %w", n, o.kind, err)
					return
				}
				record(o)
			}
		}()
	}

	// Snapshots while the workers run: consistent reads under the account lock.
	snapshots := 0
	done := make(chan struct{})
	var snapWG sync.WaitGroup
	snapWG.Add(1)
	go func() {
		defer snapWG.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := checkFloors(ctx, db, a.ID); err != nil {
				stop.Store(true)
				errs <- fmt.Errorf("snapshot %d: %w", snapshots, err)
				return
			}
			snapshots++
		}
	}()
	wg.Wait()
	close(done)
	snapWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d operations by %d workers, %d snapshots, enrolment price %d, credit limit %d", len(outcomes), workers, snapshots, price, limit)
	if snapshots == 0 {
		t.Error("no snapshot was taken while the workers ran")
	}

	// 1. No balance below its floor, in the final state too.
	if err := checkFloors(ctx, db, a.ID); err != nil {
		t.Fatalf("final state: %v", err)
	}
	// 2. Money is neither created nor lost: the balances sum to the top-ups minus charges.
	var topUps, charges int64
	acked := map[string]int{}
	refused := map[string]bool{}
	var enrolled int64
	for _, o := range outcomes {
		if !o.acked {
			refused[o.reference] = true
			continue
		}
		switch o.kind {
		case "top-up":
			topUps += o.amount
		case "enrol":
			charges += price
			enrolled++
		default:
			acked[o.reference]++
		}
	}
	final, err := svc.Tenancy.GetAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := db.AllSubaccounts(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := final.Balance
	var allocated int64
	for _, s := range subs {
		sum += s.Balance
		allocated += s.CreditLimit
		if s.UsePrimaryBalance && (s.Balance != 0 || s.CreditLimit != 0) {
			t.Errorf("shared subaccount %s holds balance %d, credit %d", s.ID, s.Balance, s.CreditLimit)
		}
	}
	if want := topUps - charges; sum != want {
		t.Errorf("balances sum to %d, want top-ups %d − charges %d = %d", sum, topUps, charges, want)
	}
	if allocated != final.AllocatedCredit || final.AllocatedCredit > final.CreditLimit {
		t.Errorf("allocated credit: stored %d, subaccounts hold %d, limit %d", final.AllocatedCredit, allocated, final.CreditLimit)
	}
	// 3. Every acknowledged transfer is in the journal exactly once; no refused one is.
	seen := map[string]int{}
	var revenue int64
	page := subaccounts.Page{Limit: 1000}
	for {
		entries, err := db.ListLedgerEntries(ctx, a.ID, subaccounts.EntryFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch e.Kind {
			case subaccounts.KindCreditTransfer, subaccounts.KindBalanceTransfer:
				seen[e.Reference]++
			case subaccounts.KindCharge:
				revenue += e.Amount
			}
		}
		if len(entries) < page.Limit {
			break
		}
		page.After = entries[len(entries)-1].ID
	}
	for ref, n := range acked {
		if seen[ref] != n || n != 1 {
			t.Errorf("acknowledged transfer %q: %d journal entries", ref, seen[ref])
		}
	}
	for ref := range refused {
		if seen[ref] != 0 {
			t.Errorf("refused operation %q: %d journal entries", ref, seen[ref])
		}
	}
	for ref := range seen {
		if acked[ref] == 0 {
			t.Errorf("journal entry %q was never acknowledged", ref)
		}
	}
	if revenue != charges {
		t.Errorf("charges in the journal %d, acknowledged enrolments × price %d", revenue, charges)
	}
	var cards int64
	for _, id := range all {
		n, err := db.CountActiveCards(ctx, a.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		cards += n
	}
	if cards != enrolled {
		t.Errorf("%d active cards, %d acknowledged enrolments", cards, enrolled)
	}
	// 4. Every balance and limit equals what the journal sums to.
	rec, err := svc.Ledger.Reconcile(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rec.Mismatches {
		t.Error("journal mismatch:", m)
	}
	// The run must have exercised both outcomes of every kind it drew.
	kinds := map[string][2]int{}
	for _, o := range outcomes {
		k := kinds[o.kind]
		if o.acked {
			k[0]++
		} else {
			k[1]++
		}
		kinds[o.kind] = k
	}
	t.Logf("acknowledged/refused by kind: %v", kinds)
	for _, k := range []string{"credit", "balance", "enrol"} {
		if kinds[k][0] == 0 {
			t.Errorf("no %s operation was acknowledged", k)
		}
	}
}

func transfer(from, to uuid.UUID, amount int64, ref string) ledger.TransferInput {
	f, tt := from.String(), to.String()
	return ledger.TransferInput{From: &f, To: &tt, Amount: &amount, Reference: &ref}
}

// ledgerOp performs one random operation and reports whether it was acknowledged; a
// refusal the ledger owes (invalid transfer, insufficient credit) is an outcome, any
// other error fails the run.
func ledgerOp(ctx context.Context, svc *app.Services, p subaccounts.Principal, primary uuid.UUID, own, all []uuid.UUID, r *rand.Rand, n int64) (outcome, error) {
	ref := fmt.Sprintf("op-%d", n)
	var err error
	o := outcome{reference: ref}
	switch x := r.IntN(100); {
	case x < 40:
		o.kind = "credit"
		o.amount = int64(1 + r.IntN(20_000))
		sub := own[r.IntN(len(own))]
		from, to := primary, sub
		if r.IntN(2) == 0 {
			from, to = to, from
		}
		_, err = svc.Ledger.Transfer(ctx, p, subaccounts.KindCreditTransfer, transfer(from, to, o.amount, ref))
	case x < 80:
		o.kind = "balance"
		o.amount = int64(1 + r.IntN(20_000))
		sub := own[r.IntN(len(own))]
		from, to := primary, sub
		if r.IntN(2) == 0 {
			from, to = to, from
		}
		_, err = svc.Ledger.Transfer(ctx, p, subaccounts.KindBalanceTransfer, transfer(from, to, o.amount, ref))
	case x < 98:
		o.kind = "enrol"
		_, err = svc.Cards.EnrolCard(ctx, p, all[r.IntN(len(all))], cards.CardInput{
			Number: ptr(testLuhnPAN(int(n))), ExpMonth: ptr(12), ExpYear: ptr(time.Now().Year() + 1),
			CountryCode: ptr("USA"), TermsOfUse: ptr(true),
		})
	default:
		o.kind = "top-up"
		o.amount = int64(1 + r.IntN(10_000))
		_, err = svc.Ledger.TopUp(ctx, primary, &o.amount, &ref)
	}
	var de *subaccounts.Error
	switch {
	case err == nil:
		o.acked = true
		return o, nil
	case errors.As(err, &de) && (de.Code == subaccounts.CodeInvalidTransfer || de.Code == subaccounts.CodeInsufficientCredit):
		return o, nil
	default:
		return o, err
	}
}

// checkFloors reads the account and its subaccounts in one transaction under the account
// lock, so the figures are one consistent state, and checks that no balance is below its
// floor and that no over-limit flag is set (this run charges no network fees, the only
// thing allowed to cross a floor).
func checkFloors(ctx context.Context, db *store.DB, accountID uuid.UUID) error {
	return db.Transact(ctx, func(ctx context.Context) error {
		a, err := db.GetAccount(ctx, accountID, true)
		if err != nil {
			return err
		}
		subs, err := db.AllSubaccounts(ctx, accountID)
		if err != nil {
			return err
		}
		if a.Balance < a.Floor() || a.OverLimit {
			return fmt.Errorf("primary balance %d below its floor %d (limit %d, allocated %d), overLimit %v", a.Balance, a.Floor(), a.CreditLimit, a.AllocatedCredit, a.OverLimit)
		}
		var allocated int64
		for _, s := range subs {
			allocated += s.CreditLimit
			if s.Balance < -s.CreditLimit || s.OverLimit {
				return fmt.Errorf("subaccount %s balance %d below −%d, overLimit %v", s.ID, s.Balance, s.CreditLimit, s.OverLimit)
			}
		}
		if allocated != a.AllocatedCredit || allocated > a.CreditLimit {
			return fmt.Errorf("allocated %d stored, %d held, limit %d", a.AllocatedCredit, allocated, a.CreditLimit)
		}
		return nil
	})
}

func ptr[T any](v T) *T { return &v }
