package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

var bookNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// TestBookCharge: a charge debits its payer (the subaccount, or the primary when the
// subaccount shares its balance); a refusable charge stops at the payer's floor and a
// network fee may cross it, marking the payer over limit.
func TestBookCharge(t *testing.T) {
	cases := []struct {
		name          string
		account       subaccounts.Account
		sub           func(a subaccounts.Account) subaccounts.Subaccount
		amount        int64
		refuse        bool
		wantRefused   bool
		wantAccount   int64 // primary balance after
		wantSub       int64 // subaccount balance after
		wantAccOver   bool
		wantSubOver   bool
		wantPayerIsAc bool
	}{
		{
			name: "own balance pays", account: newAccount(1000, 0, 0),
			sub:    func(a subaccounts.Account) subaccounts.Subaccount { return newSub(a, 100, 0) },
			amount: 30, refuse: true, wantAccount: 1000, wantSub: 70,
		},
		{
			name: "own credit down to its floor", account: newAccount(1000, 50, 50),
			sub:    func(a subaccounts.Account) subaccounts.Subaccount { return newSub(a, 10, 50) },
			amount: 60, refuse: true, wantAccount: 1000, wantSub: -50,
		},
		{
			name: "one below the subaccount's floor refused", account: newAccount(1000, 50, 50),
			sub:    func(a subaccounts.Account) subaccounts.Subaccount { return newSub(a, 10, 50) },
			amount: 61, refuse: true, wantRefused: true, wantAccount: 1000, wantSub: 10,
		},
		{
			name: "primary pays a subaccount sharing its balance", account: newAccount(100, 0, 0),
			sub: func(a subaccounts.Account) subaccounts.Subaccount {
				s := newSub(a, 0, 0)
				s.UsePrimaryBalance = true
				return s
			},
			amount: 30, refuse: true, wantAccount: 70, wantPayerIsAc: true,
		},
		{
			// Floor is -(100 - 70) = -30: the allocated credit is not the primary's.
			name: "primary down to its floor", account: newAccount(10, 100, 70),
			sub: func(a subaccounts.Account) subaccounts.Subaccount {
				s := newSub(a, 500, 70)
				s.UsePrimaryBalance = true
				return s
			},
			amount: 40, refuse: true, wantAccount: -30, wantSub: 500, wantPayerIsAc: true,
		},
		{
			name: "one below the primary's floor refused", account: newAccount(10, 100, 70),
			sub: func(a subaccounts.Account) subaccounts.Subaccount {
				s := newSub(a, 500, 70)
				s.UsePrimaryBalance = true
				return s
			},
			amount: 41, refuse: true, wantRefused: true, wantAccount: 10, wantSub: 500,
		},
		{
			name: "network fee crosses the subaccount's floor", account: newAccount(1000, 0, 0),
			sub:    func(a subaccounts.Account) subaccounts.Subaccount { return newSub(a, 10, 0) },
			amount: 25, wantAccount: 1000, wantSub: -15, wantSubOver: true,
		},
		{
			name: "network fee crosses the primary's floor", account: newAccount(10, 0, 0),
			sub: func(a subaccounts.Account) subaccounts.Subaccount {
				s := newSub(a, 0, 0)
				s.UsePrimaryBalance = true
				return s
			},
			amount: 25, wantAccount: -15, wantAccOver: true, wantPayerIsAc: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ledger.NewBook(tc.account, bookNow)
			sub := tc.sub(tc.account)
			card := uuid.Must(uuid.NewV7())
			err := b.Charge(&sub, subaccounts.ChargeCardEnrolment, card, tc.amount, tc.refuse)
			if tc.wantRefused {
				wantRefusal(t, err, subaccounts.CodeInsufficientCredit, "insufficient-credit")
				if len(b.Entries()) != 0 {
					t.Errorf("refused charge journalled %d entries", len(b.Entries()))
				}
			} else if err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if got := b.Account().Balance; got != tc.wantAccount {
				t.Errorf("primary balance %d, want %d", got, tc.wantAccount)
			}
			if sub.Balance != tc.wantSub {
				t.Errorf("subaccount balance %d, want %d", sub.Balance, tc.wantSub)
			}
			if b.Account().OverLimit != tc.wantAccOver || sub.OverLimit != tc.wantSubOver {
				t.Errorf("over limit: primary %v subaccount %v, want %v %v", b.Account().OverLimit, sub.OverLimit, tc.wantAccOver, tc.wantSubOver)
			}
			if tc.wantRefused {
				return
			}
			es := b.Entries()
			if len(es) != 1 {
				t.Fatalf("%d entries, want 1: %+v", len(es), es)
			}
			e := es[0]
			payer := sub.ID.String()
			if tc.wantPayerIsAc {
				payer = tc.account.ID.String()
			}
			if e.Kind != subaccounts.KindCharge || e.Ledger != subaccounts.LedgerBalance || e.From != payer || e.To != subaccounts.PartyRevenue || e.Amount != tc.amount {
				t.Errorf("entry %+v, want a %d charge from %s to revenue", e, tc.amount, payer)
			}
			if e.ChargeType != subaccounts.ChargeCardEnrolment || e.SubjectID == nil || *e.SubjectID != card || e.SubaccountID == nil || *e.SubaccountID != sub.ID {
				t.Errorf("entry %+v: want charge type, subject %s and subaccount %s", e, card, sub.ID)
			}
			if !e.CreatedAt.Equal(bookNow) || e.AccountID != tc.account.ID {
				t.Errorf("entry stamped %v for %s, want %v for %s", e.CreatedAt, e.AccountID, bookNow, tc.account.ID)
			}
		})
	}
}

