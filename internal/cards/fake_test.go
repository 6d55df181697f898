package cards_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// txKey marks a context as carrying the fake's transaction; its value is the depth.
type txKey struct{}

func txDepth(ctx context.Context) int {
	d, _ := ctx.Value(txKey{}).(int)
	return d
}

// fakeStore is an in-memory cards.Store and subaccounts.Recorder over one account.
// Transact snapshots the state before fn and restores it when fn fails (a nested call
// restores only what its own fn did). Writes outside a transaction are counted.
type fakeStore struct {
	mu        sync.Mutex
	st        fakeState
	outsideTx int
}

type fakeState struct {
	account subaccounts.Account
	subs    map[uuid.UUID]subaccounts.Subaccount
	cards   map[uuid.UUID]subaccounts.Card
	entries []subaccounts.Entry
	changes []subaccounts.Change
}

func (s fakeState) clone() fakeState {
	return fakeState{account: s.account, subs: maps.Clone(s.subs), cards: maps.Clone(s.cards), entries: slices.Clone(s.entries), changes: slices.Clone(s.changes)}
}

var (
	_ cards.Store          = (*fakeStore)(nil)
	_ subaccounts.Recorder = (*fakeStore)(nil)
)

func newFakeStore(a subaccounts.Account) *fakeStore {
	return &fakeStore{st: fakeState{account: a, subs: map[uuid.UUID]subaccounts.Subaccount{}, cards: map[uuid.UUID]subaccounts.Card{}}}
}

func (f *fakeStore) state() fakeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.clone()
}

func (f *fakeStore) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	before := f.state()
	if err := fn(context.WithValue(ctx, txKey{}, txDepth(ctx)+1)); err != nil {
		f.mu.Lock()
		f.st = before
		f.mu.Unlock()
		return err
	}
	return nil
}

// write locks the fake and counts a write outside a transaction; the caller unlocks.
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
	if a.ID != f.st.account.ID {
		return subaccounts.NotFound("account")
	}
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

// TransactGroup is Transact: the fake has no cheaper transaction.
func (f *fakeStore) TransactGroup(ctx context.Context, fn func(ctx context.Context) error) error {
	return f.Transact(ctx, fn)
}

// InTransaction reports whether ctx carries the fake's transaction.
func (f *fakeStore) InTransaction(ctx context.Context) bool { return txDepth(ctx) > 0 }

// LoadEnrolments is LoadEnrolment per key, as the store does on SQLite.
func (f *fakeStore) LoadEnrolments(ctx context.Context, keys []subaccounts.SubaccountKey) ([]subaccounts.EnrolmentRead, error) {
	out := make([]subaccounts.EnrolmentRead, len(keys))
	for i, k := range keys {
		out[i].Account, out[i].Subaccount, out[i].Err = f.LoadEnrolment(ctx, k.AccountID, k.SubaccountID)
	}
	return out, nil
}

// LoadEnrolment is GetAccount and ShareSubaccount, as the store does on SQLite.
func (f *fakeStore) LoadEnrolment(ctx context.Context, accountID, subaccountID uuid.UUID) (subaccounts.Account, subaccounts.Subaccount, error) {
	a, err := f.GetAccount(ctx, accountID, false)
	if err != nil {
		return a, subaccounts.Subaccount{}, err
	}
	s, err := f.ShareSubaccount(ctx, accountID, subaccountID)
	return a, s, err
}

func (f *fakeStore) ShareSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	return f.GetSubaccount(ctx, accountID, id)
}

// activeHolder returns the account's active card with fingerprint fp; the caller holds
// the lock.
func (f *fakeStore) activeHolder(fp []byte) (subaccounts.Card, bool) {
	for _, c := range f.st.cards {
		if c.Status == subaccounts.CardActive && bytes.Equal(c.Fingerprint, fp) {
			return c, true
		}
	}
	return subaccounts.Card{}, false
}

func (f *fakeStore) CreateCards(ctx context.Context, cs []subaccounts.Card) ([]uuid.UUID, error) {
	f.write(ctx)
	defer f.mu.Unlock()
	var ids []uuid.UUID
	for _, c := range cs {
		if c.AccountID != f.st.account.ID {
			return nil, errors.New("card of another account")
		}
		if _, held := f.activeHolder(c.Fingerprint); held {
			continue
		}
		f.st.cards[c.ID] = c
		ids = append(ids, c.ID)
	}
	return ids, nil
}

