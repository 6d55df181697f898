// Package tenancy holds accounts (the tenants), their contracts and their subaccounts:
// it keeps every subaccount inside its account's contract (narrowing them, or refusing,
// when a contract shrinks), answers policy explanations, and deletes subaccounts with
// what they hold. Changes that move money go through the ledger's Book.
//
// It depends on the vocabulary, ledger and policy; cards and routing do not import it,
// and it must not import the store, httpapi or cmd.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Service holds accounts, their contracts and their subaccounts. It is safe for
// concurrent use.
type Service struct {
	store            Store
	rec              subaccounts.Recorder
	onClientsRevoked func()
}

// NewService returns the tenancy service over store; rec receives what its changes record
// beside themselves, and onClientsRevoked (may be nil) runs after a change revoked OAuth2
// clients as a side effect (deleting a subaccount revokes the clients confined to it), so
// a cache of client state can forget at once.
func NewService(store Store, rec subaccounts.Recorder, onClientsRevoked func()) *Service {
	return &Service{store: store, rec: rec, onClientsRevoked: onClientsRevoked}
}

// ContractInput is a requested contract.
type ContractInput struct {
	Configurations []policy.Configuration
	MaxSubaccounts *int
	// Currency defaults to EUR; Pricing to nothing charged.
	Currency *string
	Pricing  *PricingInput
}

// PricingInput is a requested price list; absent prices are 0.
type PricingInput struct {
	CardEnrolment *int64
	Transaction   *int64
}

// DefaultCurrency is the currency of a contract that names none.
const DefaultCurrency = "EUR"

// money reads the currency and pricing of a contract input; cur is what is in force (the
// defaults for a new account).
func (in ContractInput) money(pointer string, cur subaccounts.Contract) (string, subaccounts.Pricing, []subaccounts.FieldError) {
	var errs []subaccounts.FieldError
	currency := cur.Currency
	if in.Currency != nil {
		if !subaccounts.ValidCurrency(*in.Currency) {
			errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/currency", Detail: "must be an ISO 4217 currency code, e.g. EUR"})
		}
		currency = *in.Currency
	}
	pricing := cur.Pricing
	if in.Pricing != nil {
		pricing = subaccounts.Pricing{}
		price := func(name string, v *int64) int64 {
			if v == nil {
				return 0
			}
			if *v < 0 || *v > subaccounts.MaxAmount {
				errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/pricing/" + name, Detail: fmt.Sprintf("must be from 0 to %d minor units", int64(subaccounts.MaxAmount))})
			}
			return *v
		}
		pricing.CardEnrolment = price("cardEnrolment", in.Pricing.CardEnrolment)
		pricing.Transaction = price("transaction", in.Pricing.Transaction)
	}
	return currency, pricing, errs
}

// checkIfMatch refuses a write whose If-Match names none of the current version. A nil
// ifMatch means the request set no precondition.
func checkIfMatch(ifMatch []int64, version int64) error {
	if ifMatch == nil {
		return nil
	}
	for _, v := range ifMatch {
		if v == version {
			return nil
		}
	}
	return subaccounts.Errorf(subaccounts.CodePreconditionFailed, "The resource changed since the version in If-Match; fetch it again and retry.")
}

// compile validates a contract; pointer prefixes the field pointers ("" or "/contract").
// Configurations are required: an absent list must not silently empty a contract.
func (in ContractInput) compile(pointer string) (*policy.Set, []subaccounts.FieldError) {
	set, errs := subaccounts.CompileConfigurations(pointer+"/configurations", in.Configurations)
	if in.Configurations == nil {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/configurations", Detail: "is required (an empty array permits nothing)"})
	}
	switch {
	case in.MaxSubaccounts == nil:
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/maxSubaccounts", Detail: "is required"})
	case *in.MaxSubaccounts < 0 || *in.MaxSubaccounts > subaccounts.MaxMaxSubaccounts:
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/maxSubaccounts", Detail: fmt.Sprintf("must be between 0 and %d", subaccounts.MaxMaxSubaccounts)})
	}
	return set, errs
}