// TestBookChargeZero: a charge of nothing (a free contract) journals nothing.
func TestBookChargeZero(t *testing.T) {
	a := newAccount(0, 0, 0)
	sub := newSub(a, 0, 0)
	b := ledger.NewBook(a, bookNow)
	if err := b.Charge(&sub, subaccounts.ChargeTransaction, uuid.New(), 0, true); err != nil {
		t.Fatalf("Charge 0: %v", err)
	}
	if len(b.Entries()) != 0 {
		t.Errorf("a free charge journalled %+v", b.Entries())
	}
}

// TestBookAutoTopUp: a charge leaving a subaccount with its own balance below its
// threshold moves the top-up amount from the primary, only when the primary can afford it.
func TestBookAutoTopUp(t *testing.T) {
	cases := []struct {
		name       string
		primary    int64 // primary balance (no primary credit)
		balance    int64 // subaccount balance before the charge
		topUp      subaccounts.AutoTopUp
		shared     bool // UsePrimaryBalance
		amount     int64
		refuse     bool
		wantTopUp  bool
		wantSub    int64
		wantPrim   int64
		wantSubOvr bool
	}{
		{name: "below the threshold", primary: 500, balance: 60, topUp: subaccounts.AutoTopUp{Threshold: 50, Amount: 100}, amount: 20, refuse: true, wantTopUp: true, wantSub: 140, wantPrim: 400},
		{name: "primary exactly affords it", primary: 100, balance: 60, topUp: subaccounts.AutoTopUp{Threshold: 50, Amount: 100}, amount: 20, refuse: true, wantTopUp: true, wantSub: 140, wantPrim: 0},
		{name: "primary cannot afford it", primary: 99, balance: 60, topUp: subaccounts.AutoTopUp{Threshold: 50, Amount: 100}, amount: 20, refuse: true, wantSub: 40, wantPrim: 99},
		{name: "at the threshold is not below it", primary: 500, balance: 70, topUp: subaccounts.AutoTopUp{Threshold: 50, Amount: 100}, amount: 20, refuse: true, wantSub: 50, wantPrim: 500},
		{name: "disabled", primary: 500, balance: 60, topUp: subaccounts.AutoTopUp{Threshold: 50}, amount: 20, refuse: true, wantSub: 40, wantPrim: 500},
		{name: "shared balance never tops up", primary: 500, balance: 0, shared: true, topUp: subaccounts.AutoTopUp{Threshold: 50, Amount: 100}, amount: 20, refuse: true, wantSub: 0, wantPrim: 480},
		{name: "network fee over the limit, topped up back within it", primary: 500, balance: 10, topUp: subaccounts.AutoTopUp{Threshold: 0, Amount: 100}, amount: 25, wantTopUp: true, wantSub: 85, wantPrim: 400},
		{name: "network fee over the limit, primary cannot help", primary: 50, balance: 10, topUp: subaccounts.AutoTopUp{Threshold: 0, Amount: 100}, amount: 25, wantSub: -15, wantPrim: 50, wantSubOvr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAccount(tc.primary, 0, 0)
			sub := newSub(a, tc.balance, 0)
			sub.AutoTopUp, sub.UsePrimaryBalance = tc.topUp, tc.shared
			b := ledger.NewBook(a, bookNow)
			if err := b.Charge(&sub, subaccounts.ChargeTransaction, uuid.New(), tc.amount, tc.refuse); err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if sub.Balance != tc.wantSub || b.Account().Balance != tc.wantPrim {
				t.Errorf("balances: subaccount %d primary %d, want %d %d", sub.Balance, b.Account().Balance, tc.wantSub, tc.wantPrim)
			}
			if sub.OverLimit != tc.wantSubOvr {
				t.Errorf("subaccount over limit %v, want %v", sub.OverLimit, tc.wantSubOvr)
			}
			es := b.Entries()
			var tops []subaccounts.Entry
			for _, e := range es {
				if e.Kind == subaccounts.KindBalanceTransfer {
					tops = append(tops, e)
				}
			}
			if !tc.wantTopUp {
				if len(tops) != 0 {
					t.Errorf("unexpected top-up %+v", tops)
				}
				return
			}
			if len(tops) != 1 {
				t.Fatalf("top-ups %+v, want one", tops)
			}
			e := tops[0]
			if e.From != a.ID.String() || e.To != sub.ID.String() || e.Amount != tc.topUp.Amount || e.Reference != subaccounts.AutoTopUpReference || e.Ledger != subaccounts.LedgerBalance {
				t.Errorf("top-up %+v, want %d from the primary to the subaccount, reference %q", e, tc.topUp.Amount, subaccounts.AutoTopUpReference)
			}
		})
	}
}

