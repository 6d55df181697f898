package tenancy_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

var (
	deuVisa = policy.Pair{Country: "DEU", Network: policy.Visa}
	deuMC   = policy.Pair{Country: "DEU", Network: policy.Mastercard}
	fraVisa = policy.Pair{Country: "FRA", Network: policy.Visa}
	fraMC   = policy.Pair{Country: "FRA", Network: policy.Mastercard}
)

// narrowingFixture: a contract of DEU and FRA on both networks, and three subaccounts:
// wide (DEU on both, two Mastercard cards and one VISA card, and a FRA Mastercard card
// already out of its policy), fra (FRA on VISA, one
// card) and deu (DEU on VISA, no cards).
type narrowingFixture struct {
	f              *fakeStore
	a              subaccounts.Account
	wide, fra, deu subaccounts.Subaccount
}

func newNarrowingFixture(t *testing.T) narrowingFixture {
	t.Helper()
	f := newFakeStore()
	a := f.seedAccount(t, 5, cfg("DEU FRA", "VISA", "MASTERCARD"))
	return narrowingFixture{
		f: f, a: a,
		wide: f.seedSub(t, a, "wide", []policy.Configuration{cfg("DEU", "VISA", "MASTERCARD")}, deuMC, deuMC, deuVisa, fraMC),
		fra:  f.seedSub(t, a, "fra", []policy.Configuration{cfg("FRA", "VISA")}, fraVisa),
		deu:  f.seedSub(t, a, "deu", []policy.Configuration{cfg("DEU", "VISA")}),
	}
}

// TestSetContractNarrowing: a contract dropping DEU on Mastercard leaves "wide" outside
// it. Without cascade that is refused with the affected subaccount; a dry run reports
// it and changes nothing; cascade narrows the subaccount and puts its cards of the
// dropped pair out of policy, in the same transaction.
func TestSetContractNarrowing(t *testing.T) {
	narrower := tenancy.ContractInput{
		Configurations: []policy.Configuration{cfg("DEU FRA", "VISA")},
		MaxSubaccounts: addr(5),
	}
	cases := []struct {
		name        string
		dryRun      bool
		cascade     bool
		wantRefused bool
		wantWritten bool
	}{
		{name: "refused without cascade", wantRefused: true},
		{name: "dry run", dryRun: true},
		{name: "dry run with cascade", dryRun: true, cascade: true},
		{name: "cascade", cascade: true, wantWritten: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newNarrowingFixture(t)
			svc := tenancy.NewService(fx.f, fx.f, nil)
			before := fx.f.state()
			change, err := svc.SetContract(context.Background(), fx.a.ID, narrower, tc.dryRun, tc.cascade, nil)
			wantAffected := []subaccounts.AffectedSubaccount{{
				ID: fx.wide.ID, Name: "wide", Outside: []policy.Pair{deuMC},
				After:               []policy.Configuration{{Countries: []string{"DEU"}, Networks: []string{"VISA"}}},
				CardsPutOutOfPolicy: 2, CardsByPair: []subaccounts.PairCount{{Pair: deuMC, Cards: 2}},
			}}
			if tc.wantRefused {
				se := wantError(t, err, subaccounts.CodeConflict)
				d, ok := se.Detail.(*subaccounts.ContractNarrowing)
				if !ok {
					t.Fatalf("detail %T, want *subaccounts.ContractNarrowing", se.Detail)
				}
				if !reflect.DeepEqual(d.Affected, wantAffected) {
					t.Errorf("affected %+v, want %+v", d.Affected, wantAffected)
				}
				wantUnchanged(t, before, fx.f.state())
				return
			}
			if err != nil {
				t.Fatalf("SetContract: %v", err)
			}
			if !reflect.DeepEqual(change.Affected, wantAffected) {
				t.Errorf("affected %+v, want %+v", change.Affected, wantAffected)
			}
			if change.DryRun != tc.dryRun || change.Cascade != tc.cascade {
				t.Errorf("change flags dry run %v cascade %v, want %v %v", change.DryRun, change.Cascade, tc.dryRun, tc.cascade)
			}
			if change.Account.Contract.Version != 2 || change.Account.Version != 2 {
				t.Errorf("contract version %d account version %d, want 2 and 2", change.Account.Contract.Version, change.Account.Version)
			}
			after := fx.f.state()
			if !tc.wantWritten {
				wantUnchanged(t, before, after)
				return
			}
			if got := after.accounts[fx.a.ID].Contract; !reflect.DeepEqual(got.Configurations, []policy.Configuration{cfg("DEU FRA", "VISA")}) || got.Version != 2 {
				t.Errorf("stored contract %+v, want DEU and FRA on VISA, version 2", got)
			}
			wide := after.subs[fx.wide.ID]
			if !reflect.DeepEqual(wide.Configurations, wantAffected[0].After) || wide.ConfigVersion != 2 || wide.Version != 2 {
				t.Errorf("narrowed subaccount %+v, want DEU on VISA at config version 2", wide)
			}
			if got := after.pairs[fx.wide.ID]; !reflect.DeepEqual(got, []policy.Pair{deuVisa}) {
				t.Errorf("entitlement rows %v, want only DEU on VISA", got)
			}
			if got := after.policyCounts(fx.wide.ID); got[subaccounts.OutOfPolicy] != 3 || got[subaccounts.InPolicy] != 1 {
				t.Errorf("card policy %v, want 3 out of policy (one already was) and 1 in", got)
			}
			for _, id := range []uuid.UUID{fx.fra.ID, fx.deu.ID} {
				if !reflect.DeepEqual(after.subs[id], before.subs[id]) {
					t.Errorf("subaccount inside the new contract changed: %+v", after.subs[id])
				}
			}
			var actions []string
			for _, c := range after.changes {
				actions = append(actions, c.Action)
				if c.Action == "card.policy-change" && (!c.Unaudited || c.After.(subaccounts.Card).PolicyStatus != subaccounts.OutOfPolicy) {
					t.Errorf("policy change %+v, want an unaudited change to out of policy", c)
				}
			}
			// The two cards the narrowing put out of policy (the third already was).
			if !reflect.DeepEqual(actions, []string{"contract.update", "subaccount.narrow", "card.policy-change", "card.policy-change"}) {
				t.Errorf("recorded %v, want contract.update, subaccount.narrow and two card.policy-change", actions)
			}
			if fx.f.outsideTx != 0 {
				t.Errorf("%d writes outside a transaction", fx.f.outsideTx)
			}
		})
	}
}