// CreateAccount creates an account with its contract.
func (s *Service) CreateAccount(ctx context.Context, name string, contract ContractInput) (subaccounts.Account, error) {
	name, nameErr := subaccounts.CleanName("/name", name)
	set, errs := contract.compile("/contract")
	if nameErr != nil {
		errs = append([]subaccounts.FieldError{*nameErr}, errs...)
	}
	currency, pricing, merrs := contract.money("/contract", subaccounts.Contract{Currency: DefaultCurrency})
	errs = append(errs, merrs...)
	if len(errs) > 0 {
		return subaccounts.Account{}, subaccounts.Invalid(errs...)
	}
	now := subaccounts.Now()
	a := subaccounts.Account{
		ID:   uuid.Must(uuid.NewV7()),
		Name: name,
		Contract: subaccounts.Contract{
			Configurations: set.Normalize(),
			MaxSubaccounts: *contract.MaxSubaccounts,
			Version:        1,
			Currency:       currency,
			Pricing:        pricing,
		},
		Version:   1,
		CreatedAt: now,
		UpdatedAt: now,
	}
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		if err := s.store.CreateAccount(ctx, a); err != nil {
			return err
		}
		return s.rec.Record(ctx, a.ID, subaccounts.Change{Action: "account.create", ResourceType: "account", ResourceID: a.ID.String(), After: a})
	})
	if err != nil {
		return subaccounts.Account{}, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

// GetAccount returns one account.
func (s *Service) GetAccount(ctx context.Context, id uuid.UUID) (subaccounts.Account, error) {
	return s.store.GetAccount(ctx, id, false)
}

// ListAccounts returns one page of accounts and the id to continue after, if any.
func (s *Service) ListAccounts(ctx context.Context, p subaccounts.Page) ([]subaccounts.Account, *uuid.UUID, error) {
	items, err := s.store.ListAccounts(ctx, subaccounts.Page{Limit: p.Limit + 1, After: p.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list accounts: %w", err)
	}
	items, next := subaccounts.Cut(items, p.Limit, func(a subaccounts.Account) uuid.UUID { return a.ID })
	return items, next, nil
}

// AccountPatch is a partial update of an account; nil fields are left alone.
type AccountPatch struct {
	Name *string
	// CreditLimit is the amount the primary balance may fall below zero, shared with the
	// subaccounts through credit transfers.
	CreditLimit *int64
}

// UpdateAccount applies a patch to an account. ifMatch, when not nil, lists the versions
// the caller's If-Match names.
func (s *Service) UpdateAccount(ctx context.Context, id uuid.UUID, patch AccountPatch, ifMatch []int64) (subaccounts.Account, error) {
	var name string
	var errs []subaccounts.FieldError
	if patch.Name != nil {
		n, fe := subaccounts.CleanName("/name", *patch.Name)
		if fe != nil {
			errs = append(errs, *fe)
		}
		name = n
	}
	if patch.CreditLimit != nil && (*patch.CreditLimit < 0 || *patch.CreditLimit > subaccounts.MaxAmount) {
		errs = append(errs, subaccounts.FieldError{Pointer: "/creditLimit", Detail: fmt.Sprintf("must be from 0 to %d minor units", int64(subaccounts.MaxAmount))})
	}
	if len(errs) > 0 {
		return subaccounts.Account{}, subaccounts.Invalid(errs...)
	}
	var out subaccounts.Account
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAccount(ctx, id, true)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, a.Version); err != nil {
			return err
		}
		before := a
		l := ledger.NewBook(a, subaccounts.Now())
		if patch.Name != nil {
			l.Account().Name = name
		}
		if patch.CreditLimit != nil {
			if err := l.SetCreditLimit(*patch.CreditLimit); err != nil {
				return err
			}
		}
		l.Account().Version++
		l.TouchAccount()
		if err := l.Flush(ctx, s.store, s.rec); err != nil {
			return err
		}
		out = *l.Account()
		return s.rec.Record(ctx, id, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: id.String(), Before: before, After: out})
	})
	if err != nil {
		return subaccounts.Account{}, fmt.Errorf("update account: %w", err)
	}
	return out, nil
}

// cardsPutOut counts, by aggregation in the database, the active cards of a subaccount
// whose pair cur permits and next does not: the cards a change from cur to next puts out
// of policy. Cards already outside cur are not counted again.
func cardsPutOut(ctx context.Context, tx Store, sub subaccounts.Subaccount, cur, next *policy.Set) (int64, []subaccounts.PairCount, error) {
	counts, err := tx.CardPairCounts(ctx, sub.AccountID, sub.ID)
	if err != nil {
		return 0, nil, err
	}
	var total int64
	byPair := []subaccounts.PairCount{}
	for _, c := range counts {
		if cur.Permits(c.Pair.Country, c.Pair.Network) && !next.Permits(c.Pair.Country, c.Pair.Network) {
			total += c.Cards
			byPair = append(byPair, c)
		}
	}
	return total, byPair, nil
}

// ContractChange reports the outcome of SetContract.
type ContractChange struct {
	Account  subaccounts.Account
	DryRun   bool
	Cascade  bool
	Affected []subaccounts.AffectedSubaccount
}

