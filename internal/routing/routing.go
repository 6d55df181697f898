// Package routing takes the networks' transaction messages and routes each into its
// card's subaccount exactly once: it checks them, dedupes them against what is stored,
// finds their cards (by id or by the card number's fingerprints), flags out-of-policy
// ones, charges network fees through the ledger's Book, and keeps a message it cannot
// route in the unrouted queue for a retry. Single messages share commits through the
// group commit (groupcommit.go); a batch is one transaction of its own.
//
// It depends on the vocabulary, ledger, pan and policy; nothing else in the domain
// imports it, and it must not import the store, httpapi or cmd.
package routing

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/groupcommit"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Limits of transaction ingestion.
const (
	MaxMessageBatch   = 1000
	maxNetworkIDLen   = 64
	maxMerchantName   = 200
	maxMerchantCity   = 100
	maxAuthCodeLength = 12
)

// MerchantInput is the merchant of a requested message.
type MerchantInput struct {
	Name        *string
	MCC         *string
	CountryCode *string
	City        *string
}

// MessageInput is one network message as received. CardNumber holds a PAN only while the
// request is handled: it is fingerprinted and dropped.
type MessageInput struct {
	NetworkTransactionID *string
	Type                 *string
	CardID               *string
	CardNumber           *string
	Amount               *int64
	Currency             *string
	Datetime             *string
	Merchant             *MerchantInput
	AuthCode             *string
	// Malformed holds what made a batch item unreadable, with pointers relative to the
	// item: the item is refused with them, alone.
	Malformed []subaccounts.FieldError
}

// IngestStatus is how a message was taken.
type IngestStatus int

// Ingest statuses.
const (
	// IngestRouted: stored now and routed into its card's bucket.
	IngestRouted IngestStatus = iota + 1
	// IngestDuplicate: the same (network transaction id, type) was stored before; the
	// stored one is returned, routed.
	IngestDuplicate
	// IngestUnrouted: the card is unknown or removed; the message waits in the unrouted
	// queue (now or from before).
	IngestUnrouted
)

// IngestOutcome is the answer to one message: a transaction with its status, or an error.
type IngestOutcome struct {
	Status      IngestStatus
	Transaction subaccounts.Transaction
	Err         error
}

// Tally counts the messages of one call by outcome, for metrics.
type Tally struct{ Routed, Unrouted, Duplicate, Invalid int }

func (t *Tally) add(o IngestOutcome) {
	switch {
	case o.Err != nil:
		t.Invalid++
	case o.Status == IngestRouted:
		t.Routed++
	case o.Status == IngestUnrouted:
		t.Unrouted++
	case o.Status == IngestDuplicate:
		t.Duplicate++
	}
}

// Observed makes s report the outcomes of every call that takes messages (one Tally
// per call; a call failing as a whole reports nothing), for metrics; call it before s
// serves.
func (s *Service) Observed(fn func(Tally)) *Service {
	s.observe = fn
	return s
}

// observed reports outs, unless the whole call failed with err: an invalid message
// (a validation error) counts as invalid, anything else (unavailable, cancelled) as
// nothing, since it was not taken.
func (s *Service) observed(err error, outs ...IngestOutcome) {
	if s.observe == nil {
		return
	}
	var t Tally
	var e *subaccounts.Error
	if err != nil {
		if errors.As(err, &e) && e.Code == subaccounts.CodeValidation {
			t.Invalid = len(outs)
			s.observe(t)
		}
		return
	}
	for _, o := range outs {
		t.add(o)
	}
	s.observe(t)
}

// message is a validated message on its way into the database.
type message struct {
	tx subaccounts.Transaction
	// fingerprint of the PAN, when the message named one.
	fingerprint []byte
	// older are its fingerprints under the older master key versions still configured.
	older [][]byte
	out   IngestOutcome
	// origin is the span of the request that submitted it to the group commit.
	origin trace.SpanContext
}

// checkMessage validates one message; pointer prefixes the field pointers. Every field
// is checked, so one answer names every problem.
func (s *Service) checkMessage(p subaccounts.Principal, pointer string, in MessageInput, now time.Time) (*message, []subaccounts.FieldError) {
	if len(in.Malformed) > 0 {
		return nil, subaccounts.PrefixFields(pointer, in.Malformed)
	}
	c := &messageCheck{pointer: pointer, m: &message{tx: subaccounts.Transaction{ID: uuid.Must(uuid.NewV7()), AccountID: p.AccountID, ReceivedAt: now}}}
	c.key(in)
	c.card(s.prints, p.AccountID, in)
	c.money(in)
	c.datetime(in)
	c.merchant(in.Merchant)
	c.authCode(in.AuthCode)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return c.m, nil
}

// messageCheck is one message being checked: the message as far as it is valid, and the
// problems found.
type messageCheck struct {
	pointer string
	m       *message
	errs    []subaccounts.FieldError
}