// TestSetContractWidening: a contract that keeps every subaccount inside it is stored
// with nothing affected, nothing narrowed.
func TestSetContractWidening(t *testing.T) {
	fx := newNarrowingFixture(t)
	svc := tenancy.NewService(fx.f, fx.f, nil)
	in := tenancy.ContractInput{Configurations: []policy.Configuration{cfg("DEU FRA ITA", "VISA", "MASTERCARD")}, MaxSubaccounts: addr(10)}
	before := fx.f.state()
	change, err := svc.SetContract(context.Background(), fx.a.ID, in, false, false, nil)
	if err != nil {
		t.Fatalf("SetContract: %v", err)
	}
	if len(change.Affected) != 0 {
		t.Errorf("affected %+v, want none", change.Affected)
	}
	after := fx.f.state()
	if got := after.accounts[fx.a.ID].Contract; got.MaxSubaccounts != 10 || len(got.Configurations) != 1 || len(got.Configurations[0].Countries) != 3 {
		t.Errorf("stored contract %+v, want the wider one", got)
	}
	if !reflect.DeepEqual(after.subs, before.subs) || !reflect.DeepEqual(after.cards, before.cards) {
		t.Errorf("widening touched subaccounts or cards")
	}
}

// TestSetContractIfMatch: a contract PUT naming a stale version is refused untouched.
func TestSetContractIfMatch(t *testing.T) {
	fx := newNarrowingFixture(t)
	svc := tenancy.NewService(fx.f, fx.f, nil)
	in := tenancy.ContractInput{Configurations: []policy.Configuration{cfg("DEU FRA", "VISA", "MASTERCARD")}, MaxSubaccounts: addr(5)}
	before := fx.f.state()
	_, err := svc.SetContract(context.Background(), fx.a.ID, in, false, false, []int64{7})
	wantError(t, err, subaccounts.CodePreconditionFailed)
	wantUnchanged(t, before, fx.f.state())
	if _, err := svc.SetContract(context.Background(), fx.a.ID, in, false, false, []int64{7, 1}); err != nil {
		t.Fatalf("SetContract with the current version: %v", err)
	}
}

