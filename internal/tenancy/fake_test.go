package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

// txKey marks a context as carrying the fake's transaction; its value is the depth.
type txKey struct{}

func txDepth(ctx context.Context) int {
	d, _ := ctx.Value(txKey{}).(int)
	return d
}

// fakeCard is an enrolled card as the tenancy store sees it: its subaccount, pair and
// statuses.
type fakeCard struct {
	sub    uuid.UUID
	pair   policy.Pair
	status subaccounts.CardStatus
	policy subaccounts.PolicyStatus
}

// fakeStore is an in-memory tenancy.Store and subaccounts.Recorder. Transact snapshots
// every map before fn and restores it when fn fails; a nested Transact is a savepoint
// that restores only what its own fn did. Writes outside a transaction are counted.
type fakeStore struct {
	mu        sync.Mutex
	st        fakeState
	outsideTx int
}

type fakeState struct {
	accounts map[uuid.UUID]subaccounts.Account
	subs     map[uuid.UUID]subaccounts.Subaccount
	deleted  map[uuid.UUID]subaccounts.Subaccount
	pairs    map[uuid.UUID][]policy.Pair // entitlement rows per subaccount
	cards    map[uuid.UUID]fakeCard
	entries  []subaccounts.Entry
	changes  []subaccounts.Change
}

func (s fakeState) clone() fakeState {
	return fakeState{
		accounts: maps.Clone(s.accounts), subs: maps.Clone(s.subs), deleted: maps.Clone(s.deleted),
		pairs: maps.Clone(s.pairs), cards: maps.Clone(s.cards),
		entries: slices.Clone(s.entries), changes: slices.Clone(s.changes),
	}
}

var (
	_ tenancy.Store        = (*fakeStore)(nil)
	_ subaccounts.Recorder = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore {
	return &fakeStore{st: fakeState{
		accounts: map[uuid.UUID]subaccounts.Account{}, subs: map[uuid.UUID]subaccounts.Subaccount{},
		deleted: map[uuid.UUID]subaccounts.Subaccount{}, pairs: map[uuid.UUID][]policy.Pair{},
		cards: map[uuid.UUID]fakeCard{},
	}}
}

// state returns a copy of everything the fake holds.
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

// write locks the fake for a write and counts one made outside a transaction; the
// caller unlocks.
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
	if _, ok := f.st.accounts[a.ID]; !ok {
		return subaccounts.NotFound("account")
	}
	f.st.accounts[a.ID] = a
	return nil
}

func (f *fakeStore) UpdateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error {
	f.write(ctx)
	defer f.mu.Unlock()
	if old, ok := f.st.subs[s.ID]; !ok || old.AccountID != s.AccountID {
		return subaccounts.NotFound("subaccount")
	}
	for id, o := range f.st.subs {
		if id != s.ID && o.AccountID == s.AccountID && o.Name == s.Name {
			return subaccounts.ErrConflict
		}
	}
	f.st.subs[s.ID] = s
	if pairs != nil {
		f.st.pairs[s.ID] = slices.Clone(pairs)
	}
	return nil
}

func (f *fakeStore) InsertLedgerEntries(ctx context.Context, entries []subaccounts.Entry) error {
	f.write(ctx)
	defer f.mu.Unlock()
	f.st.entries = append(f.st.entries, entries...)
	return nil
}

