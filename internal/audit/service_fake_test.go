package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// chained returns a fake holding a valid chain of n events for one account.
func chained(t *testing.T, n int) (*fakeStore, uuid.UUID) {
	t.Helper()
	f := newFakeStore()
	account := uuid.New()
	f.record(account, n)
	if _, err := f.ChainAuditEvents(context.Background(), account, n); err != nil {
		t.Fatal(err)
	}
	return f, account
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func wantCode(t *testing.T, err error, code subaccounts.Code) *subaccounts.Error {
	t.Helper()
	var e *subaccounts.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return e
}

func TestVerifyAuditChain(t *testing.T) {
	t.Parallel()
	const n = 5
	tests := []struct {
		name   string
		batch  int
		tamper func(t *testing.T, f *fakeStore, account uuid.UUID)
		// broken is nil for a valid chain; else its EventID is the event at Seq, or none.
		broken        *AuditBreak
		noEvent       bool
		eventsChecked int64
	}{
		{name: "valid, one batch", batch: 100, eventsChecked: n},
		{name: "valid, several batches", batch: 2, eventsChecked: n},
		{name: "valid, batches end exactly", batch: 1, eventsChecked: n},
		{name: "empty", batch: 10, eventsChecked: 0, tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) {
			f.chain[a], f.heads[a] = nil, subaccounts.AuditHead{}
		}},
		{name: "changed after", batch: 2, broken: &AuditBreak{Seq: 3, Reason: AuditHashMismatch}, eventsChecked: 2,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a][2].After = json.RawMessage(`{"n":2}`) }},
		{name: "after no longer JSON", batch: 2, broken: &AuditBreak{Seq: 4, Reason: AuditHashMismatch}, eventsChecked: 3,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a][3].After = json.RawMessage(`{"n":`) }},
		{name: "changed actor", batch: 100, broken: &AuditBreak{Seq: 1, Reason: AuditHashMismatch}, eventsChecked: 0,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a][0].ActorSubject = "mallory" }},
		{name: "changed prev hash", batch: 2, broken: &AuditBreak{Seq: 2, Reason: AuditPrevHashMismatch}, eventsChecked: 1,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a][1].PrevHash = strings.Repeat("1", 64) }},
		{name: "first event not on genesis", batch: 2, broken: &AuditBreak{Seq: 1, Reason: AuditPrevHashMismatch}, eventsChecked: 0,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { rehash(t, &f.chain[a][0], strings.Repeat("1", 64)) }},
		// A replaced event hashes consistently in itself; its successor gives it away.
		{name: "event replaced and rehashed", batch: 2, broken: &AuditBreak{Seq: 3, Reason: AuditPrevHashMismatch}, eventsChecked: 2,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) {
				e := &f.chain[a][1]
				e.After = json.RawMessage(`{"n":99}`)
				rehash(t, e, e.PrevHash)
			}},
		{name: "gap", batch: 2, broken: &AuditBreak{Seq: 3, Reason: AuditGap}, noEvent: true, eventsChecked: 2,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) {
				f.chain[a] = append(f.chain[a][:2:2], f.chain[a][3:]...)
			}},
		{name: "first event missing", batch: 2, broken: &AuditBreak{Seq: 1, Reason: AuditGap}, noEvent: true, eventsChecked: 0,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a] = f.chain[a][1:] }},
		{name: "head past the end", batch: 2, broken: &AuditBreak{Seq: n, Reason: AuditHeadPastEnd}, noEvent: true, eventsChecked: n - 1,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a] = f.chain[a][:n-1] }},
		{name: "head past the end of a batch", batch: 2, broken: &AuditBreak{Seq: n - 1, Reason: AuditHeadPastEnd}, noEvent: true, eventsChecked: n - 2,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a] = f.chain[a][:n-2] }},
		{name: "all events removed", batch: 2, broken: &AuditBreak{Seq: 1, Reason: AuditHeadPastEnd}, noEvent: true, eventsChecked: 0,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { f.chain[a] = nil }},
		{name: "head hash mismatch", batch: 2, broken: &AuditBreak{Seq: n, Reason: AuditHeadMismatch}, eventsChecked: n,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) {
				f.heads[a] = subaccounts.AuditHead{Seq: n, Hash: strings.Repeat("2", 64)}
			}},
		{name: "head behind the last event", batch: 2, broken: &AuditBreak{Seq: n, Reason: AuditHeadMismatch}, eventsChecked: n,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) {
				f.heads[a] = subaccounts.AuditHead{Seq: n - 1, Hash: f.chain[a][n-2].Hash}
			}},
		{name: "head missing", batch: 2, broken: &AuditBreak{Seq: n, Reason: AuditHeadMismatch}, eventsChecked: n,
			tamper: func(t *testing.T, f *fakeStore, a uuid.UUID) { delete(f.heads, a) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, account := chained(t, n)
			if tt.tamper != nil {
				tt.tamper(t, f, account)
			}
			v, err := VerifyAuditChain(context.Background(), f, account, tt.batch)
			if err != nil {
				t.Fatalf("VerifyAuditChain: %v", err)
			}
			if v.EventsChecked != tt.eventsChecked {
				t.Errorf("EventsChecked = %d, want %d", v.EventsChecked, tt.eventsChecked)
			}
			if tt.broken == nil {
				if !v.Valid || v.Broken != nil {
					t.Fatalf("verification %+v (broken %+v), want valid", v, v.Broken)
				}
				if v.Head != f.heads[account] {
					t.Errorf("Head = %+v, want %+v", v.Head, f.heads[account])
				}
				return
			}
			if v.Valid || v.Broken == nil {
				t.Fatalf("verification %+v, want broken at %d: %s", v, tt.broken.Seq, tt.broken.Reason)
			}
			want := *tt.broken
			if !tt.noEvent {
				want.EventID = f.chain[account][want.Seq-1].ID
			}
			if *v.Broken != want {
				t.Errorf("Broken = %+v, want %+v", *v.Broken, want)
			}
		})
	}
}

