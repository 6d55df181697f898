package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// nestedView opts into the audit log with keys out of order at two levels and a number
// spelled with a trailing zero, so that only a canonical encoding gives the expected bytes.
type nestedView struct{}

func (nestedView) AuditView() any {
	return map[string]any{"z": []int{2, 1}, "a": map[string]any{"y": "<&>", "b": 1.5}}
}

const nestedCanonical = `{"a":{"b":1.5,"y":"\u003c\u0026\u003e"},"z":[2,1]}`

// recordInTx records changes in a transaction of the fake.
func recordInTx(f *fakeStore, ctx context.Context, accountID uuid.UUID, changes ...subaccounts.Change) error {
	return f.Transact(ctx, func(ctx context.Context) error {
		return NewRecorder(f).Record(ctx, accountID, changes...)
	})
}

func TestRecordWritesOneEventPerChange(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	account := uuid.New()
	actor := subaccounts.Actor{Subject: "alice", ClientID: "client-a", RequestID: "req-1"}
	ctx := subaccounts.WithActor(context.Background(), actor)
	card := &subaccounts.Card{ID: uuid.New(), AccountID: account, LastNumbers: "1111", Fingerprint: []byte("secret-fingerprint")}
	changes := []subaccounts.Change{
		{Action: "thing.update", ResourceType: "thing", ResourceID: "t1", Before: viewed{}, After: nestedView{}, Reference: "ref-1"},
		{Action: "card.delete", ResourceType: "card", ResourceID: card.ID.String(), Before: card, After: (*subaccounts.Card)(nil)},
	}
	start := time.Now().UTC().Truncate(time.Millisecond)
	if err := recordInTx(f, ctx, account, changes...); err != nil {
		t.Fatalf("Record: %v", err)
	}
	end := time.Now().UTC()
	if f.inserts != 1 {
		t.Errorf("InsertAuditEvents called %d times, want once for the whole call", f.inserts)
	}
	got := f.unchained[account]
	if len(got) != len(changes) {
		t.Fatalf("wrote %d events, want %d", len(got), len(changes))
	}
	for i, e := range got {
		c := changes[i]
		if e.AccountID != account {
			t.Errorf("event %d account %s, want %s", i, e.AccountID, account)
		}
		if e.ActorSubject != actor.Subject || e.ActorClientID != actor.ClientID || e.RequestID != actor.RequestID {
			t.Errorf("event %d actor (%q, %q, %q), want %+v", i, e.ActorSubject, e.ActorClientID, e.RequestID, actor)
		}
		if e.Action != c.Action || e.ResourceType != c.ResourceType || e.ResourceID != c.ResourceID || e.Reference != c.Reference {
			t.Errorf("event %d = %+v, want the fields of change %+v", i, e, c)
		}
		if e.ID.Version() != 7 {
			t.Errorf("event %d id %s is not a UUIDv7", i, e.ID)
		}
		if e.CreatedAt.Before(start) || e.CreatedAt.After(end) || e.CreatedAt.Location() != time.UTC || e.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("event %d created at %v, want UTC milliseconds in [%v, %v]", i, e.CreatedAt, start, end)
		}
	}
	if string(got[0].Before) != `{"a":1,"b":2}` || string(got[0].After) != nestedCanonical {
		t.Errorf("event 0 before %s after %s, want {\"a\":1,\"b\":2} and %s", got[0].Before, got[0].After, nestedCanonical)
	}
	if got[0].ID == got[1].ID {
		t.Errorf("both events have id %s", got[0].ID)
	}
	// The card's view is canonical, without its fingerprint; the nil pointer is no document.
	want, err := auditJSON(*card)
	if err != nil {
		t.Fatal(err)
	}
	if canon, _ := CanonicalJSON(got[1].Before); string(got[1].Before) != string(want) || string(canon) != string(got[1].Before) {
		t.Errorf("card before = %s, want canonical %s", got[1].Before, want)
	}
	if got[1].After != nil {
		t.Errorf("after of a nil card = %s, want none", got[1].After)
	}
}