// TestSetContractValidation: configurations and maxSubaccounts are required and bounded.
func TestSetContractValidation(t *testing.T) {
	cases := []struct {
		name string
		in   tenancy.ContractInput
		want string // a pointer the error names
	}{
		{name: "no configurations", in: tenancy.ContractInput{MaxSubaccounts: addr(1)}, want: "/configurations"},
		{name: "no maxSubaccounts", in: tenancy.ContractInput{Configurations: []policy.Configuration{}}, want: "/maxSubaccounts"},
		{name: "negative maxSubaccounts", in: tenancy.ContractInput{Configurations: []policy.Configuration{}, MaxSubaccounts: addr(-1)}, want: "/maxSubaccounts"},
		{name: "too many maxSubaccounts", in: tenancy.ContractInput{Configurations: []policy.Configuration{}, MaxSubaccounts: addr(subaccounts.MaxMaxSubaccounts + 1)}, want: "/maxSubaccounts"},
		{name: "bad currency", in: tenancy.ContractInput{Configurations: []policy.Configuration{}, MaxSubaccounts: addr(1), Currency: addr("euro")}, want: "/currency"},
		{name: "negative price", in: tenancy.ContractInput{Configurations: []policy.Configuration{}, MaxSubaccounts: addr(1), Pricing: &tenancy.PricingInput{Transaction: addr[int64](-1)}}, want: "/pricing/transaction"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newNarrowingFixture(t)
			before := fx.f.state()
			_, err := tenancy.NewService(fx.f, fx.f, nil).SetContract(context.Background(), fx.a.ID, tc.in, false, true, nil)
			se := wantError(t, err, subaccounts.CodeValidation)
			var found bool
			for _, fe := range se.Fields {
				found = found || fe.Pointer == tc.want
			}
			if !found {
				t.Errorf("fields %+v, want one at %s", se.Fields, tc.want)
			}
			wantUnchanged(t, before, fx.f.state())
		})
	}
}

// TestMaxSubaccounts: lowering maxSubaccounts below the count keeps the subaccounts
// and stops new ones; raising it lets them in again.
func TestMaxSubaccounts(t *testing.T) {
	fx := newNarrowingFixture(t) // three subaccounts
	svc := tenancy.NewService(fx.f, fx.f, nil)
	ctx := context.Background()
	p := subaccounts.Principal{AccountID: fx.a.ID}
	set := func(n int) {
		t.Helper()
		in := tenancy.ContractInput{Configurations: []policy.Configuration{cfg("DEU FRA", "VISA", "MASTERCARD")}, MaxSubaccounts: addr(n)}
		if _, err := svc.SetContract(ctx, fx.a.ID, in, false, false, nil); err != nil {
			t.Fatalf("SetContract(max %d): %v", n, err)
		}
	}
	create := func(name string) error {
		_, err := svc.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: name, Configurations: []policy.Configuration{cfg("FRA", "VISA")}})
		return err
	}
	set(2)
	if n := len(fx.f.state().subs); n != 3 {
		t.Fatalf("%d subaccounts after lowering the maximum, want the 3 kept", n)
	}
	wantError(t, create("fourth"), subaccounts.CodeProvisioning)
	set(4)
	if err := create("fourth"); err != nil {
		t.Fatalf("CreateSubaccount under the maximum: %v", err)
	}
	wantError(t, create("fifth"), subaccounts.CodeProvisioning)
	if n := len(fx.f.state().subs); n != 4 {
		t.Errorf("%d subaccounts, want 4", n)
	}
}

