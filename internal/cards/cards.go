// Package cards enrols cards into subaccounts where their configuration permits them,
// and lists, moves and removes them. A card number exists only in memory while its
// request is handled: it is fingerprinted (per account, under every configured master
// key version) and dropped. Enrolment charges through the ledger's Book and records
// through the Recorder, in the enrolment's own transaction.
//
// It depends on the vocabulary, ledger, pan and policy; routing and tenancy never import
// it, and it must not import the store, httpapi or cmd.
package cards

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/groupcommit"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Limits of card enrolment.
const (
	MaxCardBatch = 500
	// maxExpiryYears bounds how far ahead an expiry may lie; real cards are issued for at
	// most a few years, and a far-future year is a typing error.
	maxExpiryYears = 20
)

// CardInput is one requested enrolment. Number holds the PAN only while the request is
// handled; it is parsed, fingerprinted and dropped.
type CardInput struct {
	Number      *string
	ExpMonth    *int
	ExpYear     *int
	CountryCode *string
	TermsOfUse  *bool
	Metadata    map[string]string
	// Malformed holds what made a batch item unreadable (a number instead of an object,
	// say), with pointers relative to the item: the item is refused with them, alone.
	Malformed []subaccounts.FieldError
}

// checkedCard is an enrolment that passed validation: the card to store, without the PAN.
type checkedCard struct {
	card subaccounts.Card
	// older are the PAN's fingerprints under older master key versions still configured:
	// a card enrolled before a rotation holds one of them, and the unique index on the
	// current fingerprint cannot see it.
	older [][]byte
}