// SetContract replaces an account's contract. Widening always succeeds. Narrowing that
// leaves subaccounts outside the contract is refused with every affected subaccount and
// pair, unless cascade is set, which narrows each of them in the same transaction. A dry
// run reports the same impact and changes nothing. Lowering maxSubaccounts below the
// current count keeps the existing subaccounts and only stops new ones.
func (s *Service) SetContract(ctx context.Context, id uuid.UUID, in ContractInput, dryRun, cascade bool, ifMatch []int64) (ContractChange, error) {
	set, errs := in.compile("")
	// Validate money fields against the defaults first; the values in force are applied
	// inside the transaction.
	_, _, merrs := in.money("", subaccounts.Contract{Currency: DefaultCurrency})
	errs = append(errs, merrs...)
	if len(errs) > 0 {
		return ContractChange{}, subaccounts.Invalid(errs...)
	}
	change := ContractChange{DryRun: dryRun, Cascade: cascade}
	errDryRun := errors.New("dry run")
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAccount(ctx, id, true)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, a.Version); err != nil {
			return err
		}
		before := a
		currency, pricing, _ := in.money("", a.Contract)
		if err := s.checkCurrencyChange(ctx, a, currency); err != nil {
			return err
		}
		toNarrow, affected, err := s.narrowing(ctx, id, set)
		if err != nil {
			return err
		}
		change.Affected = affected
		a.Contract = subaccounts.Contract{Configurations: set.Normalize(), MaxSubaccounts: *in.MaxSubaccounts, Version: a.Contract.Version + 1, Currency: currency, Pricing: pricing}
		a.Version++
		a.UpdatedAt = subaccounts.Now()
		change.Account = a
		if len(toNarrow) > 0 && !cascade && !dryRun {
			return &subaccounts.Error{
				Code:    subaccounts.CodeConflict,
				Message: fmt.Sprintf("The new contract would leave %d subaccount(s) outside it; narrow them first, or use mode=cascade.", len(toNarrow)),
				Detail:  &subaccounts.ContractNarrowing{Affected: change.Affected},
			}
		}
		if dryRun {
			// Returning an error rolls the transaction back; nothing was written anyway.
			return errDryRun
		}
		if err := s.store.UpdateAccount(ctx, a); err != nil {
			return err
		}
		recs := []subaccounts.Change{{Action: "contract.update", ResourceType: "contract", ResourceID: id.String(), Before: before, After: a}}
		narrowed, err := s.narrow(ctx, toNarrow, a.UpdatedAt)
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, id, append(recs, narrowed...)...)
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return ContractChange{}, fmt.Errorf("set contract: %w", err)
	}
	return change, nil
}

// checkCurrencyChange refuses a new currency once the account's journal holds entries.
func (s *Service) checkCurrencyChange(ctx context.Context, a subaccounts.Account, currency string) error {
	if currency == a.Contract.Currency {
		return nil
	}
	used, err := s.store.HasLedgerEntries(ctx, a.ID)
	if err != nil || !used {
		return err
	}
	return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "currency-in-use"}, Message: "The account's journal already holds entries in " + a.Contract.Currency + "; its currency cannot change.",
		Fields: []subaccounts.FieldError{{Pointer: "/currency", Detail: "cannot change once money has moved"}}}
}

// narrowedSubaccount is a subaccount a new contract narrows, and its configuration after.
type narrowedSubaccount struct {
	sub   subaccounts.Subaccount
	after *policy.Set
}

