package compliance

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// fakeStore is an in-memory Store that returns prepared aggregates for one account and
// records what the service asked of it.
type fakeStore struct {
	account     subaccounts.Account
	subaccounts map[uuid.UUID]subaccounts.Subaccount
	// entitled is what EntitledPairs returns; permitting is every (subaccount, pair)
	// permission, of which SubaccountsPermitting returns those of the pairs asked for,
	// in this order.
	entitled       []policy.Pair
	permitting     []subaccounts.SubaccountPair
	cardViolations []subaccounts.CardViolation
	activeCards    int64
	txViolations   []subaccounts.TransactionViolation

	// errs fails the named method.
	errs map[string]error

	mu             sync.Mutex
	calls          map[string]int
	askedPairs     [][]policy.Pair
	sample         int
	from, to       time.Time
	getSubaccounts []uuid.UUID
}

var _ Store = (*fakeStore)(nil)

func newFakeStore(account subaccounts.Account) *fakeStore {
	return &fakeStore{account: account, subaccounts: map[uuid.UUID]subaccounts.Subaccount{}, errs: map[string]error{}, calls: map[string]int{}}
}

// called counts a call of method and returns the error the test set for it.
func (f *fakeStore) called(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	return f.errs[method]
}

// totalCalls counts every call to the store.
func (f *fakeStore) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeStore) GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error) {
	if err := f.called("GetAccount"); err != nil {
		return subaccounts.Account{}, err
	}
	if id != f.account.ID || lock {
		return subaccounts.Account{}, subaccounts.NotFound("account")
	}
	return f.account, nil
}

func (f *fakeStore) GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	if err := f.called("GetSubaccount"); err != nil {
		return subaccounts.Subaccount{}, err
	}
	f.mu.Lock()
	f.getSubaccounts = append(f.getSubaccounts, id)
	f.mu.Unlock()
	s, ok := f.subaccounts[id]
	if !ok || accountID != f.account.ID {
		return subaccounts.Subaccount{}, subaccounts.NotFound("subaccount")
	}
	return s, nil
}

func (f *fakeStore) CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error) {
	if err := f.called("CountSubaccounts"); err != nil {
		return 0, err
	}
	return len(f.subaccounts), nil
}

func (f *fakeStore) EntitledPairs(ctx context.Context, accountID uuid.UUID) ([]policy.Pair, error) {
	if err := f.called("EntitledPairs"); err != nil {
		return nil, err
	}
	return f.entitled, nil
}

func (f *fakeStore) SubaccountsPermitting(ctx context.Context, accountID uuid.UUID, pairs []policy.Pair) ([]subaccounts.SubaccountPair, error) {
	if err := f.called("SubaccountsPermitting"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.askedPairs = append(f.askedPairs, slices.Clone(pairs))
	f.mu.Unlock()
	var out []subaccounts.SubaccountPair
	for _, sp := range f.permitting {
		if slices.Contains(pairs, sp.Pair) {
			out = append(out, sp)
		}
	}
	return out, nil
}

func (f *fakeStore) CardsOutsideConfiguration(ctx context.Context, accountID uuid.UUID, sample int) ([]subaccounts.CardViolation, int64, error) {
	if err := f.called("CardsOutsideConfiguration"); err != nil {
		return nil, 0, err
	}
	f.mu.Lock()
	f.sample = sample
	f.mu.Unlock()
	return f.cardViolations, f.activeCards, nil
}

func (f *fakeStore) OutOfPolicyTransactions(ctx context.Context, accountID uuid.UUID, from, to time.Time) ([]subaccounts.TransactionViolation, error) {
	if err := f.called("OutOfPolicyTransactions"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.from, f.to = from, to
	f.mu.Unlock()
	return f.txViolations, nil
}

func (f *fakeStore) CountActiveCardsInAccount(ctx context.Context, accountID uuid.UUID) (int64, error) {
	if err := f.called("CountActiveCardsInAccount"); err != nil {
		return 0, err
	}
	return f.activeCards, nil
}
