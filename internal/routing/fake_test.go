package routing_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// txKey marks a context as carrying the fake's transaction; its value is the depth.
type txKey struct{}

func txDepth(ctx context.Context) int {
	d, _ := ctx.Value(txKey{}).(int)
	return d
}

// fakeStore is an in-memory routing.Store and subaccounts.Recorder over one account.
// Outermost transactions run one at a time (as SQLite's do), so each can snapshot the
// state before fn and restore it when fn fails; a nested Transact is a savepoint that
// restores only what its own fn did.
type fakeStore struct {
	txMu      sync.Mutex // held by the outermost transaction
	mu        sync.Mutex // guards st
	st        fakeState
	outsideTx int
}

type fakeState struct {
	account subaccounts.Account
	subs    map[uuid.UUID]subaccounts.Subaccount
	cards   map[uuid.UUID]subaccounts.Card
	txs     map[uuid.UUID]subaccounts.Transaction
	entries []subaccounts.Entry
	changes []subaccounts.Change
}

func (s fakeState) clone() fakeState {
	return fakeState{account: s.account, subs: maps.Clone(s.subs), cards: maps.Clone(s.cards), txs: maps.Clone(s.txs),
		entries: slices.Clone(s.entries), changes: slices.Clone(s.changes)}
}

var (
	_ routing.Store        = (*fakeStore)(nil)
	_ subaccounts.Recorder = (*fakeStore)(nil)
)

func (f *fakeStore) state() fakeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.clone()
}

func (f *fakeStore) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	if txDepth(ctx) == 0 {
		f.txMu.Lock()
		defer f.txMu.Unlock()
	}
	before := f.state()
	if err := fn(context.WithValue(ctx, txKey{}, txDepth(ctx)+1)); err != nil {
		f.mu.Lock()
		f.st = before
		f.mu.Unlock()
		return err
	}
	return nil
}

func (f *fakeStore) InTransaction(ctx context.Context) bool { return txDepth(ctx) > 0 }

// TransactGroup is Transact: the fake has no cheaper transaction.
func (f *fakeStore) TransactGroup(ctx context.Context, fn func(ctx context.Context) error) error {
	return f.Transact(ctx, fn)
}

// LoadGroup answers from the fake's own look-ups, as the store does on SQLite.
func (f *fakeStore) LoadGroup(ctx context.Context, accountID uuid.UUID, q subaccounts.GroupQuery) (subaccounts.GroupRead, error) {
	var out subaccounts.GroupRead
	if a, err := f.GetAccount(ctx, accountID, false); err == nil {
		out.Account = &a
	}
	var err error
	if out.Stored, err = f.TransactionsByKey(ctx, accountID, q.Keys); err != nil {
		return out, err
	}
	byID, err := f.GetCards(ctx, accountID, q.CardIDs)
	if err != nil {
		return out, err
	}
	byFP, err := f.ActiveCardsByFingerprint(ctx, accountID, q.Fingerprints)
	if err != nil {
		return out, err
	}
	out.Cards = append(byID, byFP...)
	for _, c := range out.Cards {
		if s, err := f.GetSubaccount(ctx, accountID, c.SubaccountID); err == nil {
			out.Subaccounts = append(out.Subaccounts, s)
		}
	}
	return out, nil
}

// write locks the state and counts a write outside a transaction; the caller unlocks.
func (f *fakeStore) write(ctx context.Context) {
	f.mu.Lock()
	if txDepth(ctx) == 0 {
		f.outsideTx++
	}
}

func (f *fakeStore) Record(ctx context.Context, accountID uuid.UUID, changes ...subaccounts.Change) error {
	f.write(ctx)
	defer f.mu.Unlock()
	f.st.changes = append(f.st.changes, changes...)
	return nil
}

func (f *fakeStore) UpdateAccount(ctx context.Context, a subaccounts.Account) error {
	f.write(ctx)
	defer f.mu.Unlock()
	f.st.account = a
	return nil
}

