package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// storeTest is one case of the shared suite. It gets a fresh, migrated database of its
// own, so it owns every row it sees and can run in parallel with the others.
type storeTest struct {
	name string
	run  func(t *testing.T, db *store.DB)
}

// suite is the one store test suite; TestStore runs every case against every dialect.
func suite() []storeTest {
	var all []storeTest
	all = append(all, accountTests()...)
	all = append(all, subaccountTests()...)
	all = append(all, tenantTests()...)
	all = append(all, clientTests()...)
	all = append(all, signingKeyTests()...)
	all = append(all, transactTests()...)
	all = append(all, cardTests()...)
	all = append(all, transactionTests()...)
	all = append(all, complianceTests()...)
	all = append(all, ledgerTests()...)
	all = append(all, []storeTest{
		{"Ping", testPing},
	}...)
	return all
}

func TestStore(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			for _, tc := range suite() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					db := storetest.Open(t, dialect)
					if got := db.Dialect(); got != dialect {
						t.Fatalf("Dialect() = %q, want %q", got, dialect)
					}
					tc.run(t, db)
				})
			}
		})
	}
}

func testPing(t *testing.T, db *store.DB) {
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on a migrated database: %v", err)
	}
}

// Fixtures.

var (
	// contractAll is a contract wide enough for every subaccount the tests create.
	contractAll = []policy.Configuration{{
		Countries: []string{"CHE", "DEU", "FRA", "GBR", "JPN", "USA"},
		Networks:  []string{"VISA", "MASTERCARD"},
	}}
	gbrVisa = []policy.Configuration{{Countries: []string{"GBR"}, Networks: []string{"VISA"}}}
	fraMC   = []policy.Configuration{{Countries: []string{"FRA"}, Networks: []string{"MASTERCARD"}}}
)

func cfg(countries []string, networks ...string) policy.Configuration {
	return policy.Configuration{Countries: countries, Networks: networks}
}

// accountValue returns a valid account that is not yet stored.
func accountValue(name string, maxSubaccounts int) subaccounts.Account {
	now := subaccounts.Now()
	return subaccounts.Account{
		ID:   uuid.Must(uuid.NewV7()),
		Name: name,
		Contract: subaccounts.Contract{
			Configurations: policy.MustCompile(contractAll).Normalize(),
			MaxSubaccounts: maxSubaccounts,
			Version:        1,
			Currency:       "EUR",
		},
		Version:   1,
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// newAccount stores and returns a new account.
func newAccount(t *testing.T, db *store.DB, name string) subaccounts.Account {
	t.Helper()
	a := accountValue(name, 100)
	if err := db.CreateAccount(t.Context(), a); err != nil {
		t.Fatalf("CreateAccount(%q): %v", name, err)
	}
	return a
}

// subaccountValue returns a subaccount of accountID and the pairs its configurations
// permit, not yet stored. It does not touch t, so goroutines may call it.
func subaccountValue(accountID uuid.UUID, name string, configs []policy.Configuration) (subaccounts.Subaccount, []policy.Pair) {
	set := policy.MustCompile(configs)
	now := subaccounts.Now()
	return subaccounts.Subaccount{
		ID:             uuid.Must(uuid.NewV7()),
		AccountID:      accountID,
		Name:           name,
		Configurations: set.Normalize(),
		ConfigVersion:  1,
		Metadata:       map[string]string{},
		CreatedAt:      now,
		UpdatedAt:      now,
	}, set.Pairs()
}

// newSubaccount stores and returns a new subaccount.
func newSubaccount(t *testing.T, db *store.DB, accountID uuid.UUID, name string, configs ...policy.Configuration) subaccounts.Subaccount {
	t.Helper()
	s, pairs := subaccountValue(accountID, name, configs)
	if err := db.CreateSubaccount(t.Context(), s, pairs); err != nil {
		t.Fatalf("CreateSubaccount(%q): %v", name, err)
	}
	return s
}

// newClient stores and returns an active client of accountID, confined to subaccountID
// when it is not nil.
func newClient(t *testing.T, db *store.DB, accountID uuid.UUID, subaccountID *uuid.UUID, createdAt time.Time) subaccounts.Client {
	t.Helper()
	c := subaccounts.Client{
		ID:           uuid.Must(uuid.NewV7()).String(),
		AccountID:    &accountID,
		SubaccountID: subaccountID,
		Name:         "integration",
		Scopes:       []string{subaccounts.ScopeSubaccountsRead, subaccounts.ScopeSubaccountsWrite},
		SecretHash:   "$2a$10$hash-" + uuid.NewString(),
		CreatedAt:    createdAt,
	}
	if err := db.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	return c
}

// Assertions.

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want errors.Is(err, %v)", what, err, target)
	}
}

// sameAccount reports the differences between two accounts; times compare by instant.
func sameAccount(t *testing.T, got, want subaccounts.Account) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("account times = (%v, %v), want (%v, %v)", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("account =\n  %+v\nwant\n  %+v", got, want)
	}
}

// sameSubaccount reports the differences between two subaccounts; times compare by instant.
func sameSubaccount(t *testing.T, got, want subaccounts.Subaccount) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("subaccount %q times = (%v, %v), want (%v, %v)", want.Name, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subaccount =\n  %+v\nwant\n  %+v", got, want)
	}
}

// sameClient reports the differences between two clients; times compare by instant.
func sameClient(t *testing.T, got, want subaccounts.Client) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("client %s CreatedAt = %v, want %v", want.ID, got.CreatedAt, want.CreatedAt)
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("client =\n  %+v\nwant\n  %+v", fmtClient(got), fmtClient(want))
	}
}

func fmtClient(c subaccounts.Client) string {
	ptr := func(p *uuid.UUID) string {
		if p == nil {
			return "<nil>"
		}
		return p.String()
	}
	return fmt.Sprintf("{ID:%s AccountID:%s SubaccountID:%s Name:%q Scopes:%q SecretHash:%q}",
		c.ID, ptr(c.AccountID), ptr(c.SubaccountID), c.Name, c.Scopes, c.SecretHash)
}

// names returns the names of subs in order.
func names(subs []subaccounts.Subaccount) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.Name
	}
	return out
}

// inIDOrder returns the names of subs sorted by id, the order every list is in.
func inIDOrder(subs ...subaccounts.Subaccount) []string {
	subs = slices.Clone(subs)
	slices.SortFunc(subs, func(a, b subaccounts.Subaccount) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return names(subs)
}

func sortIDs(ids []uuid.UUID) []uuid.UUID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// barrier holds the transactions of concurrency tests until all of them are open, so
// that without the locks under test they would certainly overlap. SQLite's immediate
// transactions cannot be open at once (that is the lock under test there), so on SQLite
// the barrier lets everyone through.
type barrier struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func newBarrier(db *store.DB, n int) *barrier {
	if db.Dialect() == "sqlite" {
		n = 1 // the first caller opens it
	}
	return &barrier{waiting: n, open: make(chan struct{})}
}

// wait blocks until n callers have arrived; once open, it returns at once, so a retried
// transaction passes straight through.
func (b *barrier) wait() error {
	b.mu.Lock()
	b.waiting--
	if b.waiting == 0 { // exactly once: later callers take it below zero
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("barrier: not every transaction could be open at once")
	}
}

// The store implements every service's narrow store.
var _ app.Store = (*store.DB)(nil)