// rehash gives e prev and the hash its content then has, as a forger would.
func rehash(t *testing.T, e *subaccounts.AuditEvent, prev string) {
	t.Helper()
	e.PrevHash = prev
	h, err := ChainHash(*e)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
}

// TestVerifyAuditChainAppendedMeanwhile: an event chained between the last read of the
// events and the read of the head is read and checked too, not reported as a break.
func TestVerifyAuditChainAppendedMeanwhile(t *testing.T) {
	t.Parallel()
	f, account := chained(t, 3)
	appended := false
	f.onHead = func() {
		if !appended {
			appended = true
			f.record(account, 2)
			if _, err := f.ChainAuditEvents(context.Background(), account, 10); err != nil {
				panic(err)
			}
		}
	}
	v, err := VerifyAuditChain(context.Background(), f, account, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid || v.EventsChecked != 5 || v.Head.Seq != 5 {
		t.Errorf("verification %+v (broken %+v), want valid with 5 events checked", v, v.Broken)
	}
}

func TestChainAuditBatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		unchained    int
		wantTransact int
	}{
		{"none", 0, 1},
		{"fewer than a batch", 7, 1},
		{"exactly a batch", auditChainBatch, 2},
		{"several batches", 2*auditChainBatch + 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			account := uuid.New()
			f.record(account, tt.unchained)
			if err := NewService(f, quietLog()).ChainAudit(context.Background(), account); err != nil {
				t.Fatal(err)
			}
			if got := len(f.chain[account]); got != tt.unchained || len(f.unchained[account]) != 0 {
				t.Errorf("chained %d, left %d unchained; want all %d chained", got, len(f.unchained[account]), tt.unchained)
			}
			if f.transacts != tt.wantTransact || f.chainCalls[account] != tt.wantTransact {
				t.Errorf("%d transactions, %d chain calls; want %d of each", f.transacts, f.chainCalls[account], tt.wantTransact)
			}
			if f.chainOutsideTx != 0 {
				t.Errorf("%d chain calls outside a transaction", f.chainOutsideTx)
			}
			if v, err := VerifyAuditChain(context.Background(), f, account, 100); err != nil || !v.Valid || v.EventsChecked != int64(tt.unchained) {
				t.Errorf("chain verifies as %+v, %v", v, err)
			}
		})
	}
}

func TestChainAuditError(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	account := uuid.New()
	f.record(account, 1)
	f.chainErr[account] = subaccounts.ErrUnavailable
	err := NewService(f, quietLog()).ChainAudit(context.Background(), account)
	if !errors.Is(err, subaccounts.ErrUnavailable) {
		t.Errorf("ChainAudit error %v, want it to wrap %v", err, subaccounts.ErrUnavailable)
	}
}

