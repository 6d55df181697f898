package issuer_test

import (
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestSecretVerificationRemembered: a client's correct secret pays bcrypt once, then is
// recognised from the keyed-hash cache; a wrong secret, an unknown client id, a revoked
// client and a changed secret each still pay exactly one bcrypt (unknown ids the dummy
// one), so the cache gives no fast path to anyone not holding the right secret.
func TestSecretVerificationRemembered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	calls := issuer.CountBcrypt(e.issuer)
	c, secret := e.client(t, acct, issuer.ClientInput{Name: "cached", Scopes: []string{subaccounts.ScopeAuditRead}})
	step := func(name string, wantCalls int64, id, secret string, wantOK bool) {
		t.Helper()
		before := calls.Load()
		_, err := e.issuer.Token(e.ctx, id, secret, "")
		if (err == nil) != wantOK {
			t.Fatalf("%s: Token error %v, want ok=%v", name, err, wantOK)
		}
		if !wantOK {
			wantOAuthError(t, err, "invalid_client", 401)
		}
		if got := calls.Load() - before; got != wantCalls {
			t.Errorf("%s: %d bcrypt comparisons, want %d", name, got, wantCalls)
		}
	}
	step("first correct secret", 1, c.ID, secret, true)
	step("second correct secret", 0, c.ID, secret, true)
	step("third correct secret", 0, c.ID, secret, true)
	step("wrong secret", 1, c.ID, secret+"x", false)
	step("correct secret after a wrong one", 0, c.ID, secret, true)
	step("unknown client id", 1, uuid.NewString(), secret, false)
	step("unknown client id again", 1, uuid.NewString(), secret, false)

	if err := e.issuer.RevokeClient(e.ctx, acct, c.ID); err != nil {
		t.Fatal(err)
	}
	step("revoked client", 1, c.ID, secret, false)

	// The operator's secret changed (by another start with a new ADMIN_CLIENT_SECRET):
	// the old secret is not trusted from the cache.
	const opID = "op-cache"
	oldSecret, newSecret := "old-secret-0123456789", "new-secret-0123456789"
	if err := e.issuer.EnsureOperator(e.ctx, opID, oldSecret, io.Discard); err != nil {
		t.Fatal(err)
	}
	step("operator first", 1, opID, oldSecret, true)
	step("operator cached", 0, opID, oldSecret, true)
	// Changed through the store, as another replica would: this issuer is not told.
	other := newEnvOver(t, e)
	if err := other.EnsureOperator(e.ctx, opID, newSecret, io.Discard); err != nil {
		t.Fatal(err)
	}
	step("old operator secret after the change", 1, opID, oldSecret, false)
	step("new operator secret", 1, opID, newSecret, true)
	step("new operator secret cached", 0, opID, newSecret, true)
}

