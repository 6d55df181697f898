// Package ledger moves money: it holds the Book every charge, transfer and top-up is
// made on (floors, credit, auto top-ups), writes the append-only journal, and answers
// transfers, usage and reconciliation.
//
// It depends on the vocabulary (internal/subaccounts) and policy. Cards, routing and
// tenancy use it; it imports none of them, nor the store, httpapi or cmd.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// MaxReferenceLength bounds the free-text reference of a money movement.
const MaxReferenceLength = 255

// MaxBalance bounds any balance a transfer may raise, far below where int64 arithmetic
// would wrap (9.2 × 10^18), so no sum of balances can overflow.
const MaxBalance = 1_000_000_000_000_000_000

// invalidTransfer refuses a money movement with a machine-readable reason.
func invalidTransfer(reason, format string, args ...any) *subaccounts.Error {
	return &subaccounts.Error{Code: subaccounts.CodeInvalidTransfer, Message: fmt.Sprintf(format, args...), Detail: &subaccounts.Refusal{Reason: reason}}
}

// cleanReference checks the reference every money movement carries: 1–255 characters of
// text, and (through checkText's card-data guard) never a card number, since references
// are echoed and audited.
func cleanReference(pointer string, ref *string) (string, *subaccounts.FieldError) {
	if ref == nil {
		return "", &subaccounts.FieldError{Pointer: pointer, Detail: "is required: every money movement carries a reference"}
	}
	if e := subaccounts.CheckText(*ref); e != "" {
		return "", &subaccounts.FieldError{Pointer: pointer, Detail: e}
	}
	n := utf8.RuneCountInString(*ref)
	if n < 1 || n > MaxReferenceLength {
		return "", &subaccounts.FieldError{Pointer: pointer, Detail: fmt.Sprintf("must be 1 to %d characters", MaxReferenceLength)}
	}
	return *ref, nil
}

// checkAmount checks a positive amount of minor units.
func checkAmount(amount *int64) error {
	if amount == nil {
		return subaccounts.Invalid(subaccounts.FieldError{Pointer: "/amount", Detail: "is required: a positive integer of minor units"})
	}
	if *amount <= 0 || *amount > subaccounts.MaxAmount {
		return invalidTransfer("amount-out-of-range", "The amount must be a positive integer of minor units, at most %d.", int64(subaccounts.MaxAmount))
	}
	return nil
}

// TransferInput is a requested credit or balance transfer. From and To are the account id
// (the primary) or the id of one of its subaccounts.
type TransferInput struct {
	From      *string
	To        *string
	Amount    *int64
	Reference *string
}

// Book is the account and the subaccounts one transaction changes money on, held in
// memory under the account row lock and written once, by Flush, at the end. Every money
// rule lives on it: floors and credit, charges and auto top-ups, credit limit changes,
// and what a deleted subaccount hands back; cards, routing and tenancy use it inside
// their own transactions.
type Book struct {
	account      subaccounts.Account
	accountDirty bool
	subs         map[uuid.UUID]*subaccounts.Subaccount
	dirty        map[uuid.UUID]bool
	entries      []subaccounts.Entry
	// flushed counts the entries already written.
	flushed int
	// wentOver are the subaccounts that went over their limit since the last Flush.
	wentOver map[uuid.UUID]bool
	now      time.Time
}

func NewBook(a subaccounts.Account, now time.Time) *Book {
	return &Book{account: a, subs: map[uuid.UUID]*subaccounts.Subaccount{}, dirty: map[uuid.UUID]bool{}, now: now}
}

// Account is the account as the book holds it. Change it through the book's methods,
// or call TouchAccount after changing it, so Flush writes it.
func (l *Book) Account() *subaccounts.Account { return &l.account }

// Entries are the journal entries the book has made, flushed or not.
func (l *Book) Entries() []subaccounts.Entry { return l.entries }

// Now is the time the book stamps its entries and rows with.
func (l *Book) Now() time.Time { return l.now }