// narrowing finds the subaccounts of the account that permit pairs outside the contract
// set, with what narrowing each would leave and the active cards it would put out of
// policy.
func (s *Service) narrowing(ctx context.Context, accountID uuid.UUID, set *policy.Set) ([]narrowedSubaccount, []subaccounts.AffectedSubaccount, error) {
	subs, err := s.store.AllSubaccounts(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	var toNarrow []narrowedSubaccount
	var affected []subaccounts.AffectedSubaccount
	for _, sub := range subs {
		cur, ferrs := policy.Compile(sub.Configurations)
		if len(ferrs) > 0 {
			return nil, nil, fmt.Errorf("stored configuration of subaccount %s is invalid: %s", sub.ID, ferrs[0].Detail)
		}
		outside := cur.Difference(set)
		if len(outside) == 0 {
			continue
		}
		after := cur.Intersect(set)
		n, byPair, err := cardsPutOut(ctx, s.store, sub, cur, after)
		if err != nil {
			return nil, nil, err
		}
		affected = append(affected, subaccounts.AffectedSubaccount{
			ID: sub.ID, Name: sub.Name, Outside: outside, After: after.Normalize(),
			CardsPutOutOfPolicy: n, CardsByPair: byPair,
		})
		toNarrow = append(toNarrow, narrowedSubaccount{sub: sub, after: after})
	}
	return toNarrow, affected, nil
}

// narrow writes each subaccount's narrowed configuration, recomputes its cards' policy
// status, and returns the changes to record.
func (s *Service) narrow(ctx context.Context, toNarrow []narrowedSubaccount, at time.Time) ([]subaccounts.Change, error) {
	var recs []subaccounts.Change
	for _, n := range toNarrow {
		before := n.sub
		n.sub.Configurations = n.after.Normalize()
		n.sub.ConfigVersion++
		n.sub.Version++
		n.sub.UpdatedAt = at
		if err := s.store.UpdateSubaccount(ctx, n.sub, pairsOrEmpty(n.after)); err != nil {
			return nil, err
		}
		changed, err := s.store.RecomputeCardPolicy(ctx, n.sub.AccountID, n.sub.ID, at)
		if err != nil {
			return nil, err
		}
		recs = append(recs, subaccounts.Change{Action: "subaccount.narrow", ResourceType: "subaccount", ResourceID: n.sub.ID.String(), Before: before, After: n.sub})
		recs = append(recs, policyChanges(changed)...)
	}
	return recs, nil
}

// SubaccountInput is a requested new subaccount.
type SubaccountInput struct {
	Name           string
	Configurations []policy.Configuration
	Metadata       map[string]string
	// UsePrimaryBalance defaults to true.
	UsePrimaryBalance *bool
	AutoTopUp         *subaccounts.AutoTopUp
	MaxCards          *int
}

// MaxMaxCards bounds a subaccount's card quota.
const MaxMaxCards = 100_000_000

// checkCostControls validates the cost-control fields a create or patch sets.
func checkCostControls(autoTopUp *subaccounts.AutoTopUp, maxCards *int) []subaccounts.FieldError {
	var errs []subaccounts.FieldError
	if maxCards != nil && (*maxCards < 0 || *maxCards > MaxMaxCards) {
		errs = append(errs, subaccounts.FieldError{Pointer: "/maxCards", Detail: fmt.Sprintf("must be from 0 (no quota) to %d", MaxMaxCards)})
	}
	if autoTopUp != nil {
		if autoTopUp.Threshold < -subaccounts.MaxAmount || autoTopUp.Threshold > subaccounts.MaxAmount {
			errs = append(errs, subaccounts.FieldError{Pointer: "/autoTopUp/threshold", Detail: fmt.Sprintf("must be from %d to %d minor units", -int64(subaccounts.MaxAmount), int64(subaccounts.MaxAmount))})
		}
		if autoTopUp.Amount < 0 || autoTopUp.Amount > subaccounts.MaxAmount {
			errs = append(errs, subaccounts.FieldError{Pointer: "/autoTopUp/amount", Detail: fmt.Sprintf("must be from 0 (off) to %d minor units", int64(subaccounts.MaxAmount))})
		}
	}
	return errs
}

func autoTopUpNeedsOwnBalance() *subaccounts.Error {
	return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "uses-primary-balance"}, Message: "Auto top-up needs a balance of its own: set usePrimaryAccountBalance to false first.",
		Fields: []subaccounts.FieldError{{Pointer: "/autoTopUp", Detail: "needs usePrimaryAccountBalance false"}}}
}