// TestBookBlockedByLimit: enrolments stop while the payer of the subaccount's usage is
// over its limit, and only then.
func TestBookBlockedByLimit(t *testing.T) {
	cases := []struct {
		name        string
		accountOver bool
		subOver     bool
		shared      bool
		wantBlocked bool
	}{
		{name: "neither over"},
		{name: "own balance over", subOver: true, wantBlocked: true},
		{name: "primary over, subaccount pays itself", accountOver: true},
		{name: "primary over, subaccount shares it", accountOver: true, shared: true, wantBlocked: true},
		{name: "stale subaccount flag, primary pays", subOver: true, shared: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAccount(0, 0, 0)
			a.OverLimit = tc.accountOver
			sub := newSub(a, 0, 0)
			sub.OverLimit, sub.UsePrimaryBalance = tc.subOver, tc.shared
			err := ledger.NewBook(a, bookNow).BlockedByLimit(&sub)
			if !tc.wantBlocked {
				if err != nil {
					t.Fatalf("BlockedByLimit: %v, want nil", err)
				}
				return
			}
			wantRefusal(t, err, subaccounts.CodeInsufficientCredit, "over-limit")
		})
	}
}

// TestBookSetCreditLimit: the primary's credit limit cannot drop below what is handed
// out or what its balance uses; a change is journalled from or to external.
func TestBookSetCreditLimit(t *testing.T) {
	cases := []struct {
		name       string
		account    subaccounts.Account
		limit      int64
		wantReason string // refusal, or "" for accepted
		wantEntry  bool
		wantFrom   string // "external" or "primary"
		wantAmount int64
	}{
		{name: "raised", account: newAccount(0, 100, 0), limit: 250, wantEntry: true, wantFrom: "external", wantAmount: 150},
		{name: "lowered", account: newAccount(0, 100, 0), limit: 40, wantEntry: true, wantFrom: "primary", wantAmount: 60},
		{name: "unchanged", account: newAccount(0, 100, 0), limit: 100},
		{name: "down to the allocated credit", account: newAccount(0, 100, 60), limit: 60, wantEntry: true, wantFrom: "primary", wantAmount: 40},
		{name: "below the allocated credit", account: newAccount(0, 100, 60), limit: 59, wantReason: "credit-allocated"},
		// Balance -50 with 20 allocated: a limit of 70 leaves a floor of -50.
		{name: "down to what the balance uses", account: newAccount(-50, 100, 20), limit: 70, wantEntry: true, wantFrom: "primary", wantAmount: 30},
		{name: "below what the balance uses", account: newAccount(-50, 100, 20), limit: 69, wantReason: "credit-in-use"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ledger.NewBook(tc.account, bookNow)
			err := b.SetCreditLimit(tc.limit)
			if tc.wantReason != "" {
				wantRefusal(t, err, subaccounts.CodeConflict, tc.wantReason)
				if b.Account().CreditLimit != tc.account.CreditLimit || len(b.Entries()) != 0 {
					t.Errorf("refused change left limit %d and entries %+v", b.Account().CreditLimit, b.Entries())
				}
				return
			}
			if err != nil {
				t.Fatalf("SetCreditLimit: %v", err)
			}
			if b.Account().CreditLimit != tc.limit {
				t.Errorf("limit %d, want %d", b.Account().CreditLimit, tc.limit)
			}
			if !tc.wantEntry {
				if len(b.Entries()) != 0 {
					t.Errorf("unchanged limit journalled %+v", b.Entries())
				}
				return
			}
			if len(b.Entries()) != 1 {
				t.Fatalf("entries %+v, want one", b.Entries())
			}
			e := b.Entries()[0]
			from, to := subaccounts.PartyExternal, tc.account.ID.String()
			if tc.wantFrom == "primary" {
				from, to = to, from
			}
			if e.Kind != subaccounts.KindCreditLimit || e.Ledger != subaccounts.LedgerCredit || e.From != from || e.To != to || e.Amount != tc.wantAmount {
				t.Errorf("entry %+v, want %d of credit from %s to %s", e, tc.wantAmount, from, to)
			}
		})
	}
}