// TestChainAllAudit: one pass of the chainer chains every account with unchained events,
// beyond one page of accounts, and skips an account that fails without starving the rest.
func TestChainAllAudit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		accounts int
		failing  []int // indexes, in id order, of accounts whose chaining fails
	}{
		{"one account", 1, nil},
		{"more than a page", auditChainerAccounts + 20, nil},
		{"a failing account", 3, []int{1}},
		{"failing accounts across pages", 2*auditChainerAccounts + 5, []int{0, 50, auditChainerAccounts, 2*auditChainerAccounts + 4}},
		// A whole page of accounts that fail must not keep the pass from the next page.
		{"a full page of failing accounts", auditChainerAccounts + 3, firstN(auditChainerAccounts)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			ids := make([]uuid.UUID, tt.accounts)
			for i := range ids {
				ids[i] = uuid.Must(uuid.NewV7()) // in id order
				f.record(ids[i], 2)
			}
			failing := map[uuid.UUID]bool{}
			for _, i := range tt.failing {
				failing[ids[i]] = true
				f.chainErr[ids[i]] = fmt.Errorf("account %d is broken", i)
			}
			if err := NewService(f, quietLog()).chainAllAudit(context.Background()); err != nil {
				t.Fatalf("chainAllAudit: %v", err)
			}
			for i, id := range ids {
				want := 2
				if failing[id] {
					want = 0
				}
				if got := len(f.chain[id]); got != want {
					t.Errorf("account %d: %d events chained, want %d", i, got, want)
				}
				if c := f.chainCalls[id]; c != 1 {
					t.Errorf("account %d: chained %d times in one pass, want once", i, c)
				}
			}
		})
	}
}

func firstN(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestAuditServiceRefusesConfined(t *testing.T) {
	t.Parallel()
	sub := uuid.New()
	p := subaccounts.Principal{AccountID: uuid.New(), SubaccountID: &sub, Scopes: subaccounts.TenantScopes}
	tests := []struct {
		name string
		call func(*Service) error
	}{
		{"list", func(s *Service) error {
			_, _, err := s.ListAuditEvents(context.Background(), p, AuditQuery{}, subaccounts.Page{Limit: 10})
			return err
		}},
		{"verify", func(s *Service) error {
			_, err := s.VerifyAudit(context.Background(), p)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			f.record(p.AccountID, 1)
			wantCode(t, tt.call(NewService(f, quietLog())), subaccounts.CodeForbidden)
			if f.transacts != 0 || len(f.listPages) != 0 || f.afterCalls != 0 || len(f.chain[p.AccountID]) != 0 {
				t.Errorf("a refused call reached the store (%d transactions, %d lists, %d reads)", f.transacts, len(f.listPages), f.afterCalls)
			}
		})
	}
}

func TestListAuditEventsPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events int
		limit  int
		pages  []int // the size of each page; every page but the last has a next cursor
	}{
		{"one short page", 3, 5, []int{3}},
		{"exactly one page", 4, 4, []int{4}},
		{"pages with a short last", 5, 2, []int{2, 2, 1}},
		{"pages ending exactly", 4, 2, []int{2, 2}},
		{"empty", 0, 3, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			p := subaccounts.Principal{AccountID: uuid.New(), Scopes: subaccounts.TenantScopes}
			f.record(p.AccountID, tt.events) // unchained: listing chains them first
			svc := NewService(f, quietLog())
			var seen []uuid.UUID
			after := uuid.Nil
			for i, size := range tt.pages {
				items, next, err := svc.ListAuditEvents(context.Background(), p, AuditQuery{}, subaccounts.Page{Limit: tt.limit, After: after})
				if err != nil {
					t.Fatalf("page %d: %v", i, err)
				}
				if asked := f.listPages[i]; asked.Limit != tt.limit+1 || asked.After != after {
					t.Errorf("page %d asked the store for %+v, want limit %d after %s", i, asked, tt.limit+1, after)
				}
				if len(items) != size {
					t.Fatalf("page %d has %d events, want %d", i, len(items), size)
				}
				last := i == len(tt.pages)-1
				switch {
				case last && next != nil:
					t.Errorf("last page %d has a next cursor %s", i, *next)
				case !last && (next == nil || *next != items[len(items)-1].ID):
					t.Fatalf("page %d next cursor %v, want its last event's id %s", i, next, items[len(items)-1].ID)
				}
				for _, e := range items {
					seen = append(seen, e.ID)
				}
				if next != nil {
					after = *next
				}
			}
			chain := f.chain[p.AccountID]
			if len(seen) != tt.events || len(chain) != tt.events {
				t.Fatalf("listed %d events of %d chained, want all %d", len(seen), len(chain), tt.events)
			}
			for i, id := range seen {
				if id != chain[i].ID {
					t.Errorf("event %d listed is %s, want %s (seq order, no repeats)", i, id, chain[i].ID)
				}
			}
		})
	}
}

