// Package compliance answers the compliance report of an account: that its entitlement
// hierarchy holds (contract ⊇ subaccounts ⊇ active cards) and which routed transactions
// of a window were out of policy. It only reads, by aggregation in the database.
//
// It depends on the vocabulary (internal/subaccounts) and policy alone, and must not
// import the store, httpapi or any other domain package.
package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Limits of the compliance report.
const (
	DefaultComplianceWindow = 24 * time.Hour
	DefaultComplianceSample = 10
	MaxComplianceSample     = 100
)

// SubaccountOutside is a subaccount permitting pairs its account's contract does not.
type SubaccountOutside struct {
	ID      uuid.UUID
	Name    string
	Outside []policy.Pair
}

// ComplianceReport proves (or disproves) that the entitlement hierarchy holds: contract ⊇
// subaccounts ⊇ active cards, and lists the out-of-policy transactions of a window.
type ComplianceReport struct {
	AccountID   uuid.UUID
	CheckedAt   time.Time
	From, To    time.Time
	Subaccounts int
	ActiveCards int64

	SubaccountsOutside      []SubaccountOutside
	CardsOutside            []subaccounts.CardViolation
	TransactionsOutOfPolicy []subaccounts.TransactionViolation
}

// Compliant reports whether the report found no violation at all.
func (r ComplianceReport) Compliant() bool {
	return len(r.SubaccountsOutside) == 0 && len(r.CardsOutside) == 0 && len(r.TransactionsOutOfPolicy) == 0
}

// CardsOutsideCount is the number of active cards outside their subaccount's configuration.
func (r ComplianceReport) CardsOutsideCount() int64 {
	var n int64
	for _, v := range r.CardsOutside {
		n += v.Cards
	}
	return n
}

// TransactionsOutOfPolicyCount is the number of out-of-policy transactions in the window.
func (r ComplianceReport) TransactionsOutOfPolicyCount() int64 {
	var n int64
	for _, v := range r.TransactionsOutOfPolicy {
		n += v.Transactions
	}
	return n
}

// ComplianceQuery is a requested report, as received.
type ComplianceQuery struct {
	subaccounts.Window
	// Sample is how many card ids to list per group; nil for the default.
	Sample *int
}

// Compliance checks the principal's account. Clients confined to one subaccount may not
// ask: the report is about the whole hierarchy.
func (s *Service) Compliance(ctx context.Context, p subaccounts.Principal, q ComplianceQuery) (ComplianceReport, error) {
	if p.Confined() {
		return ComplianceReport{}, subaccounts.Errorf(subaccounts.CodeForbidden, "A client confined to one subaccount cannot check the account's compliance.")
	}
	return s.AccountCompliance(ctx, p.AccountID, q)
}

// AccountCompliance checks one account (the operator's view). Every count is an
// aggregation in the database; nothing here loops over cards.
func (s *Service) AccountCompliance(ctx context.Context, accountID uuid.UUID, q ComplianceQuery) (ComplianceReport, error) {
	now := subaccounts.Now()
	from, to := q.From, q.To
	var errs []subaccounts.FieldError
	sample := DefaultComplianceSample
	if q.Sample != nil {
		if *q.Sample < 0 || *q.Sample > MaxComplianceSample {
			errs = append(errs, subaccounts.FieldError{Parameter: "sample", Detail: fmt.Sprintf("must be from 0 to %d", MaxComplianceSample)})
		}
		sample = *q.Sample
	}
	if len(errs) > 0 {
		return ComplianceReport{}, subaccounts.Invalid(errs...)
	}
	switch {
	case to.IsZero() && from.IsZero():
		to, from = now, now.Add(-DefaultComplianceWindow)
	case to.IsZero():
		to = now
		if !from.Before(to) {
			return ComplianceReport{}, subaccounts.Invalid(subaccounts.FieldError{Parameter: "from", Detail: "must be earlier than now when to is not given"})
		}
	case from.IsZero():
		from = to.Add(-DefaultComplianceWindow)
	}
	a, err := s.store.GetAccount(ctx, accountID, false)
	if err != nil {
		return ComplianceReport{}, err
	}
	contract, ferrs := policy.Compile(a.Contract.Configurations)
	if len(ferrs) > 0 {
		return ComplianceReport{}, fmt.Errorf("stored contract of account %s is invalid: %s", a.ID, ferrs[0].Detail)
	}
	r := ComplianceReport{AccountID: accountID, CheckedAt: now, From: from, To: to}

	if r.Subaccounts, err = s.store.CountSubaccounts(ctx, accountID); err != nil {
		return ComplianceReport{}, fmt.Errorf("compliance: %w", err)
	}

	// Contract ⊇ subaccounts: the distinct permitted pairs (at most 498) against the contract.
	pairs, err := s.store.EntitledPairs(ctx, accountID)
	if err != nil {
		return ComplianceReport{}, fmt.Errorf("compliance: %w", err)
	}
	var outside []policy.Pair
	for _, pr := range pairs {
		if !contract.Permits(pr.Country, pr.Network) {
			outside = append(outside, pr)
		}
	}
	if len(outside) > 0 {
		holders, err := s.store.SubaccountsPermitting(ctx, accountID, outside)
		if err != nil {
			return ComplianceReport{}, fmt.Errorf("compliance: %w", err)
		}
		index := map[uuid.UUID]int{}
		for _, h := range holders {
			i, ok := index[h.SubaccountID]
			if !ok {
				sub, err := s.store.GetSubaccount(ctx, accountID, h.SubaccountID)
				if err != nil {
					return ComplianceReport{}, fmt.Errorf("compliance: %w", err)
				}
				i = len(r.SubaccountsOutside)
				index[h.SubaccountID] = i
				r.SubaccountsOutside = append(r.SubaccountsOutside, SubaccountOutside{ID: sub.ID, Name: sub.Name})
			}
			r.SubaccountsOutside[i].Outside = append(r.SubaccountsOutside[i].Outside, h.Pair)
		}
		for i := range r.SubaccountsOutside {
			set := &policy.Set{}
			for _, pr := range r.SubaccountsOutside[i].Outside {
				set.Add(pr)
			}
			r.SubaccountsOutside[i].Outside = set.Pairs()
		}
	}

	// Subaccounts ⊇ active cards.
	if r.CardsOutside, r.ActiveCards, err = s.store.CardsOutsideConfiguration(ctx, accountID, sample); err != nil {
		return ComplianceReport{}, fmt.Errorf("compliance: %w", err)
	}
	if r.TransactionsOutOfPolicy, err = s.store.OutOfPolicyTransactions(ctx, accountID, from, to); err != nil {
		return ComplianceReport{}, fmt.Errorf("compliance: %w", err)
	}
	return r, nil
}

// Service answers the compliance report: it only reads.
type Service struct{ store Store }

// NewService returns the compliance report's service over store.
func NewService(store Store) *Service { return &Service{store: store} }