func (c *messageCheck) bad(field, detail string) {
	c.errs = append(c.errs, subaccounts.FieldError{Pointer: c.pointer + field, Detail: detail})
}

// key checks what makes the message unique: its network transaction id and type.
func (c *messageCheck) key(in MessageInput) {
	t := &c.m.tx
	switch {
	case in.NetworkTransactionID == nil:
		c.bad("/networkTransactionId", "is required")
	case !printableASCII(*in.NetworkTransactionID, maxNetworkIDLen):
		c.bad("/networkTransactionId", fmt.Sprintf("must be 1 to %d printable ASCII characters", maxNetworkIDLen))
	case pan.ContainsCardNumber(*in.NetworkTransactionID):
		c.bad("/networkTransactionId", subaccounts.CardNumberDetail)
	default:
		t.NetworkTransactionID = *in.NetworkTransactionID
	}
	if in.Type == nil {
		c.bad("/type", "is required: auth, clearing, refund or reversal")
		return
	}
	switch subaccounts.TransactionType(*in.Type) {
	case subaccounts.TxAuth, subaccounts.TxClearing, subaccounts.TxRefund, subaccounts.TxReversal:
		t.Type = subaccounts.TransactionType(*in.Type)
	default:
		c.bad("/type", "must be auth, clearing, refund or reversal")
	}
}

// card checks how the message names its card: a card id, or a card number, which is
// fingerprinted under every configured key version and dropped.
func (c *messageCheck) card(prints *pan.Fingerprints, accountID uuid.UUID, in MessageInput) {
	switch {
	case in.CardID != nil && in.CardNumber != nil:
		c.bad("/cardNumber", "give either cardId or cardNumber, not both")
	case in.CardID != nil:
		id, err := uuid.Parse(*in.CardID)
		if err != nil || len(*in.CardID) != 36 {
			c.bad("/cardId", "must be a UUID")
		} else {
			c.m.tx.RequestedCardID = &id
		}
	case in.CardNumber != nil:
		n, err := pan.Parse(*in.CardNumber)
		if err != nil {
			c.bad("/cardNumber", err.Error())
		} else if prints != nil {
			c.m.fingerprint = prints.Current().Fingerprint(accountID, n)
			c.m.older = prints.Older(accountID, n)
		}
	default:
		c.bad("/cardId", "either cardId or cardNumber is required")
	}
}

// money checks the amount and its currency.
func (c *messageCheck) money(in MessageInput) {
	t := &c.m.tx
	switch {
	case in.Amount == nil:
		c.bad("/amount", "is required: an integer in minor units")
	case *in.Amount < 0 || *in.Amount > subaccounts.MaxAmount:
		c.bad("/amount", fmt.Sprintf("must be from 0 to %d minor units", int64(subaccounts.MaxAmount)))
	default:
		t.Amount = *in.Amount
	}
	switch {
	case in.Currency == nil:
		c.bad("/currency", "is required: an ISO 4217 alphabetic code")
	case !subaccounts.ValidCurrency(*in.Currency):
		c.bad("/currency", "must be an ISO 4217 alphabetic currency code such as EUR or USD")
	default:
		t.Currency = *in.Currency
	}
}

// datetime checks when the network says the message happened.
func (c *messageCheck) datetime(in MessageInput) {
	if in.Datetime == nil {
		c.bad("/datetime", "is required: an RFC 3339 date-time")
		return
	}
	dt, err := time.Parse(time.RFC3339Nano, *in.Datetime)
	if err != nil {
		c.bad("/datetime", "must be an RFC 3339 date-time such as 2026-11-22T10:15:00Z")
		return
	}
	c.m.tx.Datetime = dt.UTC().Truncate(time.Millisecond)
}

// merchant checks the merchant: name, MCC, country and optional city.
func (c *messageCheck) merchant(mi *MerchantInput) {
	if mi == nil {
		c.bad("/merchant", "is required")
		return
	}
	t := &c.m.tx
	if mi.Name == nil {
		c.bad("/merchant/name", "is required")
	} else if name, fe := subaccounts.CleanName(c.pointer+"/merchant/name", *mi.Name); fe != nil {
		c.errs = append(c.errs, *fe)
	} else {
		t.Merchant.Name = name
	}
	switch {
	case mi.MCC == nil:
		c.bad("/merchant/mcc", "is required: four digits")
	case !subaccounts.Digits(*mi.MCC, 4, 4):
		c.bad("/merchant/mcc", "must be four digits")
	default:
		t.Merchant.MCC = *mi.MCC
	}
	switch {
	case mi.CountryCode == nil:
		c.bad("/merchant/countryCode", "is required: an ISO 3166-1 alpha-3 code")
	case !policy.ValidCountry(*mi.CountryCode):
		c.errs = append(c.errs, subaccounts.CountryFieldError(c.pointer+"/merchant/countryCode", *mi.CountryCode))
	default:
		t.Merchant.CountryCode = *mi.CountryCode
	}
	if mi.City == nil {
		return
	}
	city, fe := subaccounts.CleanName(c.pointer+"/merchant/city", *mi.City)
	switch {
	case fe != nil:
		c.errs = append(c.errs, *fe)
	case utf8.RuneCountInString(city) > maxMerchantCity:
		c.bad("/merchant/city", fmt.Sprintf("must be 1 to %d characters", maxMerchantCity))
	default:
		t.Merchant.City = city
	}
}