func (f *fakeStore) UpdateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error {
	f.write(ctx)
	defer f.mu.Unlock()
	if _, ok := f.st.subs[s.ID]; !ok {
		return subaccounts.NotFound("subaccount")
	}
	f.st.subs[s.ID] = s
	return nil
}

func (f *fakeStore) InsertLedgerEntries(ctx context.Context, entries []subaccounts.Entry) error {
	f.write(ctx)
	defer f.mu.Unlock()
	f.st.entries = append(f.st.entries, entries...)
	return nil
}

func (f *fakeStore) GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.st.account.ID {
		return subaccounts.Account{}, subaccounts.NotFound("account")
	}
	return f.st.account, nil
}

func (f *fakeStore) GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.st.subs[id]
	if !ok || s.AccountID != accountID {
		return subaccounts.Subaccount{}, subaccounts.NotFound("subaccount")
	}
	return s, nil
}

func (f *fakeStore) GetCards(ctx context.Context, accountID uuid.UUID, ids []uuid.UUID) ([]subaccounts.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []subaccounts.Card
	for _, id := range ids {
		if c, ok := f.st.cards[id]; ok && c.AccountID == accountID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeStore) ActiveCardsByFingerprint(ctx context.Context, accountID uuid.UUID, fingerprints [][]byte) ([]subaccounts.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []subaccounts.Card
	for _, c := range f.st.cards {
		if c.AccountID != accountID || c.Status != subaccounts.CardActive {
			continue
		}
		for _, fp := range fingerprints {
			if bytes.Equal(c.Fingerprint, fp) {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

func (f *fakeStore) GetCard(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.st.cards[id]
	if !ok || c.AccountID != accountID {
		return subaccounts.Card{}, subaccounts.NotFound("card")
	}
	return c, nil
}

// byKey returns the stored message with key k; the caller holds mu.
func (f *fakeStore) byKey(accountID uuid.UUID, k subaccounts.TransactionKey) (subaccounts.Transaction, bool) {
	for _, t := range f.st.txs {
		if t.AccountID == accountID && t.Key() == k {
			return t, true
		}
	}
	return subaccounts.Transaction{}, false
}

func (f *fakeStore) InsertTransactions(ctx context.Context, txs []subaccounts.Transaction) ([]uuid.UUID, error) {
	f.write(ctx)
	defer f.mu.Unlock()
	var ids []uuid.UUID
	for _, t := range txs {
		if _, dup := f.byKey(t.AccountID, t.Key()); dup {
			continue
		}
		f.st.txs[t.ID] = t
		ids = append(ids, t.ID)
	}
	return ids, nil
}

func (f *fakeStore) TransactionsByKey(ctx context.Context, accountID uuid.UUID, keys []subaccounts.TransactionKey) ([]subaccounts.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []subaccounts.Transaction
	for _, k := range keys {
		if t, ok := f.byKey(accountID, k); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeStore) GetTransaction(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.st.txs[id]
	if !ok || t.AccountID != accountID {
		return subaccounts.Transaction{}, subaccounts.NotFound("transaction")
	}
	return t, nil
}

var errNotFaked = errors.New("not faked")

func (f *fakeStore) ListTransactions(ctx context.Context, accountID uuid.UUID, fl subaccounts.TransactionFilter, p subaccounts.Page) ([]subaccounts.Transaction, error) {
	return nil, errNotFaked
}

func (f *fakeStore) Lifecycle(ctx context.Context, accountID uuid.UUID, networkTransactionID string) ([]subaccounts.Transaction, error) {
	return nil, errNotFaked
}

func (f *fakeStore) RouteTransaction(ctx context.Context, t subaccounts.Transaction) error {
	f.write(ctx)
	defer f.mu.Unlock()
	old, ok := f.st.txs[t.ID]
	if !ok || old.Routing != subaccounts.Unrouted {
		return subaccounts.NotFound("unrouted transaction")
	}
	f.st.txs[t.ID] = t
	return nil
}

func (f *fakeStore) UpdateUnroutedReason(ctx context.Context, accountID, id uuid.UUID, reason string) error {
	f.write(ctx)
	defer f.mu.Unlock()
	t, ok := f.st.txs[id]
	if !ok || t.Routing != subaccounts.Unrouted {
		return subaccounts.NotFound("unrouted transaction")
	}
	t.UnroutedReason = reason
	f.st.txs[id] = t
	return nil
}

// Fixture helpers.

func addr[T any](v T) *T { return &v }

// fakeFixture is an account whose contract permits DEU on both networks, with one
// subaccount permitting DEU on VISA only, and a service routing over the fake.
type fakeFixture struct {
	f      *fakeStore
	prints *pan.Fingerprints
	a      subaccounts.Account
	sub    subaccounts.Subaccount
	svc    *routing.Service
	p      subaccounts.Principal
}

func newFakeFixture(t *testing.T, price int64, g routing.GroupCommit) *fakeFixture {
	t.Helper()
	fps, err := keystest.Ring(t).Fingerprinters()
	if err != nil {
		t.Fatal(err)
	}
	prints := pan.NewFingerprints(fps)
	a := subaccounts.Account{ID: uuid.Must(uuid.NewV7()), Name: "acme", Contract: subaccounts.Contract{
		Configurations: []policy.Configuration{{Countries: []string{"DEU"}, Networks: []string{"VISA", "MASTERCARD"}}},
		Currency:       "EUR", Pricing: subaccounts.Pricing{Transaction: price},
	}}
	sub := subaccounts.Subaccount{ID: uuid.Must(uuid.NewV7()), AccountID: a.ID, Name: "shop", ConfigVersion: 3,
		Configurations: []policy.Configuration{{Countries: []string{"DEU"}, Networks: []string{"VISA"}}}}
	f := &fakeStore{st: fakeState{account: a, subs: map[uuid.UUID]subaccounts.Subaccount{sub.ID: sub},
		cards: map[uuid.UUID]subaccounts.Card{}, txs: map[uuid.UUID]subaccounts.Transaction{}}}
	svc := routing.NewService(f, f, prints, g)
	t.Cleanup(svc.Close)
	return &fakeFixture{f: f, prints: prints, a: a, sub: sub, svc: svc, p: subaccounts.Principal{AccountID: a.ID}}
}

// card stores a card of number issued in country, in sub, with status.
func (fx *fakeFixture) card(t *testing.T, sub uuid.UUID, number, country string, status subaccounts.CardStatus) subaccounts.Card {
	t.Helper()
	n, err := pan.Parse(number)
	if err != nil {
		t.Fatal(err)
	}
	c := subaccounts.Card{
		ID: uuid.Must(uuid.NewV7()), AccountID: fx.a.ID, SubaccountID: sub, Network: n.Network(), CountryCode: country,
		FirstNumbers: n.First6(), LastNumbers: n.Last4(), ExpMonth: 12, ExpYear: time.Now().Year() + 2,
		Fingerprint: fx.prints.Current().Fingerprint(fx.a.ID, n), FingerprintKeyVersion: fx.prints.Current().Version(),
		Status: status, PolicyStatus: subaccounts.InPolicy,
	}
	fx.f.mu.Lock()
	defer fx.f.mu.Unlock()
	fx.f.st.cards[c.ID] = c
	return c
}

// message is a valid network message naming card (an id, or else a card number).
func message(ntid, typ, card string) routing.MessageInput {
	in := routing.MessageInput{
		NetworkTransactionID: addr(ntid), Type: addr(typ), Amount: addr(int64(1250)), Currency: addr("EUR"),
		Datetime: addr("2026-11-20T10:00:00Z"),
		Merchant: &routing.MerchantInput{Name: addr("Café"), MCC: addr("5812"), CountryCode: addr("DEU")},
	}
	if len(card) == 36 {
		in.CardID = addr(card)
	} else {
		in.CardNumber = addr(card)
	}
	return in
}