// ReturnToPrimary hands a subaccount's balance and credit back to the primary, as a
// cascading delete does, journalling both moves. The primary must still end within its
// floor when that is a net loss (the subaccount over its limit): a customer's request
// never pushes a balance below it, even one network fees already took there.
func (l *Book) ReturnToPrimary(sub *subaccounts.Subaccount, reference string) error {
	a := &l.account
	balance, credit := sub.Balance, sub.CreditLimit
	subID := sub.ID
	switch {
	case balance > 0:
		l.entry(subaccounts.KindBalanceTransfer, subaccounts.LedgerBalance, sub.ID.String(), primaryParty(a.ID), balance, &subID, reference)
	case balance < 0:
		l.entry(subaccounts.KindBalanceTransfer, subaccounts.LedgerBalance, primaryParty(a.ID), sub.ID.String(), -balance, &subID, reference)
	}
	if credit > 0 {
		l.entry(subaccounts.KindCreditTransfer, subaccounts.LedgerCredit, sub.ID.String(), primaryParty(a.ID), credit, &subID, reference)
	}
	a.Balance += balance
	a.AllocatedCredit -= credit
	sub.Balance, sub.CreditLimit = 0, 0
	l.TouchAccount()
	l.TouchSubaccount(sub)
	if balance+credit < 0 && a.Balance < a.Floor() {
		return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "primary-cannot-absorb"}, Message: fmt.Sprintf(
			"The primary cannot take over the subaccount's debt of %d within its credit limit; top up first.", -balance)}
	}
	return nil
}

func (l *Book) TouchAccount() {
	l.account.OverLimit = l.account.Balance < l.account.Floor()
	l.accountDirty = true
}

func (l *Book) TouchSubaccount(s *subaccounts.Subaccount) {
	was := s.OverLimit
	s.OverLimit = s.Balance < -s.CreditLimit
	if s.OverLimit && !was {
		if l.wentOver == nil {
			l.wentOver = map[uuid.UUID]bool{}
		}
		l.wentOver[s.ID] = true
	}
	l.subs[s.ID] = s
	l.dirty[s.ID] = true
}

func (l *Book) entry(kind subaccounts.EntryKind, ledger subaccounts.LedgerName, from, to string, amount int64, sub *uuid.UUID, ref string) subaccounts.Entry {
	e := subaccounts.Entry{
		ID: uuid.Must(uuid.NewV7()), AccountID: l.account.ID, Kind: kind, Ledger: ledger,
		From: from, To: to, Amount: amount, SubaccountID: sub, Reference: ref, CreatedAt: l.now,
	}
	l.entries = append(l.entries, e)
	return e
}

// Flush writes what changed: the account, then the subaccounts, then the journal.
func (l *Book) Flush(ctx context.Context, tx Writer, rec subaccounts.Recorder) error {
	// Versions (the ETags) are not bumped here: they version what a PATCH can change,
	// and balances move with every charge, which would make every If-Match on a busy
	// subaccount stale.
	if l.accountDirty {
		l.account.UpdatedAt = l.now
		if err := tx.UpdateAccount(ctx, l.account); err != nil {
			return err
		}
		l.accountDirty = false
	}
	for id := range l.dirty {
		s := l.subs[id]
		s.UpdatedAt = l.now
		if err := tx.UpdateSubaccount(ctx, *s, nil); err != nil {
			return err
		}
	}
	clear(l.dirty)
	// A subaccount going over its limit is a change nobody asked for either: the side
	// records learn of it here (its systems may want to top it up).
	var recs []subaccounts.Change
	for id := range l.wentOver {
		if s := l.subs[id]; s.OverLimit {
			recs = append(recs, subaccounts.Change{Action: "subaccount.over-limit", ResourceType: "subaccount", ResourceID: id.String(), After: *s})
		}
	}
	clear(l.wentOver)
	fresh := l.entries[l.flushed:]
	if len(fresh) > 0 {
		if err := tx.InsertLedgerEntries(ctx, fresh); err != nil {
			return err
		}
	}
	l.flushed = len(l.entries)
	// Automatic top-ups are transfers nobody asked for in the request: the audit log
	// records them here, under the actor of the charge that set them off (none, for a
	// network message written by the group commit).
	for _, e := range fresh {
		if e.Kind == subaccounts.KindBalanceTransfer && e.Reference == subaccounts.AutoTopUpReference {
			recs = append(recs, subaccounts.Change{Action: "balance-transfer.auto", ResourceType: string(e.Kind), ResourceID: e.ID.String(), After: e, Reference: e.Reference})
		}
	}
	return rec.Record(ctx, l.account.ID, recs...)
}