// authCode checks the optional authorisation code.
func (c *messageCheck) authCode(code *string) {
	if code == nil {
		return
	}
	if !alnum(*code, 1, maxAuthCodeLength) {
		c.bad("/authCode", fmt.Sprintf("must be 1 to %d letters or digits", maxAuthCodeLength))
		return
	}
	c.m.tx.AuthCode = *code
}

func printableASCII(s string, maxLen int) bool {
	if len(s) < 1 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func alnum(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// feedAllowed refuses clients confined to one subaccount: the network feed and the
// unrouted queue belong to the whole account.
func feedAllowed(p subaccounts.Principal) error {
	if p.Confined() {
		return subaccounts.Errorf(subaccounts.CodeForbidden, "A client confined to one subaccount cannot ingest network messages or see the unrouted queue.")
	}
	return nil
}

// IngestTransaction takes one network message. Concurrent calls are written together by
// the group committer; each returns only after the commit that holds its message.
func (s *Service) IngestTransaction(ctx context.Context, p subaccounts.Principal, in MessageInput) (IngestOutcome, error) {
	out, err := s.ingestOne(ctx, p, in)
	s.observed(err, out)
	return out, err
}

func (s *Service) ingestOne(ctx context.Context, p subaccounts.Principal, in MessageInput) (IngestOutcome, error) {
	if err := feedAllowed(p); err != nil {
		return IngestOutcome{}, err
	}
	if s.prints == nil {
		return IngestOutcome{}, errNoFingerprints
	}
	m, errs := s.checkMessage(p, "", in, subaccounts.Now())
	if len(errs) > 0 {
		return IngestOutcome{}, subaccounts.Invalid(errs...)
	}
	var out IngestOutcome
	var err error
	if s.store.InTransaction(ctx) {
		// The request's own transaction must hold the message: a group runs in another.
		err = s.store.Transact(ctx, func(ctx context.Context) error { return s.ingest(ctx, s.store, []*message{m}, false) })
		out = m.out
	} else {
		// The group's span links to the request's; the message's events continue it.
		m.origin = trace.SpanContextFromContext(ctx)
		if err = s.committer.Submit(ctx, m); err == nil {
			out = m.out
		}
	}
	if err != nil {
		return IngestOutcome{}, fmt.Errorf("ingest transaction: %w", err)
	}
	if out.Err != nil {
		return IngestOutcome{}, fmt.Errorf("ingest transaction: %w", out.Err)
	}
	return out, nil
}

// IngestTransactions takes up to MaxMessageBatch messages in one database transaction,
// with one outcome per message: invalid ones are refused on their own, the rest are
// routed, queued or recognised as duplicates.
func (s *Service) IngestTransactions(ctx context.Context, p subaccounts.Principal, items []MessageInput) ([]IngestOutcome, error) {
	outs, err := s.ingestBatch(ctx, p, items)
	s.observed(err, outs...)
	return outs, err
}

func (s *Service) ingestBatch(ctx context.Context, p subaccounts.Principal, items []MessageInput) ([]IngestOutcome, error) {
	if err := feedAllowed(p); err != nil {
		return nil, err
	}
	if s.prints == nil {
		return nil, errNoFingerprints
	}
	if len(items) == 0 || len(items) > MaxMessageBatch {
		return nil, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/messages", Detail: fmt.Sprintf("must hold 1 to %d messages", MaxMessageBatch)})
	}
	now := subaccounts.Now()
	out := make([]IngestOutcome, len(items))
	var msgs []*message
	idx := make([]int, 0, len(items))
	for i, in := range items {
		m, errs := s.checkMessage(p, fmt.Sprintf("/messages/%d", i), in, now)
		if len(errs) > 0 {
			out[i].Err = subaccounts.Invalid(errs...)
			continue
		}
		msgs = append(msgs, m)
		idx = append(idx, i)
	}
	if len(msgs) > 0 {
		if err := s.writeGroup(ctx, msgs); err != nil {
			return nil, fmt.Errorf("ingest transactions: %w", err)
		}
	}
	for j, m := range msgs {
		out[idx[j]] = m.out
	}
	return out, nil
}

var errNoFingerprints = errors.New("no card fingerprint key is configured")

// ingest writes msgs in the transaction tx: duplicates of stored messages (or of earlier
// messages in msgs) get the stored one, messages whose card is active are routed into its
// subaccount, the rest are queued as unrouted. It sets each message's outcome and may run
// again if the transaction is retried.
func (s *Service) ingest(ctx context.Context, tx Store, msgs []*message, fast bool) error {
	byAccount := map[uuid.UUID][]*message{}
	var accounts []uuid.UUID
	for _, m := range msgs {
		m.out = IngestOutcome{}
		if _, ok := byAccount[m.tx.AccountID]; !ok {
			accounts = append(accounts, m.tx.AccountID)
		}
		byAccount[m.tx.AccountID] = append(byAccount[m.tx.AccountID], m)
	}
	// Accounts in one order, so groups charging several accounts lock them in one order.
	slices.SortFunc(accounts, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, accountID := range accounts {
		if err := s.ingestAccount(ctx, tx, accountID, byAccount[accountID], fast); err != nil {
			return err
		}
	}
	return nil
}

// errNeedsLock ends a group transaction that met a priced account: its fees need the
// account's row lock and the ledger, which only Transact's transaction offers, so the
// group is written again in one.
var errNeedsLock = errors.New("routing: the group charges a priced account")

// writeGroup writes msgs in one transaction: the store's group transaction (the fewest
// round trips), or Transact's when an account of the group charges for messages.
func (s *Service) writeGroup(ctx context.Context, msgs []*message) error {
	err := s.store.TransactGroup(ctx, func(ctx context.Context) error { return s.ingest(ctx, s.store, msgs, true) })
	if errors.Is(err, errNeedsLock) {
		err = s.store.Transact(ctx, func(ctx context.Context) error { return s.ingest(ctx, s.store, msgs, false) })
	}
	return err
}

// ingestAccount writes one account's messages of a group, in the caller's transaction,
// step by step: fees lock, the group's reads, dedupe, routing, insert and charge, races,
// repeats. fast says the transaction is a group transaction, which cannot charge.
func (s *Service) ingestAccount(ctx context.Context, tx Store, accountID uuid.UUID, msgs []*message, fast bool) error {
	g := &accountGroup{svc: s, tx: tx, accountID: accountID, msgs: msgs}
	if !fast {
		// A priced account is charged for every routed message in this transaction; its
		// row lock, taken first, keeps the balances still until the charges are written,
		// so the subaccounts read next are the ones charged.
		book, err := lockForFees(ctx, tx, accountID)
		if err != nil {
			return err
		}
		g.book = book
	}
	read, err := tx.LoadGroup(ctx, accountID, g.query())
	if err != nil {
		return err
	}
	if fast && read.Account != nil && read.Account.Contract.Pricing.Transaction != 0 {
		return errNeedsLock
	}
	g.dedupe(read.Stored)
	g.index(read)
	if err := g.route(); err != nil {
		return err
	}
	if err := g.insertAndCharge(ctx); err != nil {
		return err
	}
	if err := g.resolveRaces(ctx); err != nil {
		return err
	}
	g.answerRepeats()
	return nil
}

// accountGroup is one account's messages of a group as ingestAccount's steps work on
// them.
type accountGroup struct {
	svc       *Service
	tx        Store
	accountID uuid.UUID
	msgs      []*message
	book      *ledger.Book

	// first is the first message of each key; keys are those keys in arrival order.
	first map[subaccounts.TransactionKey]*message
	keys  []subaccounts.TransactionKey
	// fresh are the first messages whose key is not stored yet.
	fresh    []*message
	cardByID map[uuid.UUID]subaccounts.Card
	cardByFP map[string]subaccounts.Card
	// subs are the routing targets of the group's cards' live subaccounts.
	subs map[uuid.UUID]*routeTarget
	rows []subaccounts.Transaction
	// inserted are the ids of the rows this group wrote.
	inserted map[uuid.UUID]bool
}

// query finds the first message of each key (the repeats inside the group follow it)
// and names what the group must read: those keys, and the cards they name by id or by
// fingerprint, each once however many messages name it.
func (g *accountGroup) query() subaccounts.GroupQuery {
	g.keys = make([]subaccounts.TransactionKey, 0, len(g.msgs))
	g.first = make(map[subaccounts.TransactionKey]*message, len(g.msgs))
	var q subaccounts.GroupQuery
	seenID := map[uuid.UUID]bool{}
	seenFP := map[string]bool{}
	for _, m := range g.msgs {
		k := m.tx.Key()
		if _, dup := g.first[k]; dup {
			continue
		}
		g.first[k] = m
		g.keys = append(g.keys, k)
		if m.tx.RequestedCardID != nil {
			if id := *m.tx.RequestedCardID; !seenID[id] {
				seenID[id] = true
				q.CardIDs = append(q.CardIDs, id)
			}
			continue
		}
		for _, fp := range append([][]byte{m.fingerprint}, m.older...) {
			if !seenFP[string(fp)] {
				seenFP[string(fp)] = true
				q.Fingerprints = append(q.Fingerprints, fp)
			}
		}
	}
	q.Keys = g.keys
	return q
}

// dedupe answers the first messages stored before; only those not stored yet go on.
func (g *accountGroup) dedupe(stored []subaccounts.Transaction) {
	storedBy := make(map[subaccounts.TransactionKey]subaccounts.Transaction, len(stored))
	for _, t := range stored {
		storedBy[t.Key()] = t
	}
	for _, k := range g.keys {
		m := g.first[k]
		if t, ok := storedBy[k]; ok {
			m.out = storedOutcome(t)
		} else {
			g.fresh = append(g.fresh, m)
		}
	}
}

// index files the cards and subaccounts the group read.
func (g *accountGroup) index(read subaccounts.GroupRead) {
	g.cardByID = make(map[uuid.UUID]subaccounts.Card, len(read.Cards))
	g.cardByFP = make(map[string]subaccounts.Card, len(read.Cards))
	for _, c := range read.Cards {
		g.cardByID[c.ID] = c
		if c.Status == subaccounts.CardActive {
			g.cardByFP[string(c.Fingerprint)] = c
		}
	}
	g.subs = make(map[uuid.UUID]*routeTarget, len(read.Subaccounts))
	for i := range read.Subaccounts {
		sub := &read.Subaccounts[i]
		g.subs[sub.ID] = &routeTarget{id: sub.ID, version: sub.ConfigVersion, suspended: sub.Suspended, sub: sub}
	}
}

// cardOf is the card message m names, if the look-up found it.
func (g *accountGroup) cardOf(m *message) (subaccounts.Card, bool) {
	if m.tx.RequestedCardID != nil {
		c, ok := g.cardByID[*m.tx.RequestedCardID]
		return c, ok
	}
	if c, ok := g.cardByFP[string(m.fingerprint)]; ok {
		return c, true
	}
	for _, fp := range m.older {
		if c, ok := g.cardByFP[string(fp)]; ok {
			return c, true
		}
	}
	return subaccounts.Card{}, false
}

// route decides each fresh message: routed to its card's current subaccount under the
// configuration in force now (flagged out of policy where the pair is not permitted), or
// unrouted with the reason.
func (g *accountGroup) route() error {
	now := subaccounts.Now()
	g.rows = make([]subaccounts.Transaction, 0, len(g.fresh))
	for _, m := range g.fresh {
		card, found := g.cardOf(m)
		t := m.tx
		switch {
		case !found:
			unroute(&t, subaccounts.ReasonCardUnknown, m.fingerprint)
		case card.Status != subaccounts.CardActive:
			unroute(&t, subaccounts.ReasonCardRemoved, m.fingerprint)
		default:
			target := g.subs[card.SubaccountID]
			if target == nil {
				// The card's subaccount is gone; keep the message rather than lose it.
				unroute(&t, subaccounts.ReasonCardUnknown, m.fingerprint)
				break
			}
			if err := g.svc.compile(target); err != nil {
				return err
			}
			route(&t, card, target, now)
		}
		m.tx = t
		g.rows = append(g.rows, t)
	}
	return nil
}

// insertAndCharge inserts the decided rows and charges the fee of each routed one that
// this group wrote.
func (g *accountGroup) insertAndCharge(ctx context.Context) error {
	// Inserting in key order makes concurrent groups wait on each other's keys in one
	// order, so two groups holding overlapping keys cannot deadlock.
	slices.SortFunc(g.rows, func(a, b subaccounts.Transaction) int {
		return cmp.Or(strings.Compare(a.NetworkTransactionID, b.NetworkTransactionID), strings.Compare(string(a.Type), string(b.Type)))
	})
	inserted, err := g.tx.InsertTransactions(ctx, g.rows)
	if err != nil {
		return err
	}
	g.inserted = make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		g.inserted[id] = true
	}
	if err := g.record(ctx); err != nil {
		return err
	}
	if g.book == nil {
		return nil
	}
	fee := g.book.Account().Contract.Pricing.Transaction
	for _, t := range g.rows {
		if g.inserted[t.ID] && t.Routing == subaccounts.Routed {
			if err := g.book.Charge(g.subs[t.SubaccountID].sub, subaccounts.ChargeTransaction, t.ID, fee, false); err != nil {
				return err
			}
		}
	}
	return g.book.Flush(ctx, g.tx, g.svc.rec)
}

// record hands the rows this group wrote to the side records (their outbound events;
// the audit log keeps no transactions), in the group's transaction.
func (g *accountGroup) record(ctx context.Context) error {
	origins := g.origins()
	changes := make([]subaccounts.Change, 0, len(g.inserted))
	for _, t := range g.rows {
		if g.inserted[t.ID] {
			c := transactionChange(t)
			c.TraceParent = origins[t.ID]
			changes = append(changes, c)
		}
	}
	return g.svc.rec.Record(ctx, g.accountID, changes...)
}

// origins are the traceparents of the traced requests of the group's fresh messages, by
// transaction id, so each event continues its own request's trace rather than the
// group's; nil when none was traced.
func (g *accountGroup) origins() map[uuid.UUID]string {
	var out map[uuid.UUID]string
	for _, m := range g.fresh {
		if tp := traceParent(m.origin); tp != "" {
			if out == nil {
				out = make(map[uuid.UUID]string, len(g.fresh))
			}
			out[m.tx.ID] = tp
		}
	}
	return out
}

// transactionChange is the side record of a transaction written or routed: data for the
// events, not a change the audit log keeps.
func transactionChange(t subaccounts.Transaction) subaccounts.Change {
	action := "transaction.route"
	if t.Routing != subaccounts.Routed {
		action = "transaction.unroute"
	}
	return subaccounts.Change{Action: action, ResourceType: "transaction", ResourceID: t.ID.String(), After: t, Unaudited: true}
}

// resolveRaces answers the fresh messages: a message another writer stored between the
// look-up and the insert is a duplicate of what that writer stored.
func (g *accountGroup) resolveRaces(ctx context.Context) error {
	var raced []subaccounts.TransactionKey
	for _, m := range g.fresh {
		switch {
		case !g.inserted[m.tx.ID]:
			raced = append(raced, m.tx.Key())
		case m.tx.Routing == subaccounts.Routed:
			m.out = IngestOutcome{Status: IngestRouted, Transaction: m.tx}
		default:
			m.out = IngestOutcome{Status: IngestUnrouted, Transaction: m.tx}
		}
	}
	if len(raced) == 0 {
		return nil
	}
	again, err := g.tx.TransactionsByKey(ctx, g.accountID, raced)
	if err != nil {
		return err
	}
	for _, t := range again {
		g.first[t.Key()].out = storedOutcome(t)
	}
	for _, k := range raced {
		if g.first[k].out.Status == 0 {
			return fmt.Errorf("message %q/%s was neither inserted nor found", k.NetworkTransactionID, k.Type)
		}
	}
	return nil
}

// answerRepeats answers the repeats inside the group like a retry after the first one.
func (g *accountGroup) answerRepeats() {
	for _, m := range g.msgs {
		f := g.first[m.tx.Key()]
		if f == m {
			continue
		}
		m.out = f.out
		if m.out.Status == IngestRouted {
			m.out.Status = IngestDuplicate
		}
	}
}

func storedOutcome(t subaccounts.Transaction) IngestOutcome {
	if t.Routing == subaccounts.Routed {
		return IngestOutcome{Status: IngestDuplicate, Transaction: t}
	}
	return IngestOutcome{Status: IngestUnrouted, Transaction: t}
}

// lockForFees returns the book fees are charged on, with the account row locked,
// or nil when the account does not charge for transactions.
func lockForFees(ctx context.Context, tx Store, accountID uuid.UUID) (*ledger.Book, error) {
	a, err := tx.GetAccount(ctx, accountID, false)
	if errors.Is(err, subaccounts.ErrNotFound) {
		return nil, nil
	}
	if err != nil || a.Contract.Pricing.Transaction == 0 {
		return nil, err
	}
	if a, err = tx.GetAccount(ctx, accountID, true); err != nil {
		return nil, err
	}
	return ledger.NewBook(a, subaccounts.Now()), nil
}

// routeTarget is a subaccount's configuration as a routing decision needs it.
type routeTarget struct {
	id        uuid.UUID
	version   int64
	set       *policy.Set
	suspended bool
	// sub is the subaccount itself, which fees are charged to.
	sub *subaccounts.Subaccount
}

// routeTarget loads a live subaccount with its compiled configuration; nil when it no
// longer exists.
func (s *Service) routeTarget(ctx context.Context, tx Store, accountID, id uuid.UUID) (*routeTarget, error) {
	sub, err := tx.GetSubaccount(ctx, accountID, id)
	if errors.Is(err, subaccounts.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := &routeTarget{id: sub.ID, version: sub.ConfigVersion, suspended: sub.Suspended, sub: &sub}
	if err := s.compile(t); err != nil {
		return nil, err
	}
	return t, nil
}

// compile gives t its subaccount's compiled configuration. A configuration version is
// never reused with other contents, so the compiled set is kept by (subaccount,
// version): a group compiles only what changed since.
func (s *Service) compile(t *routeTarget) error {
	if t.set != nil {
		return nil
	}
	key := compiledKey{t.id, t.version}
	if set, ok := s.compiled.Load(key); ok {
		t.set = set.(*policy.Set)
		return nil
	}
	set, ferrs := policy.Compile(t.sub.Configurations)
	if len(ferrs) > 0 {
		return fmt.Errorf("stored configuration of subaccount %s is invalid: %s", t.id, ferrs[0].Detail)
	}
	if s.compiledN.Add(1) > maxCompiled {
		// A bound, not an LRU: past it the cache starts again.
		s.compiled.Clear()
		s.compiledN.Store(1)
	}
	s.compiled.Store(key, set)
	t.set = set
	return nil
}

// compiledKey names one version of a subaccount's configuration.
type compiledKey struct {
	id      uuid.UUID
	version int64
}

// maxCompiled bounds the compiled configurations a Service keeps.
const maxCompiled = 100_000

// unroute makes t an unrouted message held for reason.
func unroute(t *subaccounts.Transaction, reason string, fingerprint []byte) {
	t.Routing = subaccounts.Unrouted
	t.UnroutedReason = reason
	t.CardFingerprint = fingerprint
	t.SubaccountID, t.CardID, t.CardCountry, t.CardNetwork = uuid.Nil, uuid.Nil, "", 0
	t.RoutedAt, t.ConfigVersion, t.PolicyStatus = time.Time{}, 0, ""
	t.SubaccountSuspended = false
}

// route routes t to card's subaccount, flagging it out of policy where the pair is not
// permitted.
func route(t *subaccounts.Transaction, card subaccounts.Card, target *routeTarget, now time.Time) {
	t.Routing = subaccounts.Routed
	t.UnroutedReason = ""
	t.CardFingerprint = nil
	t.SubaccountID = target.id
	t.CardID = card.ID
	t.CardCountry = card.CountryCode
	t.CardNetwork = card.Network
	t.RoutedAt = now
	t.ConfigVersion = target.version
	t.SubaccountSuspended = target.suspended
	t.PolicyStatus = subaccounts.InPolicy
	if !target.set.Permits(card.CountryCode, card.Network) {
		// Recorded and flagged, never dropped: the network has already moved the money.
		t.PolicyStatus = subaccounts.OutOfPolicy
	}
}

// GetTransaction returns a routed transaction the principal may see, with its lifecycle:
// every routed message of the account sharing its network transaction id.
func (s *Service) GetTransaction(ctx context.Context, p subaccounts.Principal, id uuid.UUID) (subaccounts.Transaction, []subaccounts.Transaction, error) {
	t, err := s.store.GetTransaction(ctx, p.AccountID, id, false)
	if err != nil {
		return subaccounts.Transaction{}, nil, err
	}
	if t.Routing != subaccounts.Routed || !p.Sees(t.SubaccountID) {
		return subaccounts.Transaction{}, nil, subaccounts.NotFound("transaction")
	}
	life, err := s.store.Lifecycle(ctx, p.AccountID, t.NetworkTransactionID)
	if err != nil {
		return subaccounts.Transaction{}, nil, fmt.Errorf("transaction lifecycle: %w", err)
	}
	if p.Confined() {
		// A confined client sees only its own subaccount's part of the history.
		kept := life[:0]
		for _, l := range life {
			if p.Sees(l.SubaccountID) {
				kept = append(kept, l)
			}
		}
		life = kept
	}
	return t, life, nil
}

// TransactionQuery is a requested transaction list, as received.
type TransactionQuery struct {
	SubaccountID *uuid.UUID
	CardID       *uuid.UUID
	// Type, when set, is one of the TransactionType values.
	Type subaccounts.TransactionType
	subaccounts.Window
}

// ListTransactions returns one page of routed transactions the principal may see, in
// arrival order.
func (s *Service) ListTransactions(ctx context.Context, p subaccounts.Principal, q TransactionQuery, page subaccounts.Page) ([]subaccounts.Transaction, *uuid.UUID, error) {
	f := subaccounts.TransactionFilter{Routing: subaccounts.Routed, SubaccountID: q.SubaccountID, CardID: q.CardID, Type: q.Type, From: q.From, To: q.To}
	var visible bool
	if f.SubaccountID, visible = p.Narrow(f.SubaccountID); !visible {
		return []subaccounts.Transaction{}, nil, nil
	}
	items, err := s.store.ListTransactions(ctx, p.AccountID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list transactions: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(t subaccounts.Transaction) uuid.UUID { return t.ID })
	return items, next, nil
}

// ListSubaccountTransactions lists one subaccount's transactions; not-found when the
// principal cannot see the subaccount.
func (s *Service) ListSubaccountTransactions(ctx context.Context, p subaccounts.Principal, subaccountID uuid.UUID, q TransactionQuery, page subaccounts.Page) ([]subaccounts.Transaction, *uuid.UUID, error) {
	if !p.Sees(subaccountID) {
		return nil, nil, subaccounts.NotFound("subaccount")
	}
	if _, err := s.store.GetSubaccount(ctx, p.AccountID, subaccountID); err != nil {
		return nil, nil, err
	}
	q.SubaccountID = &subaccountID
	return s.ListTransactions(ctx, p, q, page)
}

// ListUnrouted returns one page of the account's unrouted queue.
func (s *Service) ListUnrouted(ctx context.Context, p subaccounts.Principal, page subaccounts.Page) ([]subaccounts.Transaction, *uuid.UUID, error) {
	if err := feedAllowed(p); err != nil {
		return nil, nil, err
	}
	items, err := s.store.ListTransactions(ctx, p.AccountID, subaccounts.TransactionFilter{Routing: subaccounts.Unrouted}, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list unrouted: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(t subaccounts.Transaction) uuid.UUID { return t.ID })
	return items, next, nil
}

// RetryUnrouted routes a queued message if its card now exists, keeping its id. When the
// card is still unknown or removed it stays queued with the reason updated, and the
// outcome says IngestUnrouted.
func (s *Service) RetryUnrouted(ctx context.Context, p subaccounts.Principal, id uuid.UUID) (IngestOutcome, error) {
	if err := feedAllowed(p); err != nil {
		return IngestOutcome{}, err
	}
	var out IngestOutcome
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		book, err := lockForFees(ctx, s.store, p.AccountID)
		if err != nil {
			return err
		}
		t, err := s.store.GetTransaction(ctx, p.AccountID, id, true)
		if err != nil {
			return err
		}
		if t.Routing != subaccounts.Unrouted {
			return subaccounts.NotFound("unrouted transaction")
		}
		var card subaccounts.Card
		found := false
		if t.RequestedCardID != nil {
			c, err := s.store.GetCard(ctx, p.AccountID, *t.RequestedCardID, false)
			switch {
			case err == nil:
				card, found = c, true
			case !errors.Is(err, subaccounts.ErrNotFound):
				return err
			}
		} else {
			cards, err := s.store.ActiveCardsByFingerprint(ctx, p.AccountID, [][]byte{t.CardFingerprint})
			if err != nil {
				return err
			}
			if len(cards) > 0 {
				card, found = cards[0], true
			}
		}
		reason := ""
		switch {
		case !found:
			reason = subaccounts.ReasonCardUnknown
		case card.Status != subaccounts.CardActive:
			reason = subaccounts.ReasonCardRemoved
		}
		var target *routeTarget
		if reason == "" {
			target, err = s.routeTarget(ctx, s.store, p.AccountID, card.SubaccountID)
			if err != nil {
				return err
			}
			if target == nil {
				reason = subaccounts.ReasonCardUnknown
			}
		}
		if reason != "" {
			if reason != t.UnroutedReason {
				if err := s.store.UpdateUnroutedReason(ctx, p.AccountID, id, reason); err != nil {
					return err
				}
				t.UnroutedReason = reason
			}
			out = IngestOutcome{Status: IngestUnrouted, Transaction: t}
			return nil
		}
		route(&t, card, target, subaccounts.Now())
		if err := s.store.RouteTransaction(ctx, t); err != nil {
			return err
		}
		if err := s.rec.Record(ctx, p.AccountID, transactionChange(t)); err != nil {
			return err
		}
		if book != nil {
			if err := book.Charge(target.sub, subaccounts.ChargeTransaction, t.ID, book.Account().Contract.Pricing.Transaction, false); err != nil {
				return err
			}
			if err := book.Flush(ctx, s.store, s.rec); err != nil {
				return err
			}
		}
		out = IngestOutcome{Status: IngestRouted, Transaction: t}
		return nil
	})
	if err != nil {
		return IngestOutcome{}, fmt.Errorf("retry unrouted: %w", err)
	}
	return out, nil
}

// Service routes network messages. It is safe for concurrent use; Close (or Shutdown) it
// to stop its group committer.
type Service struct {
	store     Store
	rec       subaccounts.Recorder
	prints    *pan.Fingerprints
	committer *groupcommit.Committer[*message]
	observe   func(Tally)
	// compiled caches compiled configurations by compiledKey; compiledN counts them.
	compiled  sync.Map
	compiledN atomic.Int64
}

// NewService returns the routing service over store; rec receives what its changes
// record beside themselves, prints fingerprints card numbers (nil: ingestion fails), and
// g tunes the group commit (the zero value is DefaultGroupCommit).
func NewService(store Store, rec subaccounts.Recorder, prints *pan.Fingerprints, g GroupCommit) *Service {
	if g.MaxBatch == 0 && g.MaxWait == 0 && g.Writers == 0 {
		g.MaxBatch, g.MaxWait, g.Writers = DefaultGroupCommit.MaxBatch, DefaultGroupCommit.MaxWait, DefaultGroupCommit.Writers
	}
	s := &Service{store: store, rec: rec, prints: prints}
	s.committer = newCommitter(s, g)
	return s
}

// Close writes the messages still queued for the group commit and stops it. Call it after
// the HTTP server stopped taking requests.
func (s *Service) Close() { s.committer.Close() }

// Shutdown stops the group committer like Close, but within ctx: when ctx ends before the
// queued messages are written, the transactions still open are cancelled (their requests
// get the error; nothing unanswered commits) and ctx's error is returned.
func (s *Service) Shutdown(ctx context.Context) error { return s.committer.Shutdown(ctx) }