func TestListAuditEventsFilter(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxAuditParam+1)
	tests := []struct {
		name   string
		q      AuditQuery
		params []string // the refused parameters; none: accepted
	}{
		{"no filter", AuditQuery{}, nil},
		{"every filter", AuditQuery{Action: "a.b", ResourceType: "a", ResourceID: "r", Actor: "alice"}, nil},
		{"longest values", AuditQuery{Action: long[1:], ResourceType: long[1:], ResourceID: long[1:], Actor: long[1:]}, nil},
		{"long action", AuditQuery{Action: long}, []string{"action"}},
		{"long everything", AuditQuery{Action: long, ResourceType: long, ResourceID: long, Actor: long}, []string{"action", "resourceType", "resourceId", "actor"}},
		{"resource id alone", AuditQuery{ResourceID: "r"}, []string{"resourceId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			p := subaccounts.Principal{AccountID: uuid.New()}
			_, _, err := NewService(f, quietLog()).ListAuditEvents(context.Background(), p, tt.q, subaccounts.Page{Limit: 10})
			if tt.params == nil {
				if err != nil {
					t.Fatalf("ListAuditEvents: %v", err)
				}
				want := subaccounts.AuditFilter{Action: tt.q.Action, ResourceType: tt.q.ResourceType, ResourceID: tt.q.ResourceID, Actor: tt.q.Actor}
				if len(f.listFilters) != 1 || f.listFilters[0] != want {
					t.Errorf("store got filters %+v, want %+v", f.listFilters, want)
				}
				return
			}
			e := wantCode(t, err, subaccounts.CodeValidation)
			var got []string
			for _, fe := range e.Fields {
				got = append(got, fe.Parameter)
			}
			if strings.Join(got, ",") != strings.Join(tt.params, ",") {
				t.Errorf("refused parameters %v, want %v", got, tt.params)
			}
			if f.transacts != 0 || len(f.listPages) != 0 {
				t.Errorf("an invalid query reached the store")
			}
		})
	}
}

// TestVerifyAudit: the service chains what was recorded, verifies it and counts what is
// still pending.
func TestVerifyAudit(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	p := subaccounts.Principal{AccountID: uuid.New()}
	f.record(p.AccountID, 3)
	other := uuid.New()
	f.record(other, 2)
	v, err := NewService(f, quietLog()).VerifyAudit(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid || v.EventsChecked != 3 || v.Pending != 0 || v.Head.Seq != 3 {
		t.Errorf("verification %+v, want valid, 3 checked, none pending", v)
	}
	if len(f.unchained[other]) != 2 {
		t.Errorf("verifying one account chained another's events")
	}
	f.chain[p.AccountID][0].Reference = "rewritten"
	v, err = NewService(f, quietLog()).VerifyAudit(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if v.Valid || v.Broken == nil || v.Broken.Seq != 1 || v.Broken.Reason != AuditHashMismatch {
		t.Errorf("verification of a rewritten event %+v (broken %+v), want a hash mismatch at 1", v, v.Broken)
	}
}

// TestRunAuditChainerFake: the background chainer chains what writers record, pass after
// pass, and returns once its context ends.
func TestRunAuditChainerFake(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	a, b := uuid.New(), uuid.New()
	f.record(a, 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewService(f, quietLog()).RunAuditChainer(ctx, time.Millisecond)
	}()
	chainedLen := func(id uuid.UUID) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.chain[id])
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("the first events", func() bool { return chainedLen(a) == 3 })
	f.record(b, 2) // after a pass: the next one chains it
	waitFor("events recorded later", func() bool { return chainedLen(b) == 2 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunAuditChainer did not return after its context ended")
	}
	if v, err := VerifyAuditChain(context.Background(), f, a, 100); err != nil || !v.Valid {
		t.Errorf("chain of a verifies as %+v, %v", v, err)
	}
}
