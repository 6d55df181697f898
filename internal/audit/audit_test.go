package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"absent", "", "", false},
		{"null", " null ", "", false},
		{"keys sorted, compacted", `{ "b": 1, "a": {"d": [1, 2], "c": "x"} }`, `{"a":{"c":"x","d":[1,2]},"b":1}`, false},
		{"numbers as written", `{"n": 1.50, "m": 1e3, "big": 12345678901234567890}`, `{"big":12345678901234567890,"m":1e3,"n":1.50}`, false},
		{"strings escaped alike", `{"s": "<a\u0026b>"}`, `{"s":"\u003ca\u0026b\u003e"}`, false},
		{"not JSON", `{"a":`, "", true},
		{"trailing data", `{} {}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON(json.RawMessage(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("CanonicalJSON(%s) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("CanonicalJSON(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestChainHashFormat pins the hashed form: changing it would break every stored chain.
func TestChainHashFormat(t *testing.T) {
	t.Parallel()
	e := subaccounts.AuditEvent{
		ID:            uuid.MustParse("01900000-0000-7000-8000-000000000002"),
		AccountID:     uuid.MustParse("01900000-0000-7000-8000-000000000001"),
		Seq:           7,
		ActorSubject:  "alice",
		ActorClientID: "client-a",
		Action:        "subaccount.update",
		ResourceType:  "subaccount",
		ResourceID:    "s1",
		Before:        json.RawMessage(`{"name": "A", "id": "s1"}`),
		Reference:     "ref",
		RequestID:     "req",
		CreatedAt:     time.Date(2026, 12, 1, 10, 0, 0, 5e6, time.FixedZone("CET", 3600)),
		PrevHash:      strings.Repeat("ab", 32),
	}
	form := `{"accountId":"01900000-0000-7000-8000-000000000001","seq":7,"id":"01900000-0000-7000-8000-000000000002",` +
		`"actorSub":"alice","actorClientId":"client-a","action":"subaccount.update","resourceType":"subaccount","resourceId":"s1",` +
		`"before":{"id":"s1","name":"A"},"after":null,"reference":"ref","requestId":"req","createdAt":"2026-12-01T09:00:00.005Z"}`
	got, err := CanonicalForm(e)
	if err != nil || string(got) != form {
		t.Fatalf("CanonicalForm = %s (%v)\nwant %s", got, err, form)
	}
	sum := sha256.Sum256([]byte(e.PrevHash + form))
	if h, err := ChainHash(e); err != nil || h != hex.EncodeToString(sum[:]) {
		t.Errorf("ChainHash = %s (%v), want %x", h, err, sum)
	}
	// Every field is covered.
	base, _ := ChainHash(e)
	changes := map[string]func(*subaccounts.AuditEvent){
		"seq":      func(e *subaccounts.AuditEvent) { e.Seq++ },
		"account":  func(e *subaccounts.AuditEvent) { e.AccountID = uuid.New() },
		"id":       func(e *subaccounts.AuditEvent) { e.ID = uuid.New() },
		"actor":    func(e *subaccounts.AuditEvent) { e.ActorSubject = "mallory" },
		"client":   func(e *subaccounts.AuditEvent) { e.ActorClientID = "x" },
		"action":   func(e *subaccounts.AuditEvent) { e.Action = "subaccount.read" },
		"type":     func(e *subaccounts.AuditEvent) { e.ResourceType = "card" },
		"resource": func(e *subaccounts.AuditEvent) { e.ResourceID = "s2" },
		"before":   func(e *subaccounts.AuditEvent) { e.Before = json.RawMessage(`{"name":"B"}`) },
		"after":    func(e *subaccounts.AuditEvent) { e.After = json.RawMessage(`{}`) },
		"ref":      func(e *subaccounts.AuditEvent) { e.Reference = "" },
		"request":  func(e *subaccounts.AuditEvent) { e.RequestID = "other" },
		"time":     func(e *subaccounts.AuditEvent) { e.CreatedAt = e.CreatedAt.Add(time.Millisecond) },
		"prev":     func(e *subaccounts.AuditEvent) { e.PrevHash = subaccounts.GenesisHash },
	}
	for name, change := range changes {
		c := e
		change(&c)
		if h, _ := ChainHash(c); h == base {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
}

// viewed opts into the audit log.
type viewed struct{}

func (viewed) AuditView() any { return map[string]int{"b": 2, "a": 1} }

func TestAuditJSON(t *testing.T) {
	t.Parallel()
	fp := []byte("fingerprint-bytes-0123456789abcd")
	card := subaccounts.Card{ID: uuid.New(), FirstNumbers: "411111", LastNumbers: "1111", Fingerprint: fp}
	client := subaccounts.Client{ID: "c1", Name: "n", SecretHash: "$2a$10$secret-hash"}
	var nilCard *subaccounts.Card
	tests := []struct {
		name    string
		in      any
		want    []string // substrings of the view
		notWant []string
		null    bool
		wantErr bool
	}{
		{name: "nil", in: nil, null: true},
		{name: "nil pointer", in: nilCard, null: true},
		{name: "card", in: card, want: []string{`"firstNumbers":"411111"`, `"lastNumbers":"1111"`},
			notWant: []string{"ingerprint", hex.EncodeToString(fp), "ZmluZ2VycHJpbnQ"}},
		{name: "card pointer", in: &card, want: []string{`"id":"` + card.ID.String()}, notWant: []string{"ingerprint"}},
		{name: "client", in: client, want: []string{`"clientId":"c1"`, `"scopes":[]`}, notWant: []string{"secret", "$2a$"}},
		{name: "subaccount", in: subaccounts.Subaccount{Name: "S"}, want: []string{`"name":"S"`, `"metadata":{}`, `"configurations":[]`}},
		{name: "account", in: subaccounts.Account{Name: "A"}, want: []string{`"name":"A"`, `"maxSubaccounts":0`}},
		{name: "audit viewer", in: viewed{}, want: []string{`{"a":1,"b":2}`}},
		{name: "unknown type", in: struct{ Secret string }{"s"}, wantErr: true},
		{name: "plain map", in: map[string]string{"a": "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auditJSON(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("auditJSON error %v, want error %v", err, tt.wantErr)
			}
			if tt.null != (got == nil) && !tt.wantErr {
				t.Errorf("auditJSON = %s, want null %v", got, tt.null)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("view %s lacks %s", got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(got), w) {
					t.Errorf("view %s holds %s", got, w)
				}
			}
		})
	}
}

func TestRecordAuditRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		account uuid.UUID
		rec     subaccounts.Change
	}{
		{"no account", uuid.Nil, subaccounts.Change{Action: "a.b", ResourceType: "a"}},
		{"no action", uuid.New(), subaccounts.Change{ResourceType: "a"}},
		{"no resource type", uuid.New(), subaccounts.Change{Action: "a.b"}},
		{"unknown before", uuid.New(), subaccounts.Change{Action: "a.b", ResourceType: "a", Before: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A nil Tx: the record must be refused before anything is written.
			if err := NewRecorder(nil).Record(ctx, tt.account, tt.rec); err == nil {
				t.Errorf("RecordAudit accepted %+v", tt.rec)
			}
		})
	}
	if err := NewRecorder(nil).Record(ctx, uuid.New()); err != nil {
		t.Errorf("RecordAudit with no records: %v", err)
	}
}

func TestActorContext(t *testing.T) {
	t.Parallel()
	if a := subaccounts.ActorFrom(context.Background()); a != (subaccounts.Actor{}) {
		t.Errorf("ActorFrom(empty) = %+v", a)
	}
	want := subaccounts.Actor{Subject: "s", ClientID: "c", RequestID: "r"}
	if a := subaccounts.ActorFrom(subaccounts.WithActor(context.Background(), want)); a != want {
		t.Errorf("ActorFrom = %+v, want %+v", a, want)
	}
}