// primaryParty names the primary in the journal: the account id.
func primaryParty(accountID uuid.UUID) string { return accountID.String() }

// Transfer moves credit (kind KindCreditTransfer) or balance (KindBalanceTransfer)
// between the primary and one of its subaccounts, in either direction.
func (s *Service) Transfer(ctx context.Context, p subaccounts.Principal, kind subaccounts.EntryKind, in TransferInput) (subaccounts.Entry, error) {
	t, err := checkTransfer(p, in)
	if err != nil {
		return subaccounts.Entry{}, err
	}
	var out subaccounts.Entry
	err = s.store.Transact(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAccount(ctx, t.primary, true)
		if err != nil {
			return err
		}
		sub, err := s.store.GetSubaccount(ctx, t.primary, t.subID)
		if err != nil {
			return err
		}
		if sub.UsePrimaryBalance {
			return invalidTransfer("subaccount-uses-primary-balance", "The subaccount uses the primary balance; set usePrimaryAccountBalance to false to give it its own balance and credit.")
		}
		l := NewBook(a, subaccounts.Now())
		ledgerName := subaccounts.LedgerBalance
		if kind == subaccounts.KindCreditTransfer {
			ledgerName = subaccounts.LedgerCredit
			err = moveCredit(&l.account, &sub, t.amount, t.outOfSub)
		} else {
			err = moveBalance(&l.account, &sub, t.amount, t.outOfSub)
		}
		if err != nil {
			return err
		}
		l.TouchAccount()
		l.TouchSubaccount(&sub)
		id := sub.ID
		out = l.entry(kind, ledgerName, t.from.String(), t.to.String(), t.amount, &id, t.ref)
		if err := l.Flush(ctx, s.store, s.rec); err != nil {
			return err
		}
		return s.rec.Record(ctx, t.primary, subaccounts.Change{
			Action: string(kind) + ".create", ResourceType: string(kind), ResourceID: out.ID.String(),
			After: out, Reference: t.ref,
		})
	})
	if err != nil {
		return subaccounts.Entry{}, fmt.Errorf("%s: %w", kind, err)
	}
	return out, nil
}

// transfer is a checked transfer request: between the primary and subID, out of the
// subaccount when outOfSub.
type transfer struct {
	primary, from, to, subID uuid.UUID
	outOfSub                 bool
	amount                   int64
	ref                      string
}

// checkTransfer validates a transfer request before any transaction: who may ask, the
// parties, the amount and the reference.
func checkTransfer(p subaccounts.Principal, in TransferInput) (transfer, error) {
	if p.Confined() {
		return transfer{}, subaccounts.Errorf(subaccounts.CodeForbidden, "A client confined to one subaccount cannot move money or credit.")
	}
	var errs []subaccounts.FieldError
	parse := func(ptr string, v *string) uuid.UUID {
		if v == nil {
			errs = append(errs, subaccounts.FieldError{Pointer: ptr, Detail: "is required: the account id or a subaccount id"})
			return uuid.Nil
		}
		id, err := uuid.Parse(*v)
		if err != nil || len(*v) != 36 {
			errs = append(errs, subaccounts.FieldError{Pointer: ptr, Detail: "must be a UUID: the account id or a subaccount id"})
			return uuid.Nil
		}
		return id
	}
	t := transfer{primary: p.AccountID}
	t.from, t.to = parse("/from", in.From), parse("/to", in.To)
	ref, fe := cleanReference("/reference", in.Reference)
	if fe != nil {
		errs = append(errs, *fe)
	}
	if in.Amount == nil {
		errs = append(errs, subaccounts.FieldError{Pointer: "/amount", Detail: "is required: a positive integer of minor units"})
	}
	if len(errs) > 0 {
		return transfer{}, subaccounts.Invalid(errs...)
	}
	if err := checkAmount(in.Amount); err != nil {
		return transfer{}, err
	}
	t.amount, t.ref = *in.Amount, ref
	if t.from == t.to {
		return transfer{}, invalidTransfer("same-party", "The transfer must go between two different parties.")
	}
	if t.from != t.primary && t.to != t.primary {
		return transfer{}, invalidTransfer("primary-not-involved", "A transfer goes between the primary account and one of its subaccounts; one side must be the account id.")
	}
	t.subID = t.to
	if t.to == t.primary {
		t.subID, t.outOfSub = t.from, true
	}
	return t, nil
}

