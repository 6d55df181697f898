package subaccounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
	e := AuditEvent{
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
	got, err := e.CanonicalForm()
	if err != nil || string(got) != form {
		t.Fatalf("CanonicalForm = %s (%v)\nwant %s", got, err, form)
	}
	sum := sha256.Sum256([]byte(e.PrevHash + form))
	if h, err := e.ChainHash(); err != nil || h != hex.EncodeToString(sum[:]) {
		t.Errorf("ChainHash = %s (%v), want %x", h, err, sum)
	}
	// Every field is covered.
	base, _ := e.ChainHash()
	changes := map[string]func(*AuditEvent){
		"seq":      func(e *AuditEvent) { e.Seq++ },
		"account":  func(e *AuditEvent) { e.AccountID = uuid.New() },
		"id":       func(e *AuditEvent) { e.ID = uuid.New() },
		"actor":    func(e *AuditEvent) { e.ActorSubject = "mallory" },
		"client":   func(e *AuditEvent) { e.ActorClientID = "x" },
		"action":   func(e *AuditEvent) { e.Action = "subaccount.read" },
		"type":     func(e *AuditEvent) { e.ResourceType = "card" },
		"resource": func(e *AuditEvent) { e.ResourceID = "s2" },
		"before":   func(e *AuditEvent) { e.Before = json.RawMessage(`{"name":"B"}`) },
		"after":    func(e *AuditEvent) { e.After = json.RawMessage(`{}`) },
		"ref":      func(e *AuditEvent) { e.Reference = "" },
		"request":  func(e *AuditEvent) { e.RequestID = "other" },
		"time":     func(e *AuditEvent) { e.CreatedAt = e.CreatedAt.Add(time.Millisecond) },
		"prev":     func(e *AuditEvent) { e.PrevHash = GenesisHash },
	}
	for name, change := range changes {
		c := e
		change(&c)
		if h, _ := c.ChainHash(); h == base {
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
	card := Card{ID: uuid.New(), FirstNumbers: "411111", LastNumbers: "1111", Fingerprint: fp}
	client := Client{ID: "c1", Name: "n", SecretHash: "$2a$10$secret-hash"}
	var nilCard *Card
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
		{name: "subaccount", in: Subaccount{Name: "S"}, want: []string{`"name":"S"`, `"metadata":{}`, `"configurations":[]`}},
		{name: "account", in: Account{Name: "A"}, want: []string{`"name":"A"`, `"maxSubaccounts":0`}},
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
		rec     AuditRecord
	}{
		{"no account", uuid.Nil, AuditRecord{Action: "a.b", ResourceType: "a"}},
		{"no action", uuid.New(), AuditRecord{ResourceType: "a"}},
		{"no resource type", uuid.New(), AuditRecord{Action: "a.b"}},
		{"unknown before", uuid.New(), AuditRecord{Action: "a.b", ResourceType: "a", Before: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A nil Tx: the record must be refused before anything is written.
			if err := RecordAudit(ctx, nil, tt.account, tt.rec); err == nil {
				t.Errorf("RecordAudit accepted %+v", tt.rec)
			}
		})
	}
	if err := RecordAudit(ctx, nil, uuid.New()); err != nil {
		t.Errorf("RecordAudit with no records: %v", err)
	}
}

func TestActorContext(t *testing.T) {
	t.Parallel()
	if a := ActorFrom(context.Background()); a != (Actor{}) {
		t.Errorf("ActorFrom(empty) = %+v", a)
	}
	want := Actor{Subject: "s", ClientID: "c", RequestID: "r"}
	if a := ActorFrom(WithActor(context.Background(), want)); a != want {
		t.Errorf("ActorFrom = %+v, want %+v", a, want)
	}
}