func TestRecordWithoutActor(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	account := uuid.New()
	if err := recordInTx(f, context.Background(), account, subaccounts.Change{Action: "a.b", ResourceType: "a", After: viewed{}}); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if e := f.unchained[account]; len(e) != 1 || e[0].ActorSubject != "" || e[0].ActorClientID != "" || e[0].RequestID != "" {
		t.Errorf("events %+v, want one with no actor (the service's own change)", e)
	}
}

func TestRecordRefusesWithoutWriting(t *testing.T) {
	t.Parallel()
	good := subaccounts.Change{Action: "a.b", ResourceType: "a", After: viewed{}}
	tests := []struct {
		name    string
		inTx    bool
		changes []subaccounts.Change
	}{
		{"outside a transaction", false, []subaccounts.Change{good}},
		{"before with no audit view", true, []subaccounts.Change{{Action: "a.b", ResourceType: "a", Before: struct{ Secret string }{"s"}}}},
		{"after with no audit view", true, []subaccounts.Change{{Action: "a.b", ResourceType: "a", After: map[string]string{"pan": "4111"}}}},
		{"one bad change among good ones", true, []subaccounts.Change{good, {Action: "a.b", ResourceType: "a", After: 42}, good}},
		{"no action", true, []subaccounts.Change{good, {ResourceType: "a"}}},
		{"no resource type", true, []subaccounts.Change{{Action: "a.b"}, good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			account := uuid.New()
			var err error
			if tt.inTx {
				err = recordInTx(f, context.Background(), account, tt.changes...)
			} else {
				err = NewRecorder(f).Record(context.Background(), account, tt.changes...)
			}
			if err == nil {
				t.Fatal("Record accepted the changes")
			}
			if f.inserts != 0 || len(f.unchained[account]) != 0 {
				t.Errorf("Record wrote %d times (%d events) before refusing", f.inserts, len(f.unchained[account]))
			}
		})
	}
}

func TestRecordNothingOutsideTransaction(t *testing.T) {
	t.Parallel()
	// No changes is nothing to record, so it needs no transaction either.
	f := newFakeStore()
	if err := NewRecorder(f).Record(context.Background(), uuid.New()); err != nil {
		t.Errorf("Record of no changes: %v", err)
	}
	if f.inserts != 0 {
		t.Errorf("Record of no changes wrote %d times", f.inserts)
	}
}

func TestRecordInsertError(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	f.insertErr = subaccounts.ErrUnavailable
	err := recordInTx(f, context.Background(), uuid.New(), subaccounts.Change{Action: "a.b", ResourceType: "a"})
	if !errors.Is(err, subaccounts.ErrUnavailable) {
		t.Errorf("Record error %v, want it to wrap %v", err, subaccounts.ErrUnavailable)
	}
}

// TestRecordSkipsUnaudited: changes marked Unaudited (a transaction routed) are not in
// the log; the others of the same call are, in order; a call of unaudited ones alone
// writes nothing.
func TestRecordSkipsUnaudited(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	account := uuid.New()
	data := subaccounts.Change{Action: "transaction.route", ResourceType: "transaction", ResourceID: "x", After: struct{}{}, Unaudited: true}
	kept := subaccounts.Change{Action: "thing.update", ResourceType: "thing", ResourceID: "t1", After: nestedView{}}
	if err := recordInTx(f, context.Background(), account, data, data); err != nil {
		t.Fatal(err)
	}
	if f.inserts != 0 || len(f.unchained[account]) != 0 {
		t.Fatalf("unaudited changes alone: %d inserts, %d events", f.inserts, len(f.unchained[account]))
	}
	if err := recordInTx(f, context.Background(), account, data, kept, data); err != nil {
		t.Fatal(err)
	}
	if got := f.unchained[account]; len(got) != 1 || got[0].Action != kept.Action {
		t.Fatalf("mixed call wrote %+v, want the audited change alone", got)
	}
}