// CreateSubaccount creates a subaccount inside the caller's account, refusing anything
// the contract does not permit.
func (s *Service) CreateSubaccount(ctx context.Context, p subaccounts.Principal, in SubaccountInput) (subaccounts.Subaccount, error) {
	if p.Confined() {
		return subaccounts.Subaccount{}, subaccounts.Errorf(subaccounts.CodeForbidden, "A client confined to one subaccount cannot create subaccounts.")
	}
	name, nameErr := subaccounts.CleanName("/name", in.Name)
	set, errs := subaccounts.CompileConfigurations("/configurations", in.Configurations)
	if nameErr != nil {
		errs = append([]subaccounts.FieldError{*nameErr}, errs...)
	}
	errs = append(errs, subaccounts.CheckMetadata("/metadata", in.Metadata)...)
	errs = append(errs, checkCostControls(in.AutoTopUp, in.MaxCards)...)
	if len(errs) > 0 {
		return subaccounts.Subaccount{}, subaccounts.Invalid(errs...)
	}
	usePrimary := in.UsePrimaryBalance == nil || *in.UsePrimaryBalance
	if usePrimary && in.AutoTopUp != nil && in.AutoTopUp.Amount > 0 {
		return subaccounts.Subaccount{}, autoTopUpNeedsOwnBalance()
	}
	now := subaccounts.Now()
	sub := subaccounts.Subaccount{
		UsePrimaryBalance: usePrimary,
		Version:           1,
		ID:                uuid.Must(uuid.NewV7()),
		AccountID:         p.AccountID,
		Name:              name,
		Configurations:    set.Normalize(),
		ConfigVersion:     1,
		Metadata:          subaccounts.OrEmpty(in.Metadata),
		CreatedAt:         now,
		UpdatedAt:         now,
	}
	if in.AutoTopUp != nil {
		sub.AutoTopUp = *in.AutoTopUp
	}
	if in.MaxCards != nil {
		sub.MaxCards = *in.MaxCards
	}
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAccount(ctx, p.AccountID, true)
		if err != nil {
			return err
		}
		if err := checkInsideContract(a, set); err != nil {
			return err
		}
		n, err := s.store.CountSubaccounts(ctx, p.AccountID)
		if err != nil {
			return err
		}
		if n >= a.Contract.MaxSubaccounts {
			return subaccounts.Errorf(subaccounts.CodeProvisioning, "Maximum number of subaccounts reached (%d).", a.Contract.MaxSubaccounts)
		}
		if err := s.store.CreateSubaccount(ctx, sub, pairsOrEmpty(set)); err != nil {
			return err
		}
		return s.rec.Record(ctx, p.AccountID, subaccounts.Change{Action: "subaccount.create", ResourceType: "subaccount", ResourceID: sub.ID.String(), After: sub})
	})
	if errors.Is(err, subaccounts.ErrConflict) {
		return subaccounts.Subaccount{}, &subaccounts.Error{Code: subaccounts.CodeConflict, Message: "A subaccount with this name already exists.", Fields: []subaccounts.FieldError{{Pointer: "/name", Detail: "is already used by another subaccount"}}}
	}
	if err != nil {
		return subaccounts.Subaccount{}, fmt.Errorf("create subaccount: %w", err)
	}
	return sub, nil
}

func checkInsideContract(a subaccounts.Account, set *policy.Set) error {
	contract, ferrs := policy.Compile(a.Contract.Configurations)
	if len(ferrs) > 0 {
		return fmt.Errorf("stored contract of account %s is invalid: %s", a.ID, ferrs[0].Detail)
	}
	outside := set.Difference(contract)
	if len(outside) == 0 {
		return nil
	}
	e := &subaccounts.Error{Code: subaccounts.CodePolicy, Message: "The configurations permit pairs outside the account contract.", Detail: &subaccounts.OutsideContract{Pairs: outside}}
	for _, pair := range outside {
		e.Fields = append(e.Fields, subaccounts.FieldError{Pointer: "/configurations", Detail: pair.String() + " is outside the account contract"})
	}
	return e
}

// GetSubaccount returns one subaccount the principal may see.
func (s *Service) GetSubaccount(ctx context.Context, p subaccounts.Principal, id uuid.UUID) (subaccounts.Subaccount, error) {
	if !p.Sees(id) {
		return subaccounts.Subaccount{}, subaccounts.NotFound("subaccount")
	}
	return s.store.GetSubaccount(ctx, p.AccountID, id)
}

// ListSubaccounts returns one page of the subaccounts the principal may see.
func (s *Service) ListSubaccounts(ctx context.Context, p subaccounts.Principal, f subaccounts.SubaccountFilter, page subaccounts.Page) ([]subaccounts.Subaccount, *uuid.UUID, error) {
	var errs []subaccounts.FieldError
	if f.Country != "" && !policy.ValidCountry(f.Country) {
		errs = append(errs, countryParamError(f.Country))
	}
	if f.Network != "" {
		if _, ok := policy.ParseNetwork(f.Network); !ok {
			errs = append(errs, subaccounts.FieldError{Parameter: "network", Detail: "must be VISA or MASTERCARD"})
		}
	}
	if len(errs) > 0 {
		return nil, nil, subaccounts.Invalid(errs...)
	}
	f.Only = p.SubaccountID
	items, err := s.store.ListSubaccounts(ctx, p.AccountID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list subaccounts: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(s subaccounts.Subaccount) uuid.UUID { return s.ID })
	return items, next, nil
}

// SubaccountPatch is a partial update; nil fields are left alone. Metadata, when given,
// replaces the whole map.
type SubaccountPatch struct {
	Name              *string
	Configurations    *[]policy.Configuration
	Metadata          *map[string]string
	Suspended         *bool
	UsePrimaryBalance *bool
	AutoTopUp         *subaccounts.AutoTopUp
	MaxCards          *int
}

// controls reports whether the patch touches what only the account may decide: the
// suspension and the cost controls.
func (p SubaccountPatch) controls() bool {
	return p.Suspended != nil || p.UsePrimaryBalance != nil || p.AutoTopUp != nil || p.MaxCards != nil
}

