package issuer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestEnsureOperatorKeepsOnlyTheConfigured walks the operator's life across starts, on
// each database: generated, then ADMIN_CLIENT_ID=a (the generated one revoked), then
// =b (a revoked), then none (b kept, none generated), then b with a new secret. At each
// step exactly the expected operator gets tokens and the revoked ones' tokens fail.
func TestEnsureOperatorKeepsOnlyTheConfigured(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, dialect)
			is, err := issuer.New(ctx, db, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			e := &env{ctx: ctx, store: db, issuer: is, cfg: testConfig(), verifier: verifierFor(is, testConfig())}
			ensure := func(id, secret string) string {
				t.Helper()
				var out bytes.Buffer
				if err := is.EnsureOperator(ctx, id, secret, &out); err != nil {
					t.Fatalf("EnsureOperator(%q): %v", id, err)
				}
				return out.String()
			}
			refused := func(step, id, secret, token string) {
				t.Helper()
				if _, err := is.Token(ctx, id, secret, ""); err == nil {
					t.Errorf("%s: %s still gets tokens", step, id)
				}
				if _, err := e.verifier.Verify(ctx, "Bearer "+token); err == nil {
					t.Errorf("%s: a token of %s still verifies", step, id)
				}
			}

			printed := ensure("", "")
			genID, genSecret := generatedID.FindStringSubmatch(printed), generatedSecret.FindStringSubmatch(printed)
			if genID == nil || genSecret == nil {
				t.Fatalf("no generated credentials in %q", printed)
			}
			genTok, _ := e.token(t, genID[1], genSecret[1], "")

			const secretA, secretB = "secret-of-a-0123456789", "secret-of-b-0123456789"
			if out := ensure("ops-a", secretA); !strings.Contains(out, "Revoked the operator client "+genID[1]) {
				t.Errorf("revocation of the generated operator not reported: %q", out)
			}
			refused("after a", genID[1], genSecret[1], genTok.AccessToken)
			aTok, _ := e.token(t, "ops-a", secretA, "")
			if out := ensure("ops-a", secretA); out != "" {
				t.Errorf("an unchanged restart printed %q", out)
			}
			e.token(t, "ops-a", secretA, "")

			ensure("ops-b", secretB)
			refused("after b", "ops-a", secretA, aTok.AccessToken)
			bTok, _ := e.token(t, "ops-b", secretB, "")

			// Without configuration the last configured operator stays, and none is made.
			if out := ensure("", ""); out != "" {
				t.Errorf("start without ADMIN_CLIENT_ID printed %q", out)
			}
			e.token(t, "ops-b", secretB, "")

			// Rotating only the secret: the old secret is refused, its tokens live on.
			const secretB2 = "second-secret-of-b-0123"
			ensure("ops-b", secretB2)
			if _, err := is.Token(ctx, "ops-b", secretB, ""); err == nil {
				t.Error("the old secret of b still gets tokens")
			}
			e.token(t, "ops-b", secretB2, "")
			if _, err := e.verifier.Verify(ctx, "Bearer "+bTok.AccessToken); err != nil {
				t.Errorf("a token issued before the secret changed: %v", err)
			}

			// Each revocation is in the platform's audit chain, without secret or hash.
			if _, err := db.ChainAuditEvents(ctx, subaccounts.PlatformAuditAccount, 100); err != nil {
				t.Fatal(err)
			}
			evs, err := db.AuditEventsAfter(ctx, subaccounts.PlatformAuditAccount, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, ev := range evs {
				if ev.Action != "client.revoke" || ev.ResourceType != "client" || ev.Before == nil || ev.After != nil {
					t.Errorf("event %+v", ev)
				}
				if strings.Contains(strings.ToLower(string(ev.Before)), "secret") || strings.Contains(string(ev.Before), "$2a$") {
					t.Errorf("audit of %s holds the secret or its hash: %s", ev.ResourceID, ev.Before)
				}
				var before map[string]any
				if err := json.Unmarshal(ev.Before, &before); err != nil || before["clientId"] != ev.ResourceID {
					t.Errorf("before %s", ev.Before)
				}
				ids = append(ids, ev.ResourceID)
			}
			if want := []string{genID[1], "ops-a"}; !slices.Equal(ids, want) {
				t.Errorf("audited revocations %q, want %q", ids, want)
			}
		})
	}
}