// checkCard validates one enrolment; pointer prefixes the field pointers.
func (s *Service) checkCard(p subaccounts.Principal, subaccountID uuid.UUID, pointer string, in CardInput, now time.Time) (checkedCard, []subaccounts.FieldError) {
	if len(in.Malformed) > 0 {
		return checkedCard{}, subaccounts.PrefixFields(pointer, in.Malformed)
	}
	var errs []subaccounts.FieldError
	var num pan.Number
	if in.Number == nil {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/number", Detail: "is required"})
	} else if n, err := pan.Parse(*in.Number); err != nil {
		// pan errors never contain the number.
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/number", Detail: err.Error()})
	} else {
		num = n
	}
	errs = append(errs, checkExpiry(pointer, in.ExpMonth, in.ExpYear, now)...)
	country := ""
	switch {
	case in.CountryCode == nil:
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/countryCode", Detail: "is required: the issuing country as an ISO 3166-1 alpha-3 code"})
	case !policy.ValidCountry(*in.CountryCode):
		errs = append(errs, subaccounts.CountryFieldError(pointer+"/countryCode", *in.CountryCode))
	default:
		country = *in.CountryCode
	}
	switch {
	case in.TermsOfUse == nil:
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/termsOfUse", Detail: "is required and must be true"})
	case !*in.TermsOfUse:
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/termsOfUse", Detail: "must be true: the card holder must accept the terms of use"})
	}
	errs = append(errs, subaccounts.CheckMetadata(pointer+"/metadata", in.Metadata)...)
	if len(errs) > 0 {
		return checkedCard{}, errs
	}
	card := subaccounts.Card{
		ID:                    uuid.Must(uuid.NewV7()),
		AccountID:             p.AccountID,
		SubaccountID:          subaccountID,
		Network:               num.Network(),
		CountryCode:           country,
		FirstNumbers:          num.First6(),
		LastNumbers:           num.Last4(),
		ExpMonth:              *in.ExpMonth,
		ExpYear:               *in.ExpYear,
		Fingerprint:           s.prints.Current().Fingerprint(p.AccountID, num),
		FingerprintKeyVersion: s.prints.Current().Version(),
		Status:                subaccounts.CardActive,
		PolicyStatus:          subaccounts.InPolicy,
		Metadata:              subaccounts.OrEmpty(in.Metadata),
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	return checkedCard{card: card, older: s.prints.Older(p.AccountID, num)}, nil
}

// checkExpiry accepts a card through the last day of its expiry month.
func checkExpiry(pointer string, month, year *int, now time.Time) []subaccounts.FieldError {
	var errs []subaccounts.FieldError
	if month == nil {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/expMonth", Detail: "is required"})
	} else if *month < 1 || *month > 12 {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/expMonth", Detail: "must be from 1 to 12"})
	}
	maxYear := now.Year() + maxExpiryYears
	if year == nil {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/expYear", Detail: "is required"})
	} else if *year < 2000 || *year > maxYear {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/expYear", Detail: fmt.Sprintf("must be a four-digit year no later than %d", maxYear)})
	}
	if len(errs) > 0 {
		return errs
	}
	if *year < now.Year() || (*year == now.Year() && *month < int(now.Month())) {
		errs = append(errs, subaccounts.FieldError{Pointer: pointer + "/expYear", Detail: fmt.Sprintf("the card expired at the end of %02d/%d", *month, *year)})
	}
	return errs
}

// decideCard is the policy decision for a card entering subaccount sub.
func decideCard(sub subaccounts.Subaccount, pair policy.Pair) error {
	if sub.Suspended {
		return subaccounts.Errorf(subaccounts.CodeSuspended, "The subaccount is suspended: it accepts no enrolments or moves until it is reactivated.")
	}
	set, ferrs := policy.Compile(sub.Configurations)
	if len(ferrs) > 0 {
		return fmt.Errorf("stored configuration of subaccount %s is invalid: %s", sub.ID, ferrs[0].Detail)
	}
	if set.Permits(pair.Country, pair.Network) {
		return nil
	}
	return &subaccounts.Error{
		Code:    subaccounts.CodePolicy,
		Message: fmt.Sprintf("The subaccount does not permit cards issued in %s.", pair),
		Detail:  &subaccounts.CardRefused{Pair: pair, Permitted: sub.Configurations},
	}
}

func cardExists(id uuid.UUID) error {
	return &subaccounts.Error{Code: subaccounts.CodeCardExists, Message: "This card is already enrolled in the account.", Detail: &subaccounts.CardExists{CardID: id}}
}

// errNeedAccountLock restarts an enrolment that found it must hold the account lock (a
// card quota to count) but had not taken it: locks are always taken account first.
var errNeedAccountLock = errors.New("enrolment needs the account lock")

// cardTarget is what an enrolment into a subaccount decides on: the account (pricing,
// the primary balance) and the subaccount, share-locked.
type cardTarget struct {
	account subaccounts.Account
	sub     subaccounts.Subaccount
	// locked says the account row is locked, as charging and quota counting need.
	locked bool
}

// lockCardTarget reads the account and share-locks the subaccount. The account row is
// locked too, first, when enrolments are charged or lockAccount is set, so the balance
// and the quota count cannot change under the decision.
func lockCardTarget(ctx context.Context, tx Store, accountID, subID uuid.UUID, lockAccount bool) (cardTarget, error) {
	a, err := tx.GetAccount(ctx, accountID, false)
	if err != nil {
		return cardTarget{}, err
	}
	locked := lockAccount || a.Contract.Pricing.CardEnrolment > 0
	if locked {
		if a, err = tx.GetAccount(ctx, accountID, true); err != nil {
			return cardTarget{}, err
		}
	}
	sub, err := tx.ShareSubaccount(ctx, accountID, subID)
	if err != nil {
		return cardTarget{}, err
	}
	if sub.MaxCards > 0 && !locked {
		return cardTarget{}, errNeedAccountLock
	}
	return cardTarget{account: a, sub: sub, locked: locked}, nil
}

// withCardTarget runs fn in a transaction over the locked target, taking the account lock
// from the start when the first attempt found a quota to count.
func (s *Service) withCardTarget(ctx context.Context, accountID, subID uuid.UUID, fn func(ctx context.Context, t cardTarget) error) error {
	lockAccount := false
	for {
		err := s.store.Transact(ctx, func(ctx context.Context) error {
			t, err := lockCardTarget(ctx, s.store, accountID, subID, lockAccount)
			if err != nil {
				return err
			}
			return fn(ctx, t)
		})
		if errors.Is(err, errNeedAccountLock) && !lockAccount {
			lockAccount = true
			continue
		}
		return err
	}
}

// quotaLeft is how many more active cards sub may take; -1 means no quota.
func quotaLeft(ctx context.Context, tx Store, sub subaccounts.Subaccount) (int64, error) {
	if sub.MaxCards == 0 {
		return -1, nil
	}
	n, err := tx.CountActiveCards(ctx, sub.AccountID, sub.ID)
	if err != nil {
		return 0, err
	}
	return max(int64(sub.MaxCards)-n, 0), nil
}

func quotaExceeded(sub subaccounts.Subaccount) error {
	return &subaccounts.Error{Code: subaccounts.CodeQuotaExceeded, Detail: &subaccounts.Refusal{Reason: "max-cards"}, Message: fmt.Sprintf("The subaccount holds its maximum of %d active card(s).", sub.MaxCards)}
}

// EnrolCard enrols one card into a subaccount the principal may see, charging the
// contract's enrolment price in the same transaction.
func (s *Service) EnrolCard(ctx context.Context, p subaccounts.Principal, subaccountID uuid.UUID, in CardInput) (subaccounts.Card, error) {
	card, err := s.enrolCard(ctx, p, subaccountID, in)
	s.observed(err, 1)
	return card, err
}

func (s *Service) enrolCard(ctx context.Context, p subaccounts.Principal, subaccountID uuid.UUID, in CardInput) (subaccounts.Card, error) {
	if !p.Sees(subaccountID) {
		return subaccounts.Card{}, subaccounts.NotFound("subaccount")
	}
	checked, errs := s.checkCard(p, subaccountID, "", in, subaccounts.Now())
	if len(errs) > 0 {
		return subaccounts.Card{}, subaccounts.Invalid(errs...)
	}
	card := checked.card
	var err error
	if s.committer == nil || s.store.InTransaction(ctx) {
		// The request's own transaction (an idempotent one) must hold the card.
		err = s.enrolFast(ctx, p, subaccountID, checked)
	} else {
		err = s.submitEnrolment(ctx, p, subaccountID, checked)
	}
	if errors.Is(err, errNeedAccountLock) {
		err = s.withCardTarget(ctx, p.AccountID, subaccountID, func(ctx context.Context, t cardTarget) error {
			return s.enrolInto(ctx, p, t, checked)
		})
	}
	if err != nil {
		return subaccounts.Card{}, fmt.Errorf("enrol card: %w", err)
	}
	return card, nil
}

// enrolFast enrols in the store's group transaction (on PostgreSQL three round trips:
// the reads with the BEGIN, the insert, the side records with the COMMIT). An
// enrolment that charges or counts a quota needs the account's row lock first and
// answers errNeedAccountLock, for withCardTarget's transaction.
func (s *Service) enrolFast(ctx context.Context, p subaccounts.Principal, subaccountID uuid.UUID, checked checkedCard) error {
	return s.store.TransactGroup(ctx, func(ctx context.Context) error {
		a, sub, err := s.store.LoadEnrolment(ctx, p.AccountID, subaccountID)
		if err != nil {
			return err
		}
		if a.Contract.Pricing.CardEnrolment > 0 || sub.MaxCards > 0 {
			return errNeedAccountLock
		}
		return s.enrolInto(ctx, p, cardTarget{account: a, sub: sub}, checked)
	})
}

// enrolInto decides and writes one enrolment into t, in the caller's transaction.
func (s *Service) enrolInto(ctx context.Context, p subaccounts.Principal, t cardTarget, checked checkedCard) error {
	card := checked.card
	sub := t.sub
	if err := decideCard(sub, card.Pair()); err != nil {
		return err
	}
	l := ledger.NewBook(t.account, card.CreatedAt)
	if err := l.BlockedByLimit(&sub); err != nil {
		return err
	}
	left, err := quotaLeft(ctx, s.store, sub)
	if err != nil {
		return err
	}
	if left == 0 {
		return quotaExceeded(sub)
	}
	if err := l.Charge(&sub, subaccounts.ChargeCardEnrolment, card.ID, t.account.Contract.Pricing.CardEnrolment, true); err != nil {
		return err
	}
	if len(checked.older) > 0 {
		existing, err := s.store.ActiveCardsByFingerprint(ctx, p.AccountID, checked.older)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return cardExists(existing[0].ID)
		}
	}
	ids, err := s.store.CreateCards(ctx, []subaccounts.Card{card})
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		if err := l.Flush(ctx, s.store, s.rec); err != nil {
			return err
		}
		return s.rec.Record(ctx, p.AccountID, cardRecord("card.enrol", nil, &card))
	}
	existing, err := s.store.ActiveCardsByFingerprint(ctx, p.AccountID, [][]byte{card.Fingerprint})
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		// The holder was removed between the insert and the look-up; try again.
		return fmt.Errorf("%w: enrolment raced a removal", subaccounts.ErrConflict)
	}
	return cardExists(existing[0].ID)
}

