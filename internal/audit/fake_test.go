package audit

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// fakeStore is an in-memory Store: per account, the unchained events in insertion
// order, the chain, and its head. A transaction is a marker in the context; nothing is
// rolled back, which the tests here do not need. It counts the calls the domain rules
// are about, and fails where a test asks it to.
type fakeStore struct {
	mu        sync.Mutex
	unchained map[uuid.UUID][]subaccounts.AuditEvent
	chain     map[uuid.UUID][]subaccounts.AuditEvent
	heads     map[uuid.UUID]subaccounts.AuditHead

	transacts      int
	inserts        int
	chainCalls     map[uuid.UUID]int
	chainOutsideTx int
	listPages      []subaccounts.Page
	listFilters    []subaccounts.AuditFilter
	afterCalls     int

	insertErr error
	// chainErr fails ChainAuditEvents for the accounts it names.
	chainErr map[uuid.UUID]error
	// onHead, when set, runs at the start of AuditHead (outside the lock), to simulate
	// an event appended while a verification reads the chain.
	onHead func()
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		unchained:  map[uuid.UUID][]subaccounts.AuditEvent{},
		chain:      map[uuid.UUID][]subaccounts.AuditEvent{},
		heads:      map[uuid.UUID]subaccounts.AuditHead{},
		chainCalls: map[uuid.UUID]int{},
		chainErr:   map[uuid.UUID]error{},
	}
}

var _ Store = (*fakeStore)(nil)

type fakeTxKey struct{}

func (f *fakeStore) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	f.mu.Lock()
	f.transacts++
	f.mu.Unlock()
	return fn(context.WithValue(ctx, fakeTxKey{}, true))
}

func (f *fakeStore) InTransaction(ctx context.Context) bool {
	in, _ := ctx.Value(fakeTxKey{}).(bool)
	return in
}

func (f *fakeStore) InsertAuditEvents(ctx context.Context, events []subaccounts.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserts++
	if f.insertErr != nil {
		return f.insertErr
	}
	for _, e := range events {
		e.Seq, e.PrevHash, e.Hash = 0, "", ""
		f.unchained[e.AccountID] = append(f.unchained[e.AccountID], e)
	}
	return nil
}

// ChainAuditEvents links events as the real store does, hashing with ChainHash.
func (f *fakeStore) ChainAuditEvents(ctx context.Context, accountID uuid.UUID, limit int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chainCalls[accountID]++
	if !f.InTransaction(ctx) {
		f.chainOutsideTx++
	}
	if err := f.chainErr[accountID]; err != nil {
		return 0, err
	}
	pending := f.unchained[accountID]
	n := min(limit, len(pending))
	head := f.heads[accountID]
	if head.Seq == 0 {
		head.Hash = subaccounts.GenesisHash
	}
	for _, e := range pending[:n] {
		e.Seq, e.PrevHash = head.Seq+1, head.Hash
		h, err := ChainHash(e)
		if err != nil {
			return 0, err
		}
		e.Hash = h
		f.chain[accountID] = append(f.chain[accountID], e)
		head = subaccounts.AuditHead{Seq: e.Seq, Hash: e.Hash}
	}
	f.unchained[accountID] = pending[n:]
	if n > 0 {
		f.heads[accountID] = head
	}
	return n, nil
}

// AccountsWithUnchainedAuditEvents returns accounts in id order, as the real store does.
func (f *fakeStore) AccountsWithUnchainedAuditEvents(ctx context.Context, limit int) ([]uuid.UUID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []uuid.UUID
	for id, events := range f.unchained {
		if len(events) > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, nil
}

func (f *fakeStore) CountUnchainedAuditEvents(ctx context.Context, accountID uuid.UUID) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.unchained[accountID])), nil
}

// ListAuditEvents filters on Action only, which is all the tests here use.
func (f *fakeStore) ListAuditEvents(ctx context.Context, accountID uuid.UUID, flt subaccounts.AuditFilter, p subaccounts.Page) ([]subaccounts.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listPages = append(f.listPages, p)
	f.listFilters = append(f.listFilters, flt)
	events := f.chain[accountID]
	if p.After != uuid.Nil {
		i := slices.IndexFunc(events, func(e subaccounts.AuditEvent) bool { return e.ID == p.After })
		if i < 0 {
			return nil, errors.New("fake: unknown cursor")
		}
		events = events[i+1:]
	}
	var out []subaccounts.AuditEvent
	for _, e := range events {
		if len(out) == p.Limit {
			break
		}
		if flt.Action == "" || e.Action == flt.Action {
			out = append(out, e)
		}
	}
	return out, nil
}

// AuditEventsAfter returns the chain as stored (a test may have tampered with it),
// ordered by seq.
func (f *fakeStore) AuditEventsAfter(ctx context.Context, accountID uuid.UUID, afterSeq int64, limit int) ([]subaccounts.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterCalls++
	var out []subaccounts.AuditEvent
	for _, e := range f.chain[accountID] {
		if e.Seq > afterSeq {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b subaccounts.AuditEvent) int { return int(a.Seq - b.Seq) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeStore) AuditHead(ctx context.Context, accountID uuid.UUID) (subaccounts.AuditHead, error) {
	if f.onHead != nil {
		f.onHead()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heads[accountID], nil
}

// record inserts n unchained events for accountID, as an audited write would.
func (f *fakeStore) record(accountID uuid.UUID, n int) {
	events := make([]subaccounts.AuditEvent, n)
	for i := range events {
		events[i] = subaccounts.AuditEvent{
			ID: uuid.Must(uuid.NewV7()), AccountID: accountID, ActorSubject: "alice",
			Action: "subaccount.update", ResourceType: "subaccount", ResourceID: uuid.NewString(),
			After: []byte(`{"n":1}`), CreatedAt: subaccounts.Now(),
		}
	}
	if err := f.InsertAuditEvents(context.Background(), events); err != nil {
		panic(err) // only with insertErr set, which record's callers do not set
	}
}
