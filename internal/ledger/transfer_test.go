package ledger_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestTransfer: credit and balance move between the primary and a subaccount in both
// directions within the floors, are journalled once and recorded once; every refusal
// leaves the store as it was.
func TestTransfer(t *testing.T) {
	type side int
	const (
		primary side = iota
		sub
		other // a second subaccount
		unknown
	)
	cases := []struct {
		name     string
		account  subaccounts.Account
		balance  int64 // the subaccount's
		credit   int64
		shared   bool
		kind     subaccounts.EntryKind
		from, to side
		amount   *int64
		// wantCode is the refusal, "" for accepted.
		wantCode   subaccounts.Code
		wantReason string
		wantNotFnd bool
		// after an accepted transfer
		wantPrimary, wantAlloc, wantSubBal, wantSubCredit int64
	}{
		{name: "credit to the subaccount", account: newAccount(0, 1000, 0), kind: subaccounts.KindCreditTransfer, from: primary, to: sub, amount: addr[int64](300),
			wantAlloc: 300, wantSubCredit: 300},
		{name: "all the available credit", account: newAccount(0, 1000, 400), credit: 400, kind: subaccounts.KindCreditTransfer, from: primary, to: sub, amount: addr[int64](600),
			wantAlloc: 1000, wantSubCredit: 1000},
		{name: "credit back to the primary", account: newAccount(0, 1000, 300), credit: 300, kind: subaccounts.KindCreditTransfer, from: sub, to: primary, amount: addr[int64](100),
			wantAlloc: 200, wantSubCredit: 200},
		{name: "credit back down to what the balance uses", account: newAccount(0, 1000, 300), balance: -200, credit: 300, kind: subaccounts.KindCreditTransfer, from: sub, to: primary, amount: addr[int64](100),
			wantAlloc: 200, wantSubBal: -200, wantSubCredit: 200},
		{name: "more credit than the subaccount has", account: newAccount(0, 1000, 300), credit: 300, kind: subaccounts.KindCreditTransfer, from: sub, to: primary, amount: addr[int64](301),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "insufficient-credit-limit"},
		{name: "credit the subaccount's balance uses", account: newAccount(0, 1000, 300), balance: -201, credit: 300, kind: subaccounts.KindCreditTransfer, from: sub, to: primary, amount: addr[int64](100),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "credit-in-use"},
		{name: "more credit than the primary has free", account: newAccount(0, 1000, 400), kind: subaccounts.KindCreditTransfer, from: primary, to: sub, amount: addr[int64](601),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "insufficient-available-credit"},
		{name: "credit the primary's balance uses", account: newAccount(-500, 1000, 0), kind: subaccounts.KindCreditTransfer, from: primary, to: sub, amount: addr[int64](501),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "primary-credit-in-use"},
		{name: "credit the primary's balance leaves free", account: newAccount(-500, 1000, 0), kind: subaccounts.KindCreditTransfer, from: primary, to: sub, amount: addr[int64](500),
			wantPrimary: -500, wantAlloc: 500, wantSubCredit: 500},

		{name: "balance to the subaccount", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](250),
			wantPrimary: 750, wantSubBal: 250},
		{name: "balance to the subaccount down to the primary's floor", account: newAccount(100, 300, 200), credit: 200, kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](200),
			wantPrimary: -100, wantAlloc: 200, wantSubBal: 200, wantSubCredit: 200},
		{name: "balance to the subaccount below the primary's floor", account: newAccount(100, 300, 200), credit: 200, kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](201),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "insufficient-balance"},
		{name: "balance back to the primary on credit", account: newAccount(0, 50, 50), balance: 100, credit: 50, kind: subaccounts.KindBalanceTransfer, from: sub, to: primary, amount: addr[int64](150),
			wantPrimary: 150, wantAlloc: 50, wantSubBal: -50, wantSubCredit: 50},
		{name: "balance back beyond the subaccount's floor", account: newAccount(0, 50, 50), balance: 100, credit: 50, kind: subaccounts.KindBalanceTransfer, from: sub, to: primary, amount: addr[int64](151),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "insufficient-balance"},
		{name: "subaccount balance beyond the maximum", account: newAccount(1000, 0, 0), balance: ledger.MaxBalance - 10, kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](11),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "amount-out-of-range"},
		{name: "primary balance beyond the maximum", account: newAccount(ledger.MaxBalance-10, 0, 0), balance: 1000, kind: subaccounts.KindBalanceTransfer, from: sub, to: primary, amount: addr[int64](11),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "amount-out-of-range"},

		{name: "zero amount", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](0),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "amount-out-of-range"},
		{name: "negative amount", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](-5),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "amount-out-of-range"},
		{name: "amount beyond the maximum", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: primary, to: sub, amount: addr[int64](subaccounts.MaxAmount + 1),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "amount-out-of-range"},
		{name: "no amount", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: primary, to: sub,
			wantCode: subaccounts.CodeValidation},
		{name: "same party", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: sub, to: sub, amount: addr[int64](1),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "same-party"},
		{name: "primary not involved", account: newAccount(1000, 0, 0), kind: subaccounts.KindCreditTransfer, from: sub, to: other, amount: addr[int64](1),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "primary-not-involved"},
		{name: "subaccount uses the primary balance", account: newAccount(1000, 100, 0), shared: true, kind: subaccounts.KindCreditTransfer, from: primary, to: sub, amount: addr[int64](1),
			wantCode: subaccounts.CodeInvalidTransfer, wantReason: "subaccount-uses-primary-balance"},
		{name: "unknown subaccount", account: newAccount(1000, 0, 0), kind: subaccounts.KindBalanceTransfer, from: primary, to: unknown, amount: addr[int64](1),
			wantNotFnd: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSub(tc.account, tc.balance, tc.credit)
			s.UsePrimaryBalance = tc.shared
			o := newSub(tc.account, 0, 0)
			f := newFakeStore(tc.account, s, o)
			id := func(sd side) *string {
				switch sd {
				case primary:
					return addr(tc.account.ID.String())
				case sub:
					return addr(s.ID.String())
				case other:
					return addr(o.ID.String())
				}
				return addr(uuid.NewString())
			}
			before := f.snapshot()
			svc := ledger.NewService(f, f)
			p := subaccounts.Principal{AccountID: tc.account.ID}
			in := ledger.TransferInput{From: id(tc.from), To: id(tc.to), Amount: tc.amount, Reference: addr("invoice 42")}
			e, err := svc.Transfer(context.Background(), p, tc.kind, in)
			if tc.wantCode != "" || tc.wantNotFnd {
				if tc.wantNotFnd {
					if !errors.Is(err, subaccounts.ErrNotFound) {
						t.Fatalf("Transfer: %v, want not found", err)
					}
				} else {
					wantRefusal(t, err, tc.wantCode, tc.wantReason)
				}
				after := f.snapshot()
				if !reflect.DeepEqual(after.account, before.account) || !reflect.DeepEqual(after.subs[s.ID], before.subs[s.ID]) || len(after.entries) != 0 || len(after.changes) != 0 {
					t.Errorf("refused transfer changed the store: account %+v, subaccount %+v, entries %+v, changes %+v", after.account, after.subs[s.ID], after.entries, after.changes)
				}
				return
			}
			if err != nil {
				t.Fatalf("Transfer: %v", err)
			}
			after := f.snapshot()
			a, got := after.account, after.subs[s.ID]
			if a.Balance != tc.wantPrimary || a.AllocatedCredit != tc.wantAlloc || got.Balance != tc.wantSubBal || got.CreditLimit != tc.wantSubCredit {
				t.Errorf("after: primary balance %d allocated %d, subaccount balance %d credit %d; want %d %d %d %d",
					a.Balance, a.AllocatedCredit, got.Balance, got.CreditLimit, tc.wantPrimary, tc.wantAlloc, tc.wantSubBal, tc.wantSubCredit)
			}
			if a.CreditLimit != tc.account.CreditLimit {
				t.Errorf("primary credit limit changed to %d", a.CreditLimit)
			}
			ledgerName := subaccounts.LedgerBalance
			if tc.kind == subaccounts.KindCreditTransfer {
				ledgerName = subaccounts.LedgerCredit
			}
			if e.Kind != tc.kind || e.Ledger != ledgerName || e.From != *id(tc.from) || e.To != *id(tc.to) || e.Amount != *tc.amount ||
				e.Reference != "invoice 42" || e.SubaccountID == nil || *e.SubaccountID != s.ID || e.AccountID != tc.account.ID {
				t.Errorf("entry %+v, want %s of %d on %s from %s to %s", e, tc.kind, *tc.amount, ledgerName, *id(tc.from), *id(tc.to))
			}
			if len(after.entries) != 1 || !reflect.DeepEqual(after.entries[0], e) {
				t.Errorf("journal %+v, want just %+v", after.entries, e)
			}
			if len(after.changes) != 1 {
				t.Fatalf("recorded %+v, want one change", after.changes)
			}
			c := after.changes[0]
			if c.Action != string(tc.kind)+".create" || c.ResourceType != string(tc.kind) || c.ResourceID != e.ID.String() || !reflect.DeepEqual(c.After, e) || c.Reference != "invoice 42" {
				t.Errorf("recorded %+v, want %s.create of entry %s", c, tc.kind, e.ID)
			}
			if f.outsideTx != 0 {
				t.Errorf("%d writes outside a transaction", f.outsideTx)
			}
		})
	}
}