// CardOutcome is the result of one item of a batch enrolment: a card or an error.
type CardOutcome struct {
	Card *subaccounts.Card
	Err  error
}

// EnrolCards enrols up to MaxCardBatch cards into one subaccount in one database
// transaction, with one outcome per item. Items fail on their own (invalid, outside the
// configuration, already enrolled); the batch fails as a whole only when the subaccount
// is unknown or suspended.
func (s *Service) EnrolCards(ctx context.Context, p subaccounts.Principal, subaccountID uuid.UUID, items []CardInput) ([]CardOutcome, error) {
	if !p.Sees(subaccountID) {
		return nil, subaccounts.NotFound("subaccount")
	}
	if len(items) == 0 || len(items) > MaxCardBatch {
		return nil, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/cards", Detail: fmt.Sprintf("must hold 1 to %d cards", MaxCardBatch)})
	}
	b := s.checkBatch(p, subaccountID, items)
	err := s.withCardTarget(ctx, p.AccountID, subaccountID, func(ctx context.Context, t cardTarget) error {
		sub := t.sub
		if sub.Suspended {
			return decideCard(sub, policy.Pair{})
		}
		book := ledger.NewBook(t.account, b.now)
		if err := book.BlockedByLimit(&sub); err != nil {
			return err
		}
		// How many new cards the quota leaves room for; items past it are refused on
		// their own.
		left, err := quotaLeft(ctx, s.store, sub)
		if err != nil {
			return err
		}
		held, err := b.held(ctx, s.store, p.AccountID)
		if err != nil {
			return err
		}
		if err := b.decide(sub, *book.Account(), left, held); err != nil {
			return err
		}
		if err := b.insertAndCharge(ctx, s, p.AccountID, book, &sub); err != nil {
			return err
		}
		return b.answer(ctx, s.store, p.AccountID)
	})
	if err != nil {
		s.observed(err, len(items))
		return nil, fmt.Errorf("enrol cards: %w", err)
	}
	for _, o := range b.out {
		s.observed(o.Err, 1)
	}
	return b.out, nil
}