// SubaccountChange is the outcome of UpdateSubaccount: the subaccount as it is (or, in a
// dry run, would be) and the active cards the change puts out of policy.
type SubaccountChange struct {
	Subaccount          subaccounts.Subaccount
	DryRun              bool
	CardsPutOutOfPolicy int64
	CardsByPair         []subaccounts.PairCount
}

// UpdateSubaccount applies a patch, keeping the subaccount inside the contract. A changed
// configuration re-marks the subaccount's cards in-policy or out-of-policy in the same
// transaction. A dry run reports the same outcome and changes nothing.
func (s *Service) UpdateSubaccount(ctx context.Context, p subaccounts.Principal, id uuid.UUID, patch SubaccountPatch, dryRun bool, ifMatch []int64) (SubaccountChange, error) {
	if !p.Sees(id) {
		return SubaccountChange{}, subaccounts.NotFound("subaccount")
	}
	if p.Confined() && patch.controls() {
		return SubaccountChange{}, subaccounts.Errorf(subaccounts.CodeForbidden, "A client confined to one subaccount cannot suspend it or change its balance settings, auto top-up or card quota.")
	}
	name, set, err := patch.check()
	if err != nil {
		return SubaccountChange{}, err
	}
	out := SubaccountChange{DryRun: dryRun}
	errDryRun := errors.New("dry run")
	err = s.store.Transact(ctx, func(ctx context.Context) error {
		out = SubaccountChange{DryRun: dryRun, CardsByPair: []subaccounts.PairCount{}}
		a, err := s.store.GetAccount(ctx, p.AccountID, true)
		if err != nil {
			return err
		}
		sub, err := s.store.GetSubaccount(ctx, p.AccountID, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, sub.Version); err != nil {
			return err
		}
		if err := subaccounts.ConfinedWrite(p, sub); err != nil {
			return err
		}
		before := sub
		if err := applyCostControls(&sub, patch); err != nil {
			return err
		}
		pairs, err := s.reconfigure(ctx, a, &sub, set, &out)
		if err != nil {
			return err
		}
		patch.apply(&sub, name)
		out.Subaccount = sub
		if dryRun {
			// Nothing was written; returning an error rolls the transaction back.
			return errDryRun
		}
		if err := s.store.UpdateSubaccount(ctx, sub, pairs); err != nil {
			return err
		}
		var changed []subaccounts.Card
		if pairs != nil {
			if changed, err = s.store.RecomputeCardPolicy(ctx, sub.AccountID, sub.ID, sub.UpdatedAt); err != nil {
				return err
			}
		}
		return s.rec.Record(ctx, p.AccountID, append([]subaccounts.Change{{Action: updateAction(before, sub), ResourceType: "subaccount", ResourceID: sub.ID.String(), Before: before, After: sub}}, policyChanges(changed)...)...)
	})
	if errors.Is(err, subaccounts.ErrConflict) {
		return SubaccountChange{}, &subaccounts.Error{Code: subaccounts.CodeConflict, Message: "A subaccount with this name already exists.", Fields: []subaccounts.FieldError{{Pointer: "/name", Detail: "is already used by another subaccount"}}}
	}
	if err != nil && !errors.Is(err, errDryRun) {
		return SubaccountChange{}, fmt.Errorf("update subaccount: %w", err)
	}
	return out, nil
}

// check validates a patch before any transaction: its cost controls, name,
// configurations and metadata.
func (patch SubaccountPatch) check() (string, *policy.Set, error) {
	errs := checkCostControls(patch.AutoTopUp, patch.MaxCards)
	var name string
	if patch.Name != nil {
		n, fe := subaccounts.CleanName("/name", *patch.Name)
		if fe != nil {
			errs = append(errs, *fe)
		}
		name = n
	}
	var set *policy.Set
	if patch.Configurations != nil {
		var ferrs []subaccounts.FieldError
		set, ferrs = subaccounts.CompileConfigurations("/configurations", *patch.Configurations)
		errs = append(errs, ferrs...)
	}
	if patch.Metadata != nil {
		errs = append(errs, subaccounts.CheckMetadata("/metadata", *patch.Metadata)...)
	}
	if len(errs) > 0 {
		return "", nil, subaccounts.Invalid(errs...)
	}
	return name, set, nil
}