// TestTransferConfined: a client confined to a subaccount moves nothing, not even into
// its own subaccount.
func TestTransferConfined(t *testing.T) {
	a := newAccount(1000, 0, 0)
	s := newSub(a, 0, 0)
	f := newFakeStore(a, s)
	p := subaccounts.Principal{AccountID: a.ID, SubaccountID: &s.ID}
	in := ledger.TransferInput{From: addr(a.ID.String()), To: addr(s.ID.String()), Amount: addr[int64](1), Reference: addr("x")}
	_, err := ledger.NewService(f, f).Transfer(context.Background(), p, subaccounts.KindBalanceTransfer, in)
	wantRefusal(t, err, subaccounts.CodeForbidden, "")
	if st := f.snapshot(); st.account.Balance != 1000 || len(st.entries) != 0 {
		t.Errorf("confined transfer changed the store: %+v", st)
	}
}

// TestTransferValidation: missing or malformed parties and references are reported
// together as field errors.
func TestTransferValidation(t *testing.T) {
	a := newAccount(1000, 0, 0)
	s := newSub(a, 0, 0)
	cases := []struct {
		name string
		in   ledger.TransferInput
		want []string // pointers
	}{
		{name: "nothing", in: ledger.TransferInput{}, want: []string{"/from", "/to", "/reference", "/amount"}},
		{name: "not uuids", in: ledger.TransferInput{From: addr("primary"), To: addr(s.ID.String()[1:]), Amount: addr[int64](1), Reference: addr("r")}, want: []string{"/from", "/to"}},
		{name: "empty reference", in: ledger.TransferInput{From: addr(a.ID.String()), To: addr(s.ID.String()), Amount: addr[int64](1), Reference: addr("")}, want: []string{"/reference"}},
		{name: "card number as reference", in: ledger.TransferInput{From: addr(a.ID.String()), To: addr(s.ID.String()), Amount: addr[int64](1), Reference: addr("4111111111111111")}, want: []string{"/reference"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore(a, s)
			_, err := ledger.NewService(f, f).Transfer(context.Background(), subaccounts.Principal{AccountID: a.ID}, subaccounts.KindBalanceTransfer, tc.in)
			var se *subaccounts.Error
			if !errors.As(err, &se) || se.Code != subaccounts.CodeValidation {
				t.Fatalf("Transfer: %v, want a validation error", err)
			}
			var got []string
			for _, fe := range se.Fields {
				got = append(got, fe.Pointer)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("fields %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
}