// enrolBatch is one batch enrolment as EnrolCards's steps work on it.
type enrolBatch struct {
	now     time.Time
	out     []CardOutcome
	invalid []error
	checked []*subaccounts.Card
	// current maps each item's fingerprints under older key versions to its current one,
	// so a holder enrolled before a rotation is recognised as the item's card.
	current map[string][]byte
	// toInsert are the cards decided to be new; dupOf marks items repeating an earlier
	// item's card number; inserted are the ids the store wrote.
	toInsert []subaccounts.Card
	dupOf    map[int]bool
	inserted map[uuid.UUID]bool
}

// checkBatch validates every item, outside any transaction.
func (s *Service) checkBatch(p subaccounts.Principal, subaccountID uuid.UUID, items []CardInput) *enrolBatch {
	b := &enrolBatch{
		now: subaccounts.Now(), out: make([]CardOutcome, len(items)), invalid: make([]error, len(items)),
		checked: make([]*subaccounts.Card, len(items)), current: map[string][]byte{},
	}
	for i, in := range items {
		c, errs := s.checkCard(p, subaccountID, fmt.Sprintf("/cards/%d", i), in, b.now)
		if len(errs) > 0 {
			b.invalid[i] = subaccounts.Invalid(errs...)
			continue
		}
		b.checked[i] = &c.card
		for _, fp := range c.older {
			b.current[string(fp)] = c.card.Fingerprint
		}
	}
	return b
}

// held returns the cards the account already holds among the batch's card numbers, by
// their current fingerprint.
func (b *enrolBatch) held(ctx context.Context, st Store, accountID uuid.UUID) (map[string]uuid.UUID, error) {
	var fps [][]byte
	for _, c := range b.checked {
		if c != nil {
			fps = append(fps, c.Fingerprint)
		}
	}
	for fp := range b.current {
		fps = append(fps, []byte(fp))
	}
	held := map[string]uuid.UUID{}
	if len(fps) == 0 {
		return held, nil
	}
	existing, err := st.ActiveCardsByFingerprint(ctx, accountID, fps)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		fp := e.Fingerprint
		if cur, ok := b.current[string(fp)]; ok {
			fp = cur
		}
		held[string(fp)] = e.ID
	}
	return held, nil
}