// newEnvOver returns a second issuer (another replica) over e's store.
func newEnvOver(t *testing.T, e *env) *issuer.Issuer {
	t.Helper()
	is, err := issuer.New(e.ctx, e.store, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// TestClientRateLimit: a client's own limit is validated, stored, read back through the
// token check's cache (changes seen at once on the replica that made them), scoped to
// its account, and audited as client.update.
func TestClientRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct, other := e.account(t), e.account(t)
	ptr := func(n int) *int { return &n }
	c, _ := e.client(t, acct, issuer.ClientInput{Name: "limited", Scopes: []string{subaccounts.ScopeAuditRead}, RateLimit: ptr(7)})
	if c.RateLimit == nil || *c.RateLimit != 7 {
		t.Fatalf("created with %v", c.RateLimit)
	}
	limit := func(want int, wantOK bool) {
		t.Helper()
		n, ok, err := e.issuer.ClientRateLimit(e.ctx, c.ID)
		if err != nil || n != want || ok != wantOK {
			t.Errorf("ClientRateLimit = %d, %v, %v; want %d, %v", n, ok, err, want, wantOK)
		}
	}
	limit(7, true)

	for _, bad := range []int{-1, issuer.MaxClientRateLimit + 1} {
		_, err := e.issuer.SetClientRateLimit(e.ctx, acct, c.ID, ptr(bad))
		var de *subaccounts.Error
		if !errors.As(err, &de) || de.Code != subaccounts.CodeValidation || de.Fields[0].Pointer != "/rateLimit" {
			t.Errorf("rate limit %d: %v", bad, err)
		}
		if _, _, err := e.issuer.CreateClient(e.ctx, acct, issuer.ClientInput{Name: "x", Scopes: []string{subaccounts.ScopeAuditRead}, RateLimit: ptr(bad)}); !errors.As(err, &de) {
			t.Errorf("create with rate limit %d: %v", bad, err)
		}
	}
	if _, err := e.issuer.SetClientRateLimit(e.ctx, other, c.ID, ptr(1)); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("through another account: %v", err)
	}
	if _, err := e.issuer.SetClientRateLimit(e.ctx, acct, uuid.NewString(), ptr(1)); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("unknown client: %v", err)
	}
	limit(7, true)

	got, err := e.issuer.SetClientRateLimit(e.ctx, acct, c.ID, ptr(0))
	if err != nil || got.RateLimit == nil || *got.RateLimit != 0 {
		t.Fatalf("set 0: %+v, %v", got, err)
	}
	limit(0, true)
	if got, err = e.issuer.SetClientRateLimit(e.ctx, acct, c.ID, nil); err != nil || got.RateLimit != nil {
		t.Fatalf("set default: %+v, %v", got, err)
	}
	limit(0, false)
	if stored, err := e.store.GetClient(e.ctx, c.ID); err != nil || stored.RateLimit != nil {
		t.Errorf("stored: %+v, %v", stored, err)
	}

	if _, err := e.store.ChainAuditEvents(e.ctx, acct, 100); err != nil {
		t.Fatal(err)
	}
	evs, err := e.store.AuditEventsAfter(e.ctx, acct, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var updates []subaccounts.AuditEvent
	for _, ev := range evs {
		if ev.Action == "client.update" {
			updates = append(updates, ev)
		}
	}
	if len(updates) != 2 {
		t.Fatalf("%d client.update events, want 2 (refused changes leave none)", len(updates))
	}
	rate := func(doc json.RawMessage) any {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("audit doc %s: %v", doc, err)
		}
		if _, ok := m["secretHash"]; ok {
			t.Errorf("audit doc holds the secret hash: %s", doc)
		}
		return m["rateLimit"]
	}
	if b, a := rate(updates[0].Before), rate(updates[0].After); b != 7.0 || a != 0.0 {
		t.Errorf("first update %v -> %v, want 7 -> 0", b, a)
	}
	if b, a := rate(updates[1].Before), rate(updates[1].After); b != 0.0 || a != nil {
		t.Errorf("second update %v -> %v, want 0 -> null", b, a)
	}
}

// TestRememberedToken: while the token endpoint refuses unchecked attempts, only a secret
// this issuer verified recently gets a token, and nothing runs bcrypt.
func TestRememberedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	calls := issuer.CountBcrypt(e.issuer)
	c, secret := e.client(t, acct, issuer.ClientInput{Name: "blocked", Scopes: []string{subaccounts.ScopeAuditRead}})
	for _, tt := range []struct{ name, id, secret string }{
		{"unknown id", uuid.NewString(), secret},
		{"right secret, not yet verified", c.ID, secret},
		{"wrong secret", c.ID, "wrong"},
	} {
		if _, err := e.issuer.RememberedToken(e.ctx, tt.id, tt.secret, ""); !errors.Is(err, issuer.ErrNotRemembered) {
			t.Errorf("%s: %v, want ErrNotRemembered", tt.name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d bcrypt comparisons, want 0", n)
	}
	e.token(t, c.ID, secret, "")
	if _, err := e.issuer.RememberedToken(e.ctx, c.ID, secret, ""); err != nil {
		t.Errorf("remembered secret: %v", err)
	}
	if _, err := e.issuer.RememberedToken(e.ctx, c.ID, secret+"x", ""); !errors.Is(err, issuer.ErrNotRemembered) {
		t.Errorf("wrong secret after a remembered one: %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d bcrypt comparisons, want 1 (the first Token)", n)
	}
}