func (f *fakeStore) HasLedgerEntries(ctx context.Context, accountID uuid.UUID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.st.entries {
		if e.AccountID == accountID {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeStore) CreateAccount(ctx context.Context, a subaccounts.Account) error {
	f.write(ctx)
	defer f.mu.Unlock()
	f.st.accounts[a.ID] = a
	return nil
}

func (f *fakeStore) GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.st.accounts[id]
	if !ok {
		return subaccounts.Account{}, subaccounts.NotFound("account")
	}
	return a, nil
}

var errNotFaked = errors.New("not faked")

func (f *fakeStore) ListAccounts(ctx context.Context, p subaccounts.Page) ([]subaccounts.Account, error) {
	return nil, errNotFaked
}

func (f *fakeStore) CreateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error {
	f.write(ctx)
	defer f.mu.Unlock()
	for _, o := range f.st.subs {
		if o.AccountID == s.AccountID && o.Name == s.Name {
			return subaccounts.ErrConflict
		}
	}
	f.st.subs[s.ID] = s
	f.st.pairs[s.ID] = slices.Clone(pairs)
	return nil
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

func (f *fakeStore) ListSubaccounts(ctx context.Context, accountID uuid.UUID, fl subaccounts.SubaccountFilter, p subaccounts.Page) ([]subaccounts.Subaccount, error) {
	return nil, errNotFaked
}

func (f *fakeStore) AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []subaccounts.Subaccount
	for _, s := range f.st.subs {
		if s.AccountID == accountID {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b subaccounts.Subaccount) int { return slices.Compare(a.ID[:], b.ID[:]) })
	return out, nil
}

func (f *fakeStore) CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error) {
	subs, err := f.AllSubaccounts(ctx, accountID)
	return len(subs), err
}

func (f *fakeStore) DeleteSubaccount(ctx context.Context, accountID, id uuid.UUID) error {
	f.write(ctx)
	defer f.mu.Unlock()
	s, ok := f.st.subs[id]
	if !ok || s.AccountID != accountID {
		return subaccounts.NotFound("subaccount")
	}
	delete(f.st.subs, id)
	f.st.deleted[id] = s
	return nil
}

// activeCards returns the active cards of a subaccount; the caller holds the lock.
func (f *fakeStore) activeCards(sub uuid.UUID) map[uuid.UUID]fakeCard {
	out := map[uuid.UUID]fakeCard{}
	for id, c := range f.st.cards {
		if c.sub == sub && c.status == subaccounts.CardActive {
			out[id] = c
		}
	}
	return out
}

func (f *fakeStore) CountActiveCards(ctx context.Context, accountID, subaccountID uuid.UUID) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.activeCards(subaccountID))), nil
}

func (f *fakeStore) CardPairCounts(ctx context.Context, accountID, subaccountID uuid.UUID) ([]subaccounts.PairCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	counts := map[policy.Pair]int64{}
	for _, c := range f.activeCards(subaccountID) {
		counts[c.pair]++
	}
	var out []subaccounts.PairCount
	for p, n := range counts {
		out = append(out, subaccounts.PairCount{Pair: p, Cards: n})
	}
	slices.SortFunc(out, func(a, b subaccounts.PairCount) int { return cmpPair(a.Pair, b.Pair) })
	return out, nil
}

func cmpPair(a, b policy.Pair) int {
	if a.Country != b.Country {
		if a.Country < b.Country {
			return -1
		}
		return 1
	}
	return int(a.Network) - int(b.Network)
}

func (f *fakeStore) RecomputeCardPolicy(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) ([]subaccounts.Card, error) {
	f.write(ctx)
	defer f.mu.Unlock()
	var changed []subaccounts.Card
	for id, c := range f.activeCards(subaccountID) {
		want := subaccounts.OutOfPolicy
		if slices.Contains(f.st.pairs[subaccountID], c.pair) {
			want = subaccounts.InPolicy
		}
		if c.policy != want {
			c.policy = want
			f.st.cards[id] = c
			changed = append(changed, subaccounts.Card{ID: id, AccountID: accountID, SubaccountID: subaccountID, Status: subaccounts.CardActive, PolicyStatus: want, UpdatedAt: at})
		}
	}
	return changed, nil
}

func (f *fakeStore) RemoveSubaccountCards(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) (int64, error) {
	f.write(ctx)
	defer f.mu.Unlock()
	var n int64
	for id, c := range f.activeCards(subaccountID) {
		c.status = subaccounts.CardRemoved
		f.st.cards[id] = c
		n++
	}
	return n, nil
}