// decide gives each valid item its fate: refused by policy, a repeat of an earlier item,
// past the quota, unaffordable, already enrolled, or new. Each new item is charged first
// on a copy of the balances, auto top-ups included, exactly as the single-card route
// would charge it after the items before it; cards the account already holds are
// refused as card-exists once the quota and credit checks pass, as the single-card route
// refuses them, and take no room.
func (b *enrolBatch) decide(sub subaccounts.Subaccount, account subaccounts.Account, left int64, held map[string]uuid.UUID) error {
	price := account.Contract.Pricing.CardEnrolment
	simAccount, simSub := account, sub
	b.toInsert, b.dupOf = nil, map[int]bool{}
	seen := map[string]bool{} // fingerprints already taken by an item of this batch
	for i, c := range b.checked {
		// Transact may run this again: start each attempt from the validation outcome.
		b.out[i] = CardOutcome{Err: b.invalid[i]}
		if c == nil {
			continue
		}
		if err := decideCard(sub, c.Pair()); err != nil {
			var de *subaccounts.Error
			if !errors.As(err, &de) {
				return err
			}
			b.out[i].Err = err
			continue
		}
		if seen[string(c.Fingerprint)] {
			b.dupOf[i] = true
			continue
		}
		if left >= 0 && int64(len(b.toInsert)) >= left {
			b.out[i].Err = quotaExceeded(sub)
			continue
		}
		trial, trialSub := ledger.NewBook(simAccount, b.now), simSub
		if err := trial.Charge(&trialSub, subaccounts.ChargeCardEnrolment, c.ID, price, true); err != nil {
			b.out[i].Err = err
			continue
		}
		if holder, ok := held[string(c.Fingerprint)]; ok {
			b.out[i].Err = cardExists(holder)
			continue
		}
		simAccount, simSub = *trial.Account(), trialSub
		seen[string(c.Fingerprint)] = true
		b.toInsert = append(b.toInsert, *c)
	}
	return nil
}

// insertAndCharge inserts the new cards, charges the enrolment fee of each one the store
// wrote, and records them.
func (b *enrolBatch) insertAndCharge(ctx context.Context, s *Service, accountID uuid.UUID, book *ledger.Book, sub *subaccounts.Subaccount) error {
	ids, err := s.store.CreateCards(ctx, b.toInsert)
	if err != nil {
		return err
	}
	b.inserted = make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		b.inserted[id] = true
	}
	price := book.Account().Contract.Pricing.CardEnrolment
	var recs []subaccounts.Change
	for i := range b.toInsert {
		c := &b.toInsert[i]
		if !b.inserted[c.ID] {
			continue
		}
		if err := book.Charge(sub, subaccounts.ChargeCardEnrolment, c.ID, price, true); err != nil {
			return err
		}
		recs = append(recs, cardRecord("card.enrol", nil, c))
	}
	if err := book.Flush(ctx, s.store, s.rec); err != nil {
		return err
	}
	return s.rec.Record(ctx, accountID, recs...)
}

// answer fills the outcomes of the items decided new: the card, or card-exists naming
// the card that holds the number now (a concurrent enrolment's, or the card enrolled
// before for a repeat inside the batch).
func (b *enrolBatch) answer(ctx context.Context, st Store, accountID uuid.UUID) error {
	holders := map[string]uuid.UUID{}
	var missing [][]byte
	for _, c := range b.toInsert {
		if b.inserted[c.ID] {
			holders[string(c.Fingerprint)] = c.ID
		} else {
			missing = append(missing, c.Fingerprint)
		}
	}
	if len(missing) > 0 {
		existing, err := st.ActiveCardsByFingerprint(ctx, accountID, missing)
		if err != nil {
			return err
		}
		for _, e := range existing {
			holders[string(e.Fingerprint)] = e.ID
		}
	}
	for i, c := range b.checked {
		if c == nil || b.out[i].Err != nil {
			continue
		}
		if b.inserted[c.ID] && !b.dupOf[i] {
			b.out[i].Card = c
			continue
		}
		holder, ok := holders[string(c.Fingerprint)]
		if !ok {
			return fmt.Errorf("%w: enrolment raced a removal", subaccounts.ErrConflict)
		}
		b.out[i].Err = cardExists(holder)
	}
	return nil
}