// moveCredit moves amount of credit limit between the primary acc and sub. Taking credit
// back must not leave the subaccount using credit it no longer has; handing it out must
// not give away credit the primary's own balance uses.
func moveCredit(acc *subaccounts.Account, sub *subaccounts.Subaccount, amount int64, outOfSub bool) error {
	if outOfSub {
		if amount > sub.CreditLimit {
			return invalidTransfer("insufficient-credit-limit", "The subaccount's credit limit is %d; it cannot give back %d.", sub.CreditLimit, amount)
		}
		if sub.Balance < -(sub.CreditLimit - amount) {
			return invalidTransfer("credit-in-use", "The subaccount's balance of %d uses that credit; its limit cannot fall below %d.", sub.Balance, -sub.Balance)
		}
		sub.CreditLimit -= amount
		acc.AllocatedCredit -= amount
		return nil
	}
	if amount > acc.AvailableCredit() {
		return invalidTransfer("insufficient-available-credit", "The primary has %d of unallocated credit (credit limit %d, %d allocated); it cannot hand out %d.", acc.AvailableCredit(), acc.CreditLimit, acc.AllocatedCredit, amount)
	}
	if acc.Balance < -(acc.AvailableCredit() - amount) {
		return invalidTransfer("primary-credit-in-use", "The primary balance of %d uses that credit itself; top up first.", acc.Balance)
	}
	sub.CreditLimit += amount
	acc.AllocatedCredit += amount
	return nil
}

// moveBalance moves amount of balance between the primary acc and sub: the giver stays
// within its floor and the receiver below MaxBalance.
func moveBalance(acc *subaccounts.Account, sub *subaccounts.Subaccount, amount int64, outOfSub bool) error {
	if outOfSub {
		if sub.Balance-amount < -sub.CreditLimit {
			return invalidTransfer("insufficient-balance", "The subaccount can give at most %d (balance %d, credit limit %d).", sub.Balance+sub.CreditLimit, sub.Balance, sub.CreditLimit)
		}
		if acc.Balance > MaxBalance-amount {
			return invalidTransfer("amount-out-of-range", "The primary balance would exceed %d minor units.", int64(MaxBalance))
		}
		sub.Balance -= amount
		acc.Balance += amount
		return nil
	}
	if acc.Balance-amount < acc.Floor() {
		return invalidTransfer("insufficient-balance", "The primary can give at most %d (balance %d, unallocated credit %d).", acc.Balance-acc.Floor(), acc.Balance, acc.AvailableCredit())
	}
	if sub.Balance > MaxBalance-amount {
		return invalidTransfer("amount-out-of-range", "The subaccount balance would exceed %d minor units.", int64(MaxBalance))
	}
	acc.Balance -= amount
	sub.Balance += amount
	return nil
}

// TransferQuery filters a transfer listing.
type TransferQuery struct {
	subaccounts.Window
	SubaccountID *uuid.UUID
}

