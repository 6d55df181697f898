package ledger_test

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

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// txKey marks a context as carrying the fake's transaction; its value is the depth.
type txKey struct{}

func txDepth(ctx context.Context) int {
	d, _ := ctx.Value(txKey{}).(int)
	return d
}

// fakeStore is an in-memory ledger.Store and subaccounts.Recorder over one account. Its
// Transact snapshots the state before fn and restores it when fn fails (nested calls are
// savepoints), so a refused transfer can be seen to leave nothing behind. Every write
// made outside a transaction is counted, for tests to refuse.
type fakeStore struct {
	mu        sync.Mutex
	account   subaccounts.Account
	subs      map[uuid.UUID]subaccounts.Subaccount
	entries   []subaccounts.Entry
	changes   []subaccounts.Change
	outsideTx int
}

var (
	_ ledger.Store         = (*fakeStore)(nil)
	_ subaccounts.Recorder = (*fakeStore)(nil)
)

func newFakeStore(a subaccounts.Account, subs ...subaccounts.Subaccount) *fakeStore {
	f := &fakeStore{account: a, subs: map[uuid.UUID]subaccounts.Subaccount{}}
	for _, s := range subs {
		f.subs[s.ID] = s
	}
	return f
}

type fakeState struct {
	account subaccounts.Account
	subs    map[uuid.UUID]subaccounts.Subaccount
	entries []subaccounts.Entry
	changes []subaccounts.Change
}

func (f *fakeStore) snapshot() fakeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeState{f.account, maps.Clone(f.subs), slices.Clone(f.entries), slices.Clone(f.changes)}
}

func (f *fakeStore) restore(s fakeState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.account, f.subs, f.entries, f.changes = s.account, s.subs, s.entries, s.changes
}

func (f *fakeStore) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	before := f.snapshot()
	if err := fn(context.WithValue(ctx, txKey{}, txDepth(ctx)+1)); err != nil {
		f.restore(before)
		return err
	}
	return nil
}

// write checks a write is made inside a transaction.
func (f *fakeStore) write(ctx context.Context) {
	if txDepth(ctx) == 0 {
		f.outsideTx++
	}
}

func (f *fakeStore) UpdateAccount(ctx context.Context, a subaccounts.Account) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write(ctx)
	if a.ID != f.account.ID {
		return subaccounts.NotFound("account")
	}
	f.account = a
	return nil
}

func (f *fakeStore) UpdateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write(ctx)
	if _, ok := f.subs[s.ID]; !ok || s.AccountID != f.account.ID {
		return subaccounts.NotFound("subaccount")
	}
	f.subs[s.ID] = s
	return nil
}

func (f *fakeStore) InsertLedgerEntries(ctx context.Context, entries []subaccounts.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write(ctx)
	f.entries = append(f.entries, entries...)
	return nil
}

func (f *fakeStore) Record(ctx context.Context, accountID uuid.UUID, changes ...subaccounts.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.write(ctx)
	if accountID != f.account.ID {
		return fmt.Errorf("record for account %s, want %s", accountID, f.account.ID)
	}
	f.changes = append(f.changes, changes...)
	return nil
}

func (f *fakeStore) GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.account.ID {
		return subaccounts.Account{}, subaccounts.NotFound("account")
	}
	return f.account, nil
}

func (f *fakeStore) GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.subs[id]
	if !ok || accountID != f.account.ID || s.AccountID != accountID {
		return subaccounts.Subaccount{}, subaccounts.NotFound("subaccount")
	}
	return s, nil
}

var errNotFaked = errors.New("not faked")

func (f *fakeStore) ListSubaccounts(ctx context.Context, accountID uuid.UUID, fl subaccounts.SubaccountFilter, p subaccounts.Page) ([]subaccounts.Subaccount, error) {
	return nil, errNotFaked
}

func (f *fakeStore) AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error) {
	return nil, errNotFaked
}

func (f *fakeStore) ListLedgerEntries(ctx context.Context, accountID uuid.UUID, fl subaccounts.EntryFilter, p subaccounts.Page) ([]subaccounts.Entry, error) {
	return nil, errNotFaked
}

func (f *fakeStore) LedgerPositions(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Position, error) {
	return nil, errNotFaked
}

func (f *fakeStore) HasLedgerEntries(ctx context.Context, accountID uuid.UUID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries) > 0, nil
}

func (f *fakeStore) Usage(ctx context.Context, accountID uuid.UUID, subaccountIDs []uuid.UUID, from, to time.Time) ([]subaccounts.UsageCounts, error) {
	return nil, errNotFaked
}

// wantRefusal fails unless err is (or wraps) a *subaccounts.Error of code with a
// *subaccounts.Refusal of reason ("" for none).
func wantRefusal(t *testing.T, err error, code subaccounts.Code, reason string) {
	t.Helper()
	var se *subaccounts.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *subaccounts.Error %s/%s", err, code, reason)
	}
	if se.Code != code || se.Reason() != reason {
		t.Fatalf("error %s reason %q (%v), want %s reason %q", se.Code, se.Reason(), err, code, reason)
	}
}

func addr[T any](v T) *T { return &v }

func newAccount(balance, creditLimit, allocated int64) subaccounts.Account {
	return subaccounts.Account{ID: uuid.Must(uuid.NewV7()), Name: "acme", Balance: balance, CreditLimit: creditLimit, AllocatedCredit: allocated, Contract: subaccounts.Contract{Currency: "EUR"}}
}

func newSub(a subaccounts.Account, balance, creditLimit int64) subaccounts.Subaccount {
	return subaccounts.Subaccount{ID: uuid.Must(uuid.NewV7()), AccountID: a.ID, Name: "team", Balance: balance, CreditLimit: creditLimit}
}