// GetCard returns a card the principal may see.
func (s *Service) GetCard(ctx context.Context, p subaccounts.Principal, id uuid.UUID) (subaccounts.Card, error) {
	c, err := s.store.GetCard(ctx, p.AccountID, id, false)
	if err != nil {
		return subaccounts.Card{}, err
	}
	if !p.Sees(c.SubaccountID) {
		return subaccounts.Card{}, subaccounts.NotFound("card")
	}
	return c, nil
}

// ListCards returns one page of the cards the principal may see.
func (s *Service) ListCards(ctx context.Context, p subaccounts.Principal, f subaccounts.CardFilter, page subaccounts.Page) ([]subaccounts.Card, *uuid.UUID, error) {
	var errs []subaccounts.FieldError
	if f.Country != "" && !policy.ValidCountry(f.Country) {
		errs = append(errs, subaccounts.FieldError{Parameter: "countryCode", Detail: subaccounts.CountryFieldError("", f.Country).Detail})
	}
	if f.Network != "" {
		if _, ok := policy.ParseNetwork(f.Network); !ok {
			errs = append(errs, subaccounts.FieldError{Parameter: "network", Detail: "must be VISA or MASTERCARD"})
		}
	}
	if f.Status != "" && f.Status != subaccounts.CardActive && f.Status != subaccounts.CardRemoved {
		errs = append(errs, subaccounts.FieldError{Parameter: "status", Detail: "must be active or removed"})
	}
	if f.PolicyStatus != "" && f.PolicyStatus != subaccounts.InPolicy && f.PolicyStatus != subaccounts.OutOfPolicy {
		errs = append(errs, subaccounts.FieldError{Parameter: "policyStatus", Detail: "must be in-policy or out-of-policy"})
	}
	if len(errs) > 0 {
		return nil, nil, subaccounts.Invalid(errs...)
	}
	if p.Confined() {
		if f.SubaccountID != nil && *f.SubaccountID != *p.SubaccountID {
			return []subaccounts.Card{}, nil, nil
		}
		f.SubaccountID = p.SubaccountID
	}
	items, err := s.store.ListCards(ctx, p.AccountID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list cards: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(c subaccounts.Card) uuid.UUID { return c.ID })
	return items, next, nil
}

// cardAudit is the audit record of a card change; cards are audited by their safe view
// (first six and last four digits, never the fingerprint).
func cardRecord(action string, before, after *subaccounts.Card) subaccounts.Change {
	r := subaccounts.Change{Action: action, ResourceType: "card"}
	if before != nil {
		r.Before, r.ResourceID = *before, before.ID.String()
	}
	if after != nil {
		r.After, r.ResourceID = *after, after.ID.String()
	}
	return r
}

// RemoveCard unenrols a card. Its transactions stay; removing a removed card returns it
// unchanged.
func (s *Service) RemoveCard(ctx context.Context, p subaccounts.Principal, id uuid.UUID) (subaccounts.Card, error) {
	c, err := s.changeCard(ctx, p, "card.remove", id, false, func(ctx context.Context, c *subaccounts.Card) (bool, error) {
		if c.Status == subaccounts.CardRemoved {
			return false, nil
		}
		c.Status = subaccounts.CardRemoved
		return true, nil
	})
	if err != nil {
		return subaccounts.Card{}, fmt.Errorf("remove card: %w", err)
	}
	return c, nil
}