// TestSetContractCurrency: the currency may change until money has moved, not after.
func TestSetContractCurrency(t *testing.T) {
	cases := []struct {
		name        string
		currency    string
		entries     bool
		wantRefused bool
	}{
		{name: "changed before money moved", currency: "USD"},
		{name: "changed after money moved", currency: "USD", entries: true, wantRefused: true},
		{name: "unchanged after money moved", currency: "EUR", entries: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newNarrowingFixture(t)
			if tc.entries {
				fx.f.st.entries = append(fx.f.st.entries, subaccounts.Entry{ID: uuid.New(), AccountID: fx.a.ID, Kind: subaccounts.KindTopUp, Amount: 1})
			}
			in := tenancy.ContractInput{Configurations: []policy.Configuration{cfg("DEU FRA", "VISA", "MASTERCARD")}, MaxSubaccounts: addr(5), Currency: addr(tc.currency)}
			before := fx.f.state()
			change, err := tenancy.NewService(fx.f, fx.f, nil).SetContract(context.Background(), fx.a.ID, in, false, false, nil)
			if tc.wantRefused {
				se := wantError(t, err, subaccounts.CodeConflict)
				if se.Reason() != "currency-in-use" {
					t.Errorf("reason %q, want currency-in-use", se.Reason())
				}
				wantUnchanged(t, before, fx.f.state())
				return
			}
			if err != nil {
				t.Fatalf("SetContract: %v", err)
			}
			if got := fx.f.state().accounts[fx.a.ID].Contract.Currency; got != tc.currency || change.Account.Contract.Currency != tc.currency {
				t.Errorf("currency %s, want %s", got, tc.currency)
			}
		})
	}
}

// TestUpdateSubaccountOutsideContract: a configuration permitting pairs the contract
// does not is refused with those pairs, on create and on update, and nothing changes.
func TestUpdateSubaccountOutsideContract(t *testing.T) {
	fx := newNarrowingFixture(t)
	svc := tenancy.NewService(fx.f, fx.f, nil)
	ctx := context.Background()
	p := subaccounts.Principal{AccountID: fx.a.ID}
	outside := []policy.Configuration{cfg("FRA ITA", "VISA")}
	cases := []struct {
		name   string
		dryRun bool
		call   func() error
	}{
		{name: "update", call: func() error {
			_, err := svc.UpdateSubaccount(ctx, p, fx.fra.ID, tenancy.SubaccountPatch{Configurations: &outside}, false, nil)
			return err
		}},
		{name: "update dry run", call: func() error {
			_, err := svc.UpdateSubaccount(ctx, p, fx.fra.ID, tenancy.SubaccountPatch{Configurations: &outside}, true, nil)
			return err
		}},
		{name: "create", call: func() error {
			_, err := svc.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: "ita", Configurations: outside})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := fx.f.state()
			se := wantError(t, tc.call(), subaccounts.CodePolicy)
			d, ok := se.Detail.(*subaccounts.OutsideContract)
			if !ok {
				t.Fatalf("detail %T, want *subaccounts.OutsideContract", se.Detail)
			}
			if want := []policy.Pair{{Country: "ITA", Network: policy.Visa}}; !reflect.DeepEqual(d.Pairs, want) {
				t.Errorf("outside pairs %v, want %v", d.Pairs, want)
			}
			wantUnchanged(t, before, fx.f.state())
		})
	}
}

// TestUpdateSubaccountConfigurations: a narrower configuration inside the contract
// counts the cards it puts out of policy and re-marks them; a dry run only counts.
func TestUpdateSubaccountConfigurations(t *testing.T) {
	for _, dryRun := range []bool{true, false} {
		name := map[bool]string{true: "dry run", false: "applied"}[dryRun]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := newNarrowingFixture(t)
			svc := tenancy.NewService(fx.f, fx.f, nil)
			visa := []policy.Configuration{cfg("DEU", "VISA")}
			before := fx.f.state()
			out, err := svc.UpdateSubaccount(context.Background(), subaccounts.Principal{AccountID: fx.a.ID}, fx.wide.ID, tenancy.SubaccountPatch{Configurations: &visa}, dryRun, nil)
			if err != nil {
				t.Fatalf("UpdateSubaccount: %v", err)
			}
			if out.CardsPutOutOfPolicy != 2 || !reflect.DeepEqual(out.CardsByPair, []subaccounts.PairCount{{Pair: deuMC, Cards: 2}}) {
				t.Errorf("put out of policy %d %+v, want 2 DEU Mastercard cards", out.CardsPutOutOfPolicy, out.CardsByPair)
			}
			if out.Subaccount.ConfigVersion != 2 {
				t.Errorf("config version %d, want 2", out.Subaccount.ConfigVersion)
			}
			after := fx.f.state()
			if dryRun {
				wantUnchanged(t, before, after)
				return
			}
			if got := after.policyCounts(fx.wide.ID); got[subaccounts.OutOfPolicy] != 3 || got[subaccounts.InPolicy] != 1 {
				t.Errorf("card policy %v, want 3 out of policy (one already was) and 1 in", got)
			}
			if got := after.subs[fx.wide.ID]; got.ConfigVersion != 2 || !reflect.DeepEqual(after.pairs[fx.wide.ID], []policy.Pair{deuVisa}) {
				t.Errorf("stored %+v with rows %v, want DEU on VISA at config version 2", got, after.pairs[fx.wide.ID])
			}
		})
	}
}