// TestBookReturnToPrimary: a deleted subaccount's balance and credit go back to the
// primary; a debt the primary cannot take within its floor is refused.
func TestBookReturnToPrimary(t *testing.T) {
	cases := []struct {
		name        string
		account     subaccounts.Account
		balance     int64
		credit      int64
		wantRefused bool
		wantBalance int64 // primary balance after
		wantAlloc   int64
		wantEntries int
	}{
		{name: "balance and credit", account: newAccount(100, 500, 200), balance: 70, credit: 200, wantBalance: 170, wantAlloc: 0, wantEntries: 2},
		{name: "empty", account: newAccount(100, 500, 0), wantBalance: 100, wantEntries: 0},
		{name: "debt within its own credit", account: newAccount(0, 500, 200), balance: -150, credit: 200, wantBalance: -150, wantEntries: 2},
		// A net gain for the primary is never refused, even while network fees hold it
		// below its floor.
		{name: "debt within its credit, primary over its limit", account: newAccount(-400, 300, 200), balance: -50, credit: 200, wantBalance: -450, wantEntries: 2},
		// The subaccount is 50 over its limit: a net loss of 50 the primary (floor -100
		// once the credit is back) can take from 60.
		{name: "debt over the limit the primary absorbs", account: newAccount(60, 100, 100), balance: -150, credit: 100, wantBalance: -90, wantEntries: 2},
		{name: "debt over the limit the primary cannot absorb", account: newAccount(0, 100, 100), balance: -150, credit: 100, wantRefused: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub := newSub(tc.account, tc.balance, tc.credit)
			b := ledger.NewBook(tc.account, bookNow)
			err := b.ReturnToPrimary(&sub, "subaccount deleted")
			if tc.wantRefused {
				wantRefusal(t, err, subaccounts.CodeConflict, "primary-cannot-absorb")
				return
			}
			if err != nil {
				t.Fatalf("ReturnToPrimary: %v", err)
			}
			if b.Account().Balance != tc.wantBalance || b.Account().AllocatedCredit != tc.wantAlloc {
				t.Errorf("primary balance %d allocated %d, want %d %d", b.Account().Balance, b.Account().AllocatedCredit, tc.wantBalance, tc.wantAlloc)
			}
			if sub.Balance != 0 || sub.CreditLimit != 0 || sub.OverLimit {
				t.Errorf("subaccount left with %+v", sub)
			}
			if len(b.Entries()) != tc.wantEntries {
				t.Fatalf("entries %+v, want %d", b.Entries(), tc.wantEntries)
			}
			var moved int64
			for _, e := range b.Entries() {
				if e.Reference != "subaccount deleted" || e.SubaccountID == nil || *e.SubaccountID != sub.ID {
					t.Errorf("entry %+v: want the reference and the subaccount", e)
				}
				switch {
				case e.Ledger == subaccounts.LedgerCredit && e.From == sub.ID.String() && e.To == tc.account.ID.String():
					if e.Amount != tc.credit {
						t.Errorf("credit returned %d, want %d", e.Amount, tc.credit)
					}
				case e.Ledger == subaccounts.LedgerBalance && e.From == sub.ID.String():
					moved += e.Amount
				case e.Ledger == subaccounts.LedgerBalance && e.To == sub.ID.String():
					moved -= e.Amount
				default:
					t.Errorf("unexpected entry %+v", e)
				}
			}
			if moved != tc.balance {
				t.Errorf("balance entries move %d to the primary, want %d", moved, tc.balance)
			}
		})
	}
}