func (f *fakeStore) ActiveCardsByFingerprint(ctx context.Context, accountID uuid.UUID, fingerprints [][]byte) ([]subaccounts.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []subaccounts.Card
	for _, fp := range fingerprints {
		if c, ok := f.activeHolder(fp); ok && accountID == f.st.account.ID {
			out = append(out, c)
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

func (f *fakeStore) ListCards(ctx context.Context, accountID uuid.UUID, fl subaccounts.CardFilter, p subaccounts.Page) ([]subaccounts.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []subaccounts.Card
	for _, c := range f.st.cards {
		if c.AccountID != accountID || (fl.SubaccountID != nil && c.SubaccountID != *fl.SubaccountID) || (fl.Status != "" && c.Status != fl.Status) {
			continue
		}
		if bytes.Compare(c.ID[:], p.After[:]) <= 0 {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b subaccounts.Card) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	if len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out, nil
}

func (f *fakeStore) UpdateCard(ctx context.Context, c subaccounts.Card) error {
	f.write(ctx)
	defer f.mu.Unlock()
	if _, ok := f.st.cards[c.ID]; !ok {
		return subaccounts.NotFound("card")
	}
	f.st.cards[c.ID] = c
	return nil
}

func (f *fakeStore) CountActiveCards(ctx context.Context, accountID, subaccountID uuid.UUID) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, c := range f.st.cards {
		if c.SubaccountID == subaccountID && c.Status == subaccounts.CardActive {
			n++
		}
	}
	return n, nil
}

// activeIn returns the active cards of a subaccount.
func (s fakeState) activeIn(sub uuid.UUID) []subaccounts.Card {
	var out []subaccounts.Card
	for _, c := range s.cards {
		if c.SubaccountID == sub && c.Status == subaccounts.CardActive {
			out = append(out, c)
		}
	}
	return out
}

// Fixture helpers.

func addr[T any](v T) *T { return &v }

// fingerprints returns a fingerprint set under a fresh master key.
func fingerprints(t *testing.T) *pan.Fingerprints {
	t.Helper()
	fps, err := keystest.Ring(t).Fingerprinters()
	if err != nil {
		t.Fatal(err)
	}
	return pan.NewFingerprints(fps)
}

// cardIn is a valid enrolment of number issued in country.
func cardIn(number, country string) cards.CardInput {
	return cards.CardInput{Number: addr(number), ExpMonth: addr(12), ExpYear: addr(subaccounts.Now().Year() + 2), CountryCode: addr(country), TermsOfUse: addr(true)}
}

// fixture is an account whose contract permits DEU and FRA on both networks, with
// pricing price per enrolment.
type fixture struct {
	f   *fakeStore
	a   subaccounts.Account
	svc *cards.Service
}

func newFixture(t *testing.T, price int64) fixture {
	t.Helper()
	a := subaccounts.Account{
		ID: uuid.Must(uuid.NewV7()), Name: "acme",
		Contract: subaccounts.Contract{
			Configurations: []policy.Configuration{{Countries: []string{"DEU", "FRA"}, Networks: []string{"VISA", "MASTERCARD"}}},
			MaxSubaccounts: 10, Currency: "EUR", Pricing: subaccounts.Pricing{CardEnrolment: price},
		},
	}
	f := newFakeStore(a)
	return fixture{f: f, a: a, svc: cards.NewService(f, f, fingerprints(t))}
}

// sub stores a subaccount permitting DEU on both networks, after edit.
func (fx fixture) sub(edit func(*subaccounts.Subaccount)) subaccounts.Subaccount {
	s := subaccounts.Subaccount{
		ID: uuid.Must(uuid.NewV7()), AccountID: fx.a.ID, Name: "team", ConfigVersion: 1, Version: 1, UsePrimaryBalance: true,
		Configurations: []policy.Configuration{{Countries: []string{"DEU"}, Networks: []string{"VISA", "MASTERCARD"}}},
	}
	if edit != nil {
		edit(&s)
	}
	fx.f.mu.Lock()
	defer fx.f.mu.Unlock()
	fx.f.st.subs[s.ID] = s
	return s
}

func (fx fixture) principal() subaccounts.Principal {
	return subaccounts.Principal{AccountID: fx.a.ID}
}

// wantError fails unless err is (or wraps) a *subaccounts.Error of code, and returns it.
func wantError(t *testing.T, err error, code subaccounts.Code) *subaccounts.Error {
	t.Helper()
	var se *subaccounts.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *subaccounts.Error %s", err, code)
	}
	if se.Code != code {
		t.Fatalf("error code %s (%v), want %s", se.Code, err, code)
	}
	return se
}