// TestDeleteSubaccount: a subaccount holding cards, balance or credit is refused without
// cascade and left as it was; with cascade its cards are removed and its money goes
// back to the primary; an empty one is deleted either way.
func TestDeleteSubaccount(t *testing.T) {
	cases := []struct {
		name        string
		cards       []policy.Pair
		balance     int64
		credit      int64
		cascade     bool
		wantRefused bool
	}{
		{name: "empty", cascade: false},
		{name: "with cards", cards: []policy.Pair{fraVisa}, wantRefused: true},
		{name: "with balance", balance: 30, wantRefused: true},
		{name: "with credit", credit: 40, wantRefused: true},
		{name: "cascade with cards, balance and credit", cards: []policy.Pair{fraVisa, fraMC}, balance: 30, credit: 40, cascade: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			a := f.seedAccount(t, 5, cfg("FRA", "VISA", "MASTERCARD"))
			acc := f.st.accounts[a.ID]
			acc.Balance, acc.CreditLimit, acc.AllocatedCredit = 100, 100, tc.credit
			f.st.accounts[a.ID] = acc
			s := f.seedSub(t, a, "fra", []policy.Configuration{cfg("FRA", "VISA")}, tc.cards...)
			sub := f.st.subs[s.ID]
			sub.UsePrimaryBalance, sub.Balance, sub.CreditLimit = tc.balance == 0 && tc.credit == 0, tc.balance, tc.credit
			f.st.subs[s.ID] = sub
			revoked := 0
			svc := tenancy.NewService(f, f, func() { revoked++ })
			before := f.state()
			err := svc.DeleteSubaccount(context.Background(), subaccounts.Principal{AccountID: a.ID}, s.ID, tc.cascade)
			if tc.wantRefused {
				se := wantError(t, err, subaccounts.CodeConflict)
				if se.Reason() != "subaccount-not-empty" {
					t.Errorf("reason %q, want subaccount-not-empty", se.Reason())
				}
				wantUnchanged(t, before, f.state())
				if revoked != 0 {
					t.Errorf("refused delete revoked clients")
				}
				return
			}
			if err != nil {
				t.Fatalf("DeleteSubaccount: %v", err)
			}
			after := f.state()
			if _, live := after.subs[s.ID]; live {
				t.Errorf("subaccount still live")
			}
			if got := after.policyCounts(s.ID); len(got) != 0 {
				t.Errorf("active cards left %v", got)
			}
			if got := after.accounts[a.ID]; got.Balance != 100+tc.balance || got.AllocatedCredit != 0 {
				t.Errorf("primary balance %d allocated %d, want %d and 0", got.Balance, got.AllocatedCredit, 100+tc.balance)
			}
			if revoked != 1 {
				t.Errorf("clients revoked %d times, want once", revoked)
			}
			last := after.changes[len(after.changes)-1]
			if last.Action != "subaccount.delete" || last.ResourceID != s.ID.String() {
				t.Errorf("last change %+v, want subaccount.delete", last)
			}
		})
	}
}

// TestDeleteSubaccountConfined: a confined client cannot cascade, nor delete another
// subaccount (which it cannot see).
func TestDeleteSubaccountConfined(t *testing.T) {
	fx := newNarrowingFixture(t)
	svc := tenancy.NewService(fx.f, fx.f, nil)
	p := subaccounts.Principal{AccountID: fx.a.ID, SubaccountID: &fx.deu.ID}
	before := fx.f.state()
	wantError(t, svc.DeleteSubaccount(context.Background(), p, fx.deu.ID, true), subaccounts.CodeForbidden)
	if err := svc.DeleteSubaccount(context.Background(), p, fx.fra.ID, false); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("DeleteSubaccount of another subaccount: %v, want not found", err)
	}
	wantUnchanged(t, before, fx.f.state())
}