// TestBookFlush: Flush writes a dirty account, the dirty subaccounts and only the
// entries not written yet, and records the automatic top-ups for the audit log.
func TestBookFlush(t *testing.T) {
	a := newAccount(1000, 0, 0)
	topped, plain, untouched := newSub(a, 60, 0), newSub(a, 100, 0), newSub(a, 5, 0)
	topped.AutoTopUp = subaccounts.AutoTopUp{Threshold: 50, Amount: 200}
	f := newFakeStore(a, topped, plain, untouched)
	ctx := context.WithValue(context.Background(), txKey{}, 1)

	b := ledger.NewBook(a, bookNow)
	if err := b.Charge(&topped, subaccounts.ChargeTransaction, uuid.New(), 20, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Charge(&plain, subaccounts.ChargeTransaction, uuid.New(), 30, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx, f, f); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	st := f.snapshot()
	if st.account.Balance != 800 || !st.account.UpdatedAt.Equal(bookNow) {
		t.Errorf("account written as %+v, want balance 800 updated at %v", st.account, bookNow)
	}
	if got := st.subs[topped.ID].Balance; got != 240 {
		t.Errorf("topped-up subaccount balance %d, want 240", got)
	}
	if got := st.subs[plain.ID]; got.Balance != 70 || !got.UpdatedAt.Equal(bookNow) {
		t.Errorf("charged subaccount written as %+v, want balance 70 updated at %v", got, bookNow)
	}
	if got := st.subs[untouched.ID]; !got.UpdatedAt.IsZero() {
		t.Errorf("untouched subaccount written: %+v", got)
	}
	if len(st.entries) != 3 {
		t.Fatalf("journal %+v, want two charges and a top-up", st.entries)
	}
	if len(st.changes) != 1 {
		t.Fatalf("recorded %+v, want the one automatic top-up", st.changes)
	}
	c := st.changes[0]
	top, ok := c.After.(subaccounts.Entry)
	if c.Action != "balance-transfer.auto" || c.ResourceType != string(subaccounts.KindBalanceTransfer) || !ok || c.ResourceID != top.ID.String() || top.Reference != subaccounts.AutoTopUpReference || c.Reference != subaccounts.AutoTopUpReference {
		t.Errorf("recorded %+v, want the auto top-up entry", c)
	}

	// A second charge on the same book: only its entry is new, and the account, which
	// it does not touch, is not written again.
	f.restore(fakeState{account: subaccounts.Account{ID: a.ID}, subs: st.subs, entries: st.entries, changes: st.changes})
	if err := b.Charge(&plain, subaccounts.ChargeTransaction, uuid.New(), 5, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx, f, f); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	st2 := f.snapshot()
	if len(st2.entries) != 4 || st2.entries[3].Amount != 5 {
		t.Errorf("journal after the second flush %+v, want the 3 entries and the new charge", st2.entries)
	}
	if st2.account.Balance != 0 || st2.account.Name != "" {
		t.Errorf("account rewritten by a flush that did not touch it: %+v", st2.account)
	}
	if st2.subs[plain.ID].Balance != 65 {
		t.Errorf("subaccount balance %d, want 65", st2.subs[plain.ID].Balance)
	}
	if len(st2.changes) != 1 {
		t.Errorf("recorded %+v, want no new change", st2.changes)
	}

	// Nothing new: nothing written.
	if err := b.Flush(ctx, f, f); err != nil {
		t.Fatalf("third Flush: %v", err)
	}
	if st3 := f.snapshot(); len(st3.entries) != 4 {
		t.Errorf("empty flush wrote entries: %+v", st3.entries)
	}
	if f.outsideTx != 0 {
		t.Errorf("%d writes outside a transaction", f.outsideTx)
	}
}