// reconfigure applies new configurations set (nil: unchanged) to sub, inside account
// a's contract, counting the active cards the change puts out of policy into out. It
// returns the entitlement rows to write, or nil when the configuration stays as it is.
func (s *Service) reconfigure(ctx context.Context, a subaccounts.Account, sub *subaccounts.Subaccount, set *policy.Set, out *SubaccountChange) ([]policy.Pair, error) {
	if set == nil {
		return nil, nil
	}
	if err := checkInsideContract(a, set); err != nil {
		return nil, err
	}
	normal := set.Normalize()
	if sameConfigurations(normal, sub.Configurations) {
		return nil, nil
	}
	cur, ferrs := policy.Compile(sub.Configurations)
	if len(ferrs) > 0 {
		return nil, fmt.Errorf("stored configuration of subaccount %s is invalid: %s", sub.ID, ferrs[0].Detail)
	}
	var err error
	if out.CardsPutOutOfPolicy, out.CardsByPair, err = cardsPutOut(ctx, s.store, *sub, cur, set); err != nil {
		return nil, err
	}
	sub.Configurations = normal
	sub.ConfigVersion++
	return pairsOrEmpty(set), nil
}

// apply writes the patch's plain fields onto sub and bumps its version.
func (patch SubaccountPatch) apply(sub *subaccounts.Subaccount, name string) {
	if patch.Name != nil {
		sub.Name = name
	}
	if patch.Metadata != nil {
		sub.Metadata = subaccounts.OrEmpty(*patch.Metadata)
	}
	if patch.Suspended != nil {
		sub.Suspended = *patch.Suspended
	}
	sub.Version++
	sub.UpdatedAt = subaccounts.Now()
}

// updateAction names the audited action of an update: a suspension or reactivation, or a
// plain update.
// policyChanges are the side records of cards a reconfiguration moved in or out of
// policy: events for the subaccount's systems; the audit log keeps the reconfiguration.
func policyChanges(cards []subaccounts.Card) []subaccounts.Change {
	out := make([]subaccounts.Change, len(cards))
	for i, c := range cards {
		out[i] = subaccounts.Change{Action: "card.policy-change", ResourceType: "card", ResourceID: c.ID.String(), After: c, Unaudited: true}
	}
	return out
}

func updateAction(before, after subaccounts.Subaccount) string {
	switch {
	case !before.Suspended && after.Suspended:
		return "subaccount.suspend"
	case before.Suspended && !after.Suspended:
		return "subaccount.reactivate"
	}
	return "subaccount.update"
}

// applyCostControls applies the balance settings, auto top-up and quota of a patch.
// Going back to the shared balance is allowed only once the subaccount holds no balance
// and no credit, so no money or credit disappears with the switch.
func applyCostControls(sub *subaccounts.Subaccount, patch SubaccountPatch) error {
	if patch.UsePrimaryBalance != nil && *patch.UsePrimaryBalance != sub.UsePrimaryBalance {
		if *patch.UsePrimaryBalance && (sub.Balance != 0 || sub.CreditLimit != 0) {
			return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "balance-not-zero"}, Message: fmt.Sprintf(
				"The subaccount holds a balance of %d and a credit limit of %d; transfer the balance (balance transfer) and the credit (credit transfer) back to the primary before it shares the primary balance.",
				sub.Balance, sub.CreditLimit),
				Fields: []subaccounts.FieldError{{Pointer: "/usePrimaryAccountBalance", Detail: "needs balance and credit limit 0"}}}
		}
		sub.UsePrimaryBalance = *patch.UsePrimaryBalance
		if sub.UsePrimaryBalance {
			// Auto top-up has nothing to top up on the shared balance.
			sub.AutoTopUp = subaccounts.AutoTopUp{}
			sub.OverLimit = false
		}
	}
	if patch.AutoTopUp != nil {
		if sub.UsePrimaryBalance && patch.AutoTopUp.Amount > 0 {
			return autoTopUpNeedsOwnBalance()
		}
		sub.AutoTopUp = *patch.AutoTopUp
	}
	if patch.MaxCards != nil {
		sub.MaxCards = *patch.MaxCards
	}
	return nil
}