// TestHasChainHash checks the verifier's fast path against the canonical form: it accepts
// exactly the events ChainHash accepts, including stored documents that are not in
// canonical form, strings that need escaping, and a tampered split of the documents
// that keeps the hashed bytes unchanged.
func TestHasChainHash(t *testing.T) {
	t.Parallel()
	chained := func(e subaccounts.AuditEvent) subaccounts.AuditEvent {
		h, err := ChainHash(e)
		if err != nil {
			t.Fatalf("chain: %v", err)
		}
		e.Hash = h
		return e
	}
	base := subaccounts.AuditEvent{
		ID: uuid.New(), AccountID: uuid.New(), Seq: 3, ActorSubject: "alice", ActorClientID: "c",
		Action: "subaccount.update", ResourceType: "subaccount", ResourceID: "s1",
		Before: json.RawMessage(`{"id":"s1","name":"A"}`), After: json.RawMessage(`{"a":1,"after":2}`),
		RequestID: "r", CreatedAt: time.Now(), PrevHash: subaccounts.GenesisHash,
	}
	type tc struct {
		name string
		e    subaccounts.AuditEvent
		want bool
	}
	var tests []tc
	for name, change := range map[string]func(*subaccounts.AuditEvent){
		"canonical":          func(*subaccounts.AuditEvent) {},
		"no documents":       func(e *subaccounts.AuditEvent) { e.Before, e.After = nil, nil },
		"html in strings":    func(e *subaccounts.AuditEvent) { e.ActorSubject, e.Reference = "<a&b>", `quote " and \ back` },
		"unicode":            func(e *subaccounts.AuditEvent) { e.ResourceID, e.RequestID = "café ☕", "line\u2028sep\x01" },
		"invalid utf-8":      func(e *subaccounts.AuditEvent) { e.Reference = "bad \xff byte" },
		"html in document":   func(e *subaccounts.AuditEvent) { e.Before = json.RawMessage(`{"name":"a\u003cb"}`) },
		"spaced document":    func(e *subaccounts.AuditEvent) { e.Before = json.RawMessage(`{ "name" : "A", "id": "s1" }`) },
		"null text document": func(e *subaccounts.AuditEvent) { e.After = json.RawMessage(`null`) },
	} {
		e := base
		change(&e)
		e = chained(e)
		tests = append(tests, tc{name, e, true})
	}
	good := chained(base)
	for name, change := range map[string]func(*subaccounts.AuditEvent){
		// The hashed bytes stay the same, the columns do not.
		"documents split elsewhere": func(e *subaccounts.AuditEvent) {
			e.Before = json.RawMessage(`{"id":"s1","name":"A"},"after":{"a":1`)
			e.After = json.RawMessage(`2}`)
		},
		"document reordered but changed": func(e *subaccounts.AuditEvent) { e.Before = json.RawMessage(`{"name":"B","id":"s1"}`) },
		"document no longer JSON":        func(e *subaccounts.AuditEvent) { e.Before = json.RawMessage(`{"id":`) },
		"field changed":                  func(e *subaccounts.AuditEvent) { e.ActorSubject = "mallory" },
		"hash changed":                   func(e *subaccounts.AuditEvent) { e.Hash = strings.Repeat("0", 64) },
		"prev changed":                   func(e *subaccounts.AuditEvent) { e.PrevHash = strings.Repeat("1", 64) },
	} {
		e := good
		change(&e)
		tests = append(tests, tc{name, e, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasChainHash(tt.e); got != tt.want {
				t.Errorf("HasChainHash = %v, want %v", got, tt.want)
			}
			h, err := ChainHash(tt.e)
			if slow := err == nil && h == tt.e.Hash; slow != tt.want {
				t.Errorf("ChainHash agrees = %v, want %v", slow, tt.want)
			}
			// Documents stored canonical give the canonical form itself.
			cb, errB := CanonicalJSON(tt.e.Before)
			ca, errA := CanonicalJSON(tt.e.After)
			if errB == nil && errA == nil && string(cb) == string(tt.e.Before) && string(ca) == string(tt.e.After) {
				form, ok := storedForm(tt.e)
				canon, _ := CanonicalForm(tt.e)
				if !ok || string(form) != string(canon) {
					t.Errorf("stored form %s (%v)\ndiffers from canonical %s", form, ok, canon)
				}
			}
		})
	}
}

// BenchmarkChainCheck compares the verifier's check of one event (HasChainHash, which
// hashes the stored documents as they are) with the full canonical re-encoding it falls
// back to (ChainHash), on an event shaped like a subaccount update.
func BenchmarkChainCheck(b *testing.B) {
	e := subaccounts.AuditEvent{
		ID: uuid.New(), AccountID: uuid.New(), Seq: 42, ActorSubject: "bench-client", ActorClientID: "bench-client",
		Action: "subaccount.update", ResourceType: "subaccount", ResourceID: uuid.NewString(),
		Before:    json.RawMessage(`{"id":"0193a0c4-8f0e-7c3a-9d1e-2f4b5c6d7e8f","name":"bench 42","suspended":false}`),
		After:     json.RawMessage(`{"id":"0193a0c4-8f0e-7c3a-9d1e-2f4b5c6d7e8f","name":"bench 42","suspended":true}`),
		RequestID: "req-42", CreatedAt: time.Now(), PrevHash: subaccounts.GenesisHash,
	}
	h, err := ChainHash(e)
	if err != nil {
		b.Fatal(err)
	}
	e.Hash = h
	b.Run("stored-form", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !HasChainHash(e) {
				b.Fatal("chain check failed")
			}
		}
	})
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if h, err := ChainHash(e); err != nil || h != e.Hash {
				b.Fatal("chain check failed")
			}
		}
	})
}

func TestAuditViewsRecordCostControls(t *testing.T) {
	a := subaccounts.Account{CreditLimit: 6000, AllocatedCredit: 2000, Balance: -10, Contract: subaccounts.Contract{Currency: "EUR", Pricing: subaccounts.Pricing{CardEnrolment: 100, Transaction: 5}}}
	got, err := auditJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"creditLimit":6000`, `"allocatedCredit":2000`, `"balance":-10`, `"currency":"EUR"`, `"cardEnrolment":100`, `"transaction":5`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("account audit view %s lacks %s", got, want)
		}
	}
	s := subaccounts.Subaccount{UsePrimaryBalance: false, Balance: 7, CreditLimit: 9, MaxCards: 3, AutoTopUp: subaccounts.AutoTopUp{Threshold: 1, Amount: 2}}
	got, err = auditJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"usePrimaryAccountBalance":false`, `"balance":7`, `"creditLimit":9`, `"maxCards":3`, `"autoTopUp":{"amount":2,"threshold":1}`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("subaccount audit view %s lacks %s", got, want)
		}
	}
}