// MoveCard moves an active card into another subaccount, checked against the
// destination's configuration. Transactions routed before stay where they were.
func (s *Service) MoveCard(ctx context.Context, p subaccounts.Principal, id, to uuid.UUID) (subaccounts.Card, error) {
	// A destination with a card quota is counted under the account lock, which must be
	// taken before the card's and the destination's row locks; a read ahead of the
	// transaction says whether it is needed.
	lockAccount := false
	if dest, err := s.store.GetSubaccount(ctx, p.AccountID, to); err == nil && dest.MaxCards > 0 {
		lockAccount = true
	}
	c, err := s.changeCard(ctx, p, "card.move", id, lockAccount, func(ctx context.Context, c *subaccounts.Card) (bool, error) {
		if !p.Sees(to) {
			return false, subaccounts.NotFound("subaccount")
		}
		if c.Status == subaccounts.CardRemoved {
			return false, subaccounts.Errorf(subaccounts.CodeConflict, "The card was removed; enrol it again instead of moving it.")
		}
		if c.SubaccountID == to {
			return false, nil
		}
		dest, err := s.store.ShareSubaccount(ctx, p.AccountID, to)
		if err != nil {
			return false, err
		}
		if err := decideCard(dest, c.Pair()); err != nil {
			return false, err
		}
		if dest.MaxCards > 0 {
			if !lockAccount {
				// The quota was set since the read ahead: lock now, out of the usual order;
				// a deadlock this rare race could cause is detected and retried.
				if _, err := s.store.GetAccount(ctx, p.AccountID, true); err != nil {
					return false, err
				}
			}
			left, err := quotaLeft(ctx, s.store, dest)
			if err != nil {
				return false, err
			}
			if left == 0 {
				return false, quotaExceeded(dest)
			}
		}
		c.SubaccountID = to
		c.PolicyStatus = subaccounts.InPolicy
		return true, nil
	})
	if err != nil {
		return subaccounts.Card{}, fmt.Errorf("move card: %w", err)
	}
	return c, nil
}

// changeCard locks a card the principal may see and lets change edit it; the card is
// written (with a new updatedAt) only when change reports it changed something.
func (s *Service) changeCard(ctx context.Context, p subaccounts.Principal, action string, id uuid.UUID, lockAccount bool, change func(ctx context.Context, c *subaccounts.Card) (bool, error)) (subaccounts.Card, error) {
	var out subaccounts.Card
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		if lockAccount {
			if _, err := s.store.GetAccount(ctx, p.AccountID, true); err != nil {
				return err
			}
		}
		c, err := s.store.GetCard(ctx, p.AccountID, id, true)
		if err != nil {
			return err
		}
		if !p.Sees(c.SubaccountID) {
			return subaccounts.NotFound("card")
		}
		if p.Confined() {
			sub, err := s.store.GetSubaccount(ctx, p.AccountID, c.SubaccountID)
			if err != nil {
				return err
			}
			if err := subaccounts.ConfinedWrite(p, sub); err != nil {
				return err
			}
		}
		before := c
		changed, err := change(ctx, &c)
		if err != nil || !changed {
			out = c
			return err
		}
		c.UpdatedAt = subaccounts.Now()
		if err := s.store.UpdateCard(ctx, c); err != nil {
			return err
		}
		out = c
		return s.rec.Record(ctx, p.AccountID, cardRecord(action, &before, &c))
	})
	return out, err
}

// Service enrols and manages cards. It is safe for concurrent use.
type Service struct {
	store   Store
	rec     subaccounts.Recorder
	prints  *pan.Fingerprints
	observe func(err error)
	// committer shares transactions among concurrent single enrolments; nil writes each
	// in its own.
	committer *groupcommit.Committer[*enrolment]
}

// GroupCommit makes concurrent single enrolments share transactions as cfg says
// (DefaultGroupCommit, say); call it before s serves, and Close or Shutdown s after.
func (s *Service) GroupCommit(cfg groupcommit.Config) *Service {
	s.committer = groupcommit.New(cfg, s.writeEnrolments)
	return s
}

// Close writes the enrolments still queued for the group commit and stops it.
func (s *Service) Close() {
	if s.committer != nil {
		s.committer.Close()
	}
}

// Shutdown stops the group commit like Close, but within ctx (see groupcommit).
func (s *Service) Shutdown(ctx context.Context) error {
	if s.committer == nil {
		return nil
	}
	return s.committer.Shutdown(ctx)
}

// Observed makes s report every enrolment answered, a batch's one per item, by the
// error it ended with (nil when enrolled), for metrics; call it before s serves.
func (s *Service) Observed(fn func(err error)) *Service {
	s.observe = fn
	return s
}

func (s *Service) observed(err error, n int) {
	if s.observe == nil {
		return
	}
	for range n {
		s.observe(err)
	}
}

// NewService returns the cards service over store; rec receives what its changes record
// beside themselves, and prints fingerprints card numbers (nil: enrolment fails).
func NewService(store Store, rec subaccounts.Recorder, prints *pan.Fingerprints) *Service {
	return &Service{store: store, rec: rec, prints: prints}
}