// Fixture helpers.

func cfg(countries string, networks ...string) policy.Configuration {
	var cs []string
	for i := 0; i+3 <= len(countries); i += 4 {
		cs = append(cs, countries[i:i+3])
	}
	return policy.Configuration{Countries: cs, Networks: networks}
}

func addr[T any](v T) *T { return &v }

// seedAccount stores an account with the given contract.
func (f *fakeStore) seedAccount(t *testing.T, maxSubs int, configs ...policy.Configuration) subaccounts.Account {
	t.Helper()
	set := policy.MustCompile(configs)
	a := subaccounts.Account{
		ID: uuid.Must(uuid.NewV7()), Name: "acme", Version: 1,
		Contract: subaccounts.Contract{Configurations: set.Normalize(), MaxSubaccounts: maxSubs, Version: 1, Currency: "EUR"},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.accounts[a.ID] = a
	return a
}

// seedSub stores a subaccount of a with configs, its entitlement rows and cards of the
// given pairs (in-policy where configs permit them).
func (f *fakeStore) seedSub(t *testing.T, a subaccounts.Account, name string, configs []policy.Configuration, cards ...policy.Pair) subaccounts.Subaccount {
	t.Helper()
	set := policy.MustCompile(configs)
	s := subaccounts.Subaccount{
		ID: uuid.Must(uuid.NewV7()), AccountID: a.ID, Name: name, Configurations: set.Normalize(),
		ConfigVersion: 1, Version: 1, UsePrimaryBalance: true, Metadata: map[string]string{},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.subs[s.ID] = s
	f.st.pairs[s.ID] = set.Pairs()
	for _, p := range cards {
		st := subaccounts.OutOfPolicy
		if set.Permits(p.Country, p.Network) {
			st = subaccounts.InPolicy
		}
		f.st.cards[uuid.Must(uuid.NewV7())] = fakeCard{sub: s.ID, pair: p, status: subaccounts.CardActive, policy: st}
	}
	return s
}

// policyCounts counts a subaccount's active cards by policy status.
func (s fakeState) policyCounts(sub uuid.UUID) map[subaccounts.PolicyStatus]int {
	out := map[subaccounts.PolicyStatus]int{}
	for _, c := range s.cards {
		if c.sub == sub && c.status == subaccounts.CardActive {
			out[c.policy]++
		}
	}
	return out
}

// wantError fails unless err is (or wraps) a *subaccounts.Error of code and returns it.
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

// wantUnchanged fails when the store's state differs from before in what a refused or
// dry-run change must not touch.
func wantUnchanged(t *testing.T, before, after fakeState) {
	t.Helper()
	if d := diffState(before, after); d != "" {
		t.Errorf("store changed: %s", d)
	}
}

func diffState(a, b fakeState) string {
	switch {
	case fmt.Sprint(a.accounts) != fmt.Sprint(b.accounts):
		return fmt.Sprintf("accounts %v → %v", a.accounts, b.accounts)
	case fmt.Sprint(a.subs) != fmt.Sprint(b.subs):
		return fmt.Sprintf("subaccounts %v → %v", a.subs, b.subs)
	case fmt.Sprint(a.deleted) != fmt.Sprint(b.deleted):
		return fmt.Sprintf("deleted %v → %v", a.deleted, b.deleted)
	case fmt.Sprint(a.pairs) != fmt.Sprint(b.pairs):
		return fmt.Sprintf("entitlements %v → %v", a.pairs, b.pairs)
	case fmt.Sprint(a.cards) != fmt.Sprint(b.cards):
		return fmt.Sprintf("cards %v → %v", a.cards, b.cards)
	case len(a.entries) != len(b.entries):
		return fmt.Sprintf("entries %v → %v", a.entries, b.entries)
	case len(a.changes) != len(b.changes):
		return fmt.Sprintf("changes %v → %v", a.changes, b.changes)
	}
	return ""
}