// ListTransfers returns one page of credit or balance transfers in creation order. A
// confined client sees those of its own subaccount only.
func (s *Service) ListTransfers(ctx context.Context, p subaccounts.Principal, kind subaccounts.EntryKind, q TransferQuery, page subaccounts.Page) ([]subaccounts.Entry, *uuid.UUID, error) {
	f := subaccounts.EntryFilter{Kinds: []subaccounts.EntryKind{kind}, SubaccountID: q.SubaccountID, From: q.From, To: q.To}
	var visible bool
	if f.SubaccountID, visible = p.Narrow(f.SubaccountID); !visible {
		return []subaccounts.Entry{}, nil, nil
	}
	items, err := s.store.ListLedgerEntries(ctx, p.AccountID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list transfers: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(e subaccounts.Entry) uuid.UUID { return e.ID })
	return items, next, nil
}

// TopUpResult is a recorded top-up and the primary balance after it.
type TopUpResult struct {
	Entry   subaccounts.Entry
	Account subaccounts.Account
}

// TopUp records money the customer paid the operator, raising the primary balance.
func (s *Service) TopUp(ctx context.Context, accountID uuid.UUID, amount *int64, reference *string) (TopUpResult, error) {
	ref, fe := cleanReference("/reference", reference)
	var errs []subaccounts.FieldError
	if amount == nil {
		errs = append(errs, subaccounts.FieldError{Pointer: "/amount", Detail: "is required: a positive integer of minor units"})
	}
	if fe != nil {
		errs = append(errs, *fe)
	}
	if len(errs) > 0 {
		return TopUpResult{}, subaccounts.Invalid(errs...)
	}
	if err := checkAmount(amount); err != nil {
		return TopUpResult{}, err
	}
	var out TopUpResult
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAccount(ctx, accountID, true)
		if err != nil {
			return err
		}
		if a.Balance > subaccounts.MaxAmount-*amount {
			return invalidTransfer("amount-out-of-range", "The balance would exceed %d minor units.", int64(subaccounts.MaxAmount))
		}
		l := NewBook(a, subaccounts.Now())
		l.account.Balance += *amount
		l.TouchAccount()
		e := l.entry(subaccounts.KindTopUp, subaccounts.LedgerBalance, subaccounts.PartyExternal, primaryParty(a.ID), *amount, nil, ref)
		if err := l.Flush(ctx, s.store, s.rec); err != nil {
			return err
		}
		out = TopUpResult{Entry: e, Account: l.account}
		return s.rec.Record(ctx, a.ID, subaccounts.Change{
			Action: "top-up.create", ResourceType: "top-up", ResourceID: e.ID.String(), After: e, Reference: ref,
		})
	})
	if err != nil {
		return TopUpResult{}, fmt.Errorf("top up: %w", err)
	}
	return out, nil
}

// SetCreditLimit changes the primary's credit limit inside an account update, recording
// the change in the journal. It refuses to take back credit that is handed out or used.
func (l *Book) SetCreditLimit(limit int64) error {
	a := &l.account
	if limit == a.CreditLimit {
		return nil
	}
	if limit < a.AllocatedCredit {
		return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "credit-allocated"}, Message: fmt.Sprintf(
			"%d of the credit limit is allocated to subaccounts; take credit back with credit transfers before lowering it below that.", a.AllocatedCredit)}
	}
	if a.Balance < a.AllocatedCredit-limit {
		return &subaccounts.Error{Code: subaccounts.CodeConflict, Detail: &subaccounts.Refusal{Reason: "credit-in-use"}, Message: fmt.Sprintf(
			"The primary balance of %d uses that credit; top up before lowering the credit limit to %d.", a.Balance, limit)}
	}
	from, to, delta := subaccounts.PartyExternal, primaryParty(a.ID), limit-a.CreditLimit
	if delta < 0 {
		from, to, delta = to, from, -delta
	}
	a.CreditLimit = limit
	l.TouchAccount()
	l.entry(subaccounts.KindCreditLimit, subaccounts.LedgerCredit, from, to, delta, nil, "credit limit set to "+fmt.Sprint(limit))
	return nil
}

