package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Usage is what one subaccount used in a window: cards enrolled into it, its active cards
// now, the messages routed to it by currency, and what it was charged.
type Usage struct {
	SubaccountID uuid.UUID
	Name         string
	From, To     time.Time
	Currency     string
	Enrolments   int64
	ActiveCards  int64
	Transactions []subaccounts.CurrencyVolume
	// Charges by type, in the contract currency; TotalUsage is their sum.
	CardEnrolmentCharges int64
	TransactionCharges   int64
	TotalUsage           int64
	// PaidByPrimary says the charges went to the primary balance.
	PaidByPrimary bool
}

// TransactionCount is the number of messages routed to the subaccount in the window.
func (u Usage) TransactionCount() int64 {
	var n int64
	for _, v := range u.Transactions {
		n += v.Count
	}
	return n
}

// usageWindow closes an open window: to defaults to now and from to the start of to's calendar
// month (UTC), the period a partner bills by.
func usageWindow(w subaccounts.Window) (time.Time, time.Time, error) {
	f, t := w.From, w.To
	if t.IsZero() {
		t = subaccounts.Now().Add(time.Millisecond)
	}
	if f.IsZero() {
		last := t.Add(-time.Nanosecond)
		f = time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	if !f.Before(t) {
		return f, t, subaccounts.Invalid(subaccounts.FieldError{Parameter: "to", Detail: "must be later than from"})
	}
	return f, t, nil
}

// SubaccountUsage reports one subaccount's usage in [from, to).
func (s *Service) SubaccountUsage(ctx context.Context, p subaccounts.Principal, id uuid.UUID, w subaccounts.Window) (Usage, error) {
	f, t, err := usageWindow(w)
	if err != nil {
		return Usage{}, err
	}
	if !p.Sees(id) {
		return Usage{}, subaccounts.NotFound("subaccount")
	}
	sub, err := s.store.GetSubaccount(ctx, p.AccountID, id)
	if err != nil {
		return Usage{}, err
	}
	out, err := s.usage(ctx, p.AccountID, []subaccounts.Subaccount{sub}, f, t)
	if err != nil {
		return Usage{}, err
	}
	return out[0], nil
}

// AccountUsage reports the usage of one page of the subaccounts the principal may see,
// one row each.
func (s *Service) AccountUsage(ctx context.Context, p subaccounts.Principal, w subaccounts.Window, page subaccounts.Page) ([]Usage, *uuid.UUID, error) {
	f, t, err := usageWindow(w)
	if err != nil {
		return nil, nil, err
	}
	subs, err := s.store.ListSubaccounts(ctx, p.AccountID, subaccounts.SubaccountFilter{Only: p.SubaccountID}, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list subaccounts: %w", err)
	}
	subs, next := subaccounts.Cut(subs, page.Limit, func(s subaccounts.Subaccount) uuid.UUID { return s.ID })
	out, err := s.usage(ctx, p.AccountID, subs, f, t)
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

func (s *Service) usage(ctx context.Context, accountID uuid.UUID, subs []subaccounts.Subaccount, from, to time.Time) ([]Usage, error) {
	a, err := s.store.GetAccount(ctx, accountID, false)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(subs))
	for i, sub := range subs {
		ids[i] = sub.ID
	}
	counts, err := s.store.Usage(ctx, accountID, ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	out := make([]Usage, len(subs))
	for i, sub := range subs {
		c := counts[i]
		u := Usage{
			SubaccountID: sub.ID, Name: sub.Name, From: from, To: to, Currency: a.Contract.Currency,
			Enrolments: c.Enrolments, ActiveCards: c.ActiveCards, Transactions: c.Transactions,
			CardEnrolmentCharges: c.Charges[subaccounts.ChargeCardEnrolment], TransactionCharges: c.Charges[subaccounts.ChargeTransaction],
			PaidByPrimary: sub.UsePrimaryBalance,
		}
		u.TotalUsage = u.CardEnrolmentCharges + u.TransactionCharges
		out[i] = u
	}
	return out, nil
}

// Reconciliation compares every balance and credit limit of an account with what its
// journal sums to.
type Reconciliation struct {
	// Mismatches name each party whose stored figure differs from the journal.
	Mismatches []string
}

// Reconcile recomputes the account's balances and credit limits from the journal and
// reports every figure that differs from the stored one, including subaccounts deleted
// since (their figures must be zero).
func (s *Service) Reconcile(ctx context.Context, accountID uuid.UUID) (Reconciliation, error) {
	var out Reconciliation
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		out = Reconciliation{}
		a, err := s.store.GetAccount(ctx, accountID, true)
		if err != nil {
			return err
		}
		positions, err := s.store.LedgerPositions(ctx, accountID)
		if err != nil {
			return err
		}
		journal := map[string]map[subaccounts.LedgerName]int64{}
		for _, p := range positions {
			if journal[p.Party] == nil {
				journal[p.Party] = map[subaccounts.LedgerName]int64{}
			}
			journal[p.Party][p.Ledger] = p.Amount
		}
		subs, err := s.store.AllSubaccounts(ctx, accountID)
		if err != nil {
			return err
		}
		var allocated int64
		check := func(party string, ledger subaccounts.LedgerName, stored int64) {
			if got := journal[party][ledger]; got != stored {
				out.Mismatches = append(out.Mismatches, fmt.Sprintf("%s %s: stored %d, journal %d", party, ledger, stored, got))
			}
			delete(journal[party], ledger)
		}
		for _, sub := range subs {
			allocated += sub.CreditLimit
			check(sub.ID.String(), subaccounts.LedgerBalance, sub.Balance)
			check(sub.ID.String(), subaccounts.LedgerCredit, sub.CreditLimit)
		}
		primary := primaryParty(accountID)
		check(primary, subaccounts.LedgerBalance, a.Balance)
		// The primary's credit ledger holds what it has not handed out.
		check(primary, subaccounts.LedgerCredit, a.CreditLimit-a.AllocatedCredit)
		if allocated != a.AllocatedCredit {
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("allocated credit: stored %d, subaccounts hold %d", a.AllocatedCredit, allocated))
		}
		for party, ledgers := range journal {
			if party == subaccounts.PartyExternal || party == subaccounts.PartyRevenue {
				continue
			}
			// Deleted subaccounts: whatever the journal still gives them was not returned.
			for ledger, amount := range ledgers {
				if amount != 0 {
					out.Mismatches = append(out.Mismatches, fmt.Sprintf("%s %s: journal %d on a party with no live row", party, ledger, amount))
				}
			}
		}
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return Reconciliation{}, fmt.Errorf("reconcile: %w", err)
	}
	return out, nil
}