// DeleteSubaccount removes a subaccount from the lists and revokes the clients confined
// to it. Its row stays, so its transactions, transfers and audit events stay explainable.
// It is refused while the subaccount holds active cards, a balance or credit, unless
// cascade is set: then its cards are unenrolled and its balance and credit go back to the
// primary in the same transaction.
func (s *Service) DeleteSubaccount(ctx context.Context, p subaccounts.Principal, id uuid.UUID, cascade bool) error {
	if !p.Sees(id) {
		return subaccounts.NotFound("subaccount")
	}
	if p.Confined() && cascade {
		return subaccounts.Errorf(subaccounts.CodeForbidden, "A client confined to one subaccount cannot delete it with cascade: that moves money and credit back to the primary.")
	}
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAccount(ctx, p.AccountID, true)
		if err != nil {
			return err
		}
		sub, err := s.store.GetSubaccount(ctx, p.AccountID, id)
		if err != nil {
			return err
		}
		if err := subaccounts.ConfinedWrite(p, sub); err != nil {
			return err
		}
		before := sub
		l := ledger.NewBook(a, subaccounts.Now())
		balance, credit := sub.Balance, sub.CreditLimit
		if cascade {
			if err := l.ReturnToPrimary(&sub, "subaccount deleted"); err != nil {
				return err
			}
		}
		// Write the subaccount row first: its row lock waits for enrolments holding a share
		// lock on it, so the count below sees every card they committed. An error rolls
		// everything back.
		l.TouchSubaccount(&sub)
		if err := l.Flush(ctx, s.store, s.rec); err != nil {
			return err
		}
		n, err := s.store.CountActiveCards(ctx, p.AccountID, id)
		if err != nil {
			return err
		}
		if !cascade && (n > 0 || balance != 0 || credit != 0) {
			return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "subaccount-not-empty"}, Message: fmt.Sprintf(
				"The subaccount still holds %d active card(s), a balance of %d and a credit limit of %d; move or remove the cards and transfer the balance and credit back first, or delete with cascade=true.",
				n, balance, credit)}
		}
		recs := make([]subaccounts.Change, 0, len(l.Entries())+2)
		if cascade && n > 0 {
			removed, err := s.store.RemoveSubaccountCards(ctx, p.AccountID, id, l.Now())
			if err != nil {
				return err
			}
			recs = append(recs, subaccounts.Change{Action: "card.remove-all", ResourceType: "subaccount", ResourceID: id.String(),
				After: subaccounts.Facts{"cardsRemoved": removed}, Reference: "subaccount deleted"})
		}
		if err := s.store.DeleteSubaccount(ctx, p.AccountID, id); err != nil {
			return err
		}
		for _, e := range l.Entries() {
			recs = append(recs, subaccounts.Change{Action: string(e.Kind) + ".create", ResourceType: string(e.Kind), ResourceID: e.ID.String(), After: e, Reference: e.Reference})
		}
		recs = append(recs, subaccounts.Change{Action: "subaccount.delete", ResourceType: "subaccount", ResourceID: id.String(), Before: before})
		return s.rec.Record(ctx, p.AccountID, recs...)
	})
	if err != nil {
		return fmt.Errorf("delete subaccount: %w", err)
	}
	if s.onClientsRevoked != nil {
		s.onClientsRevoked()
	}
	return nil
}

// Explain says whether a subaccount permits a pair and why.
func (s *Service) Explain(ctx context.Context, p subaccounts.Principal, id uuid.UUID, country, network string) (policy.Explanation, error) {
	var errs []subaccounts.FieldError
	switch {
	case country == "":
		errs = append(errs, subaccounts.FieldError{Parameter: "country", Detail: "is required: an ISO 3166-1 alpha-3 country code"})
	case !policy.ValidCountry(country):
		errs = append(errs, countryParamError(country))
	}
	nw, ok := policy.ParseNetwork(network)
	if !ok {
		errs = append(errs, subaccounts.FieldError{Parameter: "network", Detail: "is required: VISA or MASTERCARD"})
	}
	if len(errs) > 0 {
		return policy.Explanation{}, subaccounts.Invalid(errs...)
	}
	sub, err := s.GetSubaccount(ctx, p, id)
	if err != nil {
		return policy.Explanation{}, err
	}
	a, err := s.store.GetAccount(ctx, p.AccountID, false)
	if err != nil {
		return policy.Explanation{}, err
	}
	contract, ferrs := policy.Compile(a.Contract.Configurations)
	if len(ferrs) > 0 {
		return policy.Explanation{}, fmt.Errorf("stored contract of account %s is invalid: %s", a.ID, ferrs[0].Detail)
	}
	return policy.Explain(sub.Configurations, contract, country, nw), nil
}

// countryParamError refuses a country query parameter, with a hint when the input looks
// like a code the caller meant ("gb" → "GBR").
func countryParamError(country string) subaccounts.FieldError {
	return subaccounts.FieldError{Parameter: "country", Detail: subaccounts.CountryFieldError("", country).Detail}
}

func pairsOrEmpty(s *policy.Set) []policy.Pair {
	if p := s.Pairs(); p != nil {
		return p
	}
	return []policy.Pair{}
}

func sameConfigurations(a, b []policy.Configuration) bool {
	x, errA := policy.Compile(a)
	y, errB := policy.Compile(b)
	return len(errA) == 0 && len(errB) == 0 && x.Equal(y)
}