// Charge debits the payer of sub's usage (sub itself, or the primary when it shares the
// primary balance) and records the charge. With refuse set, a charge the payer's credit
// cannot cover is refused (402); otherwise (network fees, never refused) it may take the
// payer below its floor, which marks it over limit. A charge that leaves a subaccount
// with its own balance below its auto top-up threshold moves the top-up amount from the
// primary, if the primary can afford it.
func (l *Book) Charge(sub *subaccounts.Subaccount, ct subaccounts.ChargeType, subject uuid.UUID, amount int64, refuse bool) error {
	if amount == 0 {
		return nil
	}
	acc := &l.account
	payer := primaryParty(acc.ID)
	if sub.UsePrimaryBalance {
		if refuse && acc.Balance-amount < acc.Floor() {
			return l.cannotPay(sub, amount)
		}
		acc.Balance -= amount
		l.TouchAccount()
	} else {
		if refuse && sub.Balance-amount < -sub.CreditLimit {
			return l.cannotPay(sub, amount)
		}
		payer = sub.ID.String()
		sub.Balance -= amount
		l.TouchSubaccount(sub)
	}
	id, subj := sub.ID, subject
	l.entry(subaccounts.KindCharge, subaccounts.LedgerBalance, payer, subaccounts.PartyRevenue, amount, &id, "charge: "+string(ct))
	last := &l.entries[len(l.entries)-1]
	last.ChargeType, last.SubjectID = ct, &subj
	if !sub.UsePrimaryBalance && sub.AutoTopUp.Amount > 0 && sub.Balance < sub.AutoTopUp.Threshold {
		top := sub.AutoTopUp.Amount
		if acc.Balance-top >= acc.Floor() {
			acc.Balance -= top
			sub.Balance += top
			l.TouchAccount()
			l.TouchSubaccount(sub)
			l.entry(subaccounts.KindBalanceTransfer, subaccounts.LedgerBalance, primaryParty(acc.ID), sub.ID.String(), top, &id, subaccounts.AutoTopUpReference)
		}
	}
	return nil
}

// BlockedByLimit refuses a new enrolment while the payer of sub's usage is over its limit.
func (l *Book) BlockedByLimit(sub *subaccounts.Subaccount) error {
	if sub.UsePrimaryBalance && l.account.OverLimit {
		return &subaccounts.Error{Code: subaccounts.CodeInsufficientCredit, Detail: &subaccounts.Refusal{Reason: "over-limit"}, Message: "The primary balance is below its credit limit after network fees; top up or transfer balance before enrolling more cards."}
	}
	if !sub.UsePrimaryBalance && sub.OverLimit {
		return &subaccounts.Error{Code: subaccounts.CodeInsufficientCredit, Detail: &subaccounts.Refusal{Reason: "over-limit"}, Message: "The subaccount's balance is below its credit limit after network fees; transfer balance or credit to it before enrolling more cards."}
	}
	return nil
}

// cannotPay refuses a charge of amount that the payer of sub's usage cannot cover,
// naming the payer's own figures.
func (l *Book) cannotPay(sub *subaccounts.Subaccount, amount int64) error {
	if sub.UsePrimaryBalance {
		return insufficientCredit(l.account.Balance, l.account.AvailableCredit(), amount, "primary balance")
	}
	return insufficientCredit(sub.Balance, sub.CreditLimit, amount, "subaccount balance")
}

func insufficientCredit(balance, credit, amount int64, what string) error {
	return &subaccounts.Error{Code: subaccounts.CodeInsufficientCredit, Detail: &subaccounts.Refusal{Reason: "insufficient-credit"}, Message: fmt.Sprintf(
		"The charge of %d would take the %s of %d below its credit limit of %d.", amount, what, balance, credit)}
}

// errStop is returned from inside a transaction to roll it back deliberately.
var errStop = errors.New("stop")

// Service answers the ledger's requests: transfers, top-ups, usage and reconciliation.
type Service struct {
	store Store
	rec   subaccounts.Recorder
}

// NewService returns the ledger's service over store; rec receives what its changes
// record beside themselves.
func NewService(store Store, rec subaccounts.Recorder) *Service {
	return &Service{store: store, rec: rec}
}
