package issuer_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func TestCreateClientValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	other := e.account(t)
	otherSub := e.subaccount(t, other)
	deletedSub := e.subaccount(t, acct)
	if err := e.store.DeleteSubaccount(e.ctx, acct, deletedSub); err != nil {
		t.Fatalf("DeleteSubaccount: %v", err)
	}
	unknown := uuid.New()
	read := []string{subaccounts.ScopeSubaccountsRead}

	tests := []struct {
		name    string
		account uuid.UUID
		in      issuer.ClientInput
		// wantFields are the JSON pointers of a validation error; nil with notFound set
		// expects ErrNotFound instead.
		wantFields []string
		notFound   bool
	}{
		{name: "empty name", account: acct, in: issuer.ClientInput{Name: "", Scopes: read}, wantFields: []string{"/name"}},
		{name: "blank name", account: acct, in: issuer.ClientInput{Name: "   ", Scopes: read}, wantFields: []string{"/name"}},
		{name: "no scopes", account: acct, in: issuer.ClientInput{Name: "c"}, wantFields: []string{"/scopes"}},
		{name: "empty scope list", account: acct, in: issuer.ClientInput{Name: "c", Scopes: []string{}}, wantFields: []string{"/scopes"}},
		{name: "operator scope", account: acct, in: issuer.ClientInput{Name: "c", Scopes: []string{"accounts:admin"}}, wantFields: []string{"/scopes/0"}},
		{name: "operator scope among tenant ones", account: acct, in: issuer.ClientInput{Name: "c", Scopes: []string{"subaccounts:read", "accounts:admin"}}, wantFields: []string{"/scopes/1"}},
		{name: "unknown scope", account: acct, in: issuer.ClientInput{Name: "c", Scopes: []string{"openid"}}, wantFields: []string{"/scopes/0"}},
		{name: "every field wrong", account: acct, in: issuer.ClientInput{Name: "", Scopes: []string{"x", "y"}}, wantFields: []string{"/name", "/scopes/0", "/scopes/1"}},
		{name: "unknown account", account: unknown, in: issuer.ClientInput{Name: "c", Scopes: read}, notFound: true},
		{name: "subaccount of another account", account: acct, in: issuer.ClientInput{Name: "c", Scopes: read, SubaccountID: &otherSub}, notFound: true},
		{name: "unknown subaccount", account: acct, in: issuer.ClientInput{Name: "c", Scopes: read, SubaccountID: &unknown}, notFound: true},
		{name: "deleted subaccount", account: acct, in: issuer.ClientInput{Name: "c", Scopes: read, SubaccountID: &deletedSub}, notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, secret, err := e.issuer.CreateClient(e.ctx, tt.account, tt.in)
			if err == nil {
				t.Fatalf("CreateClient succeeded: %+v", c)
			}
			if c.ID != "" || secret != "" {
				t.Errorf("client %q / secret returned alongside the error", c.ID)
			}
			if tt.notFound {
				if !errors.Is(err, subaccounts.ErrNotFound) {
					t.Errorf("error %v, want ErrNotFound", err)
				}
				return
			}
			var de *subaccounts.Error
			if !errors.As(err, &de) || de.Code != subaccounts.CodeValidation {
				t.Fatalf("error %v (%T), want a validation *subaccounts.Error", err, err)
			}
			var got []string
			for _, f := range de.Fields {
				got = append(got, f.Pointer)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields %q, want %q", got, tt.wantFields)
			}
		})
	}
	for _, a := range []uuid.UUID{acct, other} {
		if cs, err := e.store.ListClients(e.ctx, a, "", 100); err != nil || len(cs) != 0 {
			t.Errorf("account %s: %d clients after refused creations (err %v)", a, len(cs), err)
		}
	}
}

func TestCreateClientStoresOnlyHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	sub := e.subaccount(t, acct)
	c, secret := e.client(t, acct, issuer.ClientInput{
		Name:         "  reporting  ",
		Scopes:       []string{"subaccounts:read", "subaccounts:read", "subaccounts:write"},
		SubaccountID: &sub,
	})
	if len(secret) != 64 {
		t.Errorf("secret length %d, want 64", len(secret))
	}
	if c.Name != "reporting" {
		t.Errorf("name %q, want trimmed", c.Name)
	}
	if !slices.Equal(c.Scopes, []string{"subaccounts:read", "subaccounts:write"}) {
		t.Errorf("scopes %q, want deduplicated", c.Scopes)
	}
	if c.AccountID == nil || *c.AccountID != acct || c.SubaccountID == nil || *c.SubaccountID != sub {
		t.Errorf("account %v subaccount %v, want %s %s", c.AccountID, c.SubaccountID, acct, sub)
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		t.Errorf("client id %q is not a UUID", c.ID)
	}

	stored, err := e.store.GetClient(e.ctx, c.ID)
	if err != nil {
		t.Fatalf("GetClient: %v", err)
	}
	for name, v := range map[string]string{"SecretHash": stored.SecretHash, "Name": stored.Name, "ID": stored.ID, "Scopes": strings.Join(stored.Scopes, " ")} {
		if strings.Contains(v, secret) {
			t.Errorf("stored %s contains the secret in clear", name)
		}
	}
	if stored.SecretHash != c.SecretHash {
		t.Errorf("stored hash differs from the returned one")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(stored.SecretHash), []byte(secret)); err != nil {
		t.Errorf("stored hash does not verify the secret: %v", err)
	}
	if cost, err := bcrypt.Cost([]byte(stored.SecretHash)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("hash cost %d (err %v), want the configured %d", cost, err, bcrypt.MinCost)
	}

	listed, _, err := e.issuer.ListClients(e.ctx, acct, subaccounts.Page{Limit: 25})
	if err != nil || len(listed) != 1 || listed[0].ID != c.ID {
		t.Errorf("ListClients = %+v (err %v), want the one client", listed, err)
	}
	if _, _, err := e.issuer.ListClients(e.ctx, uuid.New(), subaccounts.Page{Limit: 25}); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("ListClients(unknown account) err = %v, want ErrNotFound", err)
	}
}

func TestCreateClientDefaultBcryptCost(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.BcryptCost = 0
	e := newEnvWith(t, cfg)
	c, secret := e.client(t, e.account(t), issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	if cost, err := bcrypt.Cost([]byte(c.SecretHash)); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("hash cost %d (err %v), want bcrypt.DefaultCost %d", cost, err, bcrypt.DefaultCost)
	}
	e.token(t, c.ID, secret, "")
	_, err := e.issuer.Token(e.ctx, c.ID, "wrong", "")
	wantOAuthError(t, err, "invalid_client", 401)
}

func TestRevokeClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	other := e.account(t)
	c, secret := e.client(t, acct, issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	keep, keepSecret := e.client(t, acct, issuer.ClientInput{Name: "keep", Scopes: subaccounts.TenantScopes})
	resp, _ := e.token(t, c.ID, secret, "")
	keepResp, _ := e.token(t, keep.ID, keepSecret, "")
	// Prime the cache, so revocation has to evict it.
	if active, err := e.issuer.ClientActive(e.ctx, c.ID); err != nil || !active {
		t.Fatalf("ClientActive before revocation = %v, %v", active, err)
	}

	// Another account cannot revoke it, nor learn that it exists.
	if err := e.issuer.RevokeClient(e.ctx, other, c.ID); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("RevokeClient by another account: %v, want ErrNotFound", err)
	}
	if active, _ := e.issuer.ClientActive(e.ctx, c.ID); !active {
		t.Fatal("client inactive after another account's failed revocation")
	}

	if err := e.issuer.RevokeClient(e.ctx, acct, c.ID); err != nil {
		t.Fatalf("RevokeClient: %v", err)
	}
	if active, err := e.issuer.ClientActive(e.ctx, c.ID); err != nil || active {
		t.Errorf("ClientActive right after revocation = %v, %v; want false", active, err)
	}
	_, err := e.verifier.Verify(e.ctx, "Bearer "+resp.AccessToken)
	var ae *auth.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.Description, "revoked") {
		t.Errorf("Verify revoked client's token: %v, want a revoked *auth.Error", err)
	}
	_, err = e.issuer.Token(e.ctx, c.ID, secret, "")
	wantOAuthError(t, err, "invalid_client", 401)
	if err := e.issuer.RevokeClient(e.ctx, acct, c.ID); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("second RevokeClient: %v, want ErrNotFound", err)
	}
	if cs, _, _ := e.issuer.ListClients(e.ctx, acct, subaccounts.Page{Limit: 25}); len(cs) != 1 || cs[0].ID != keep.ID {
		t.Errorf("ListClients after revocation = %+v, want only %s", cs, keep.ID)
	}

	// The other client is untouched.
	if _, err := e.verifier.Verify(e.ctx, "Bearer "+keepResp.AccessToken); err != nil {
		t.Errorf("other client's token refused: %v", err)
	}
}

func TestClientActive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, _ := e.client(t, e.account(t), issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"existing", c.ID, true},
		{"unknown", uuid.NewString(), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the cached answer must equal the fresh one.
			for range 2 {
				got, err := e.issuer.ClientActive(e.ctx, tt.id)
				if err != nil || got != tt.want {
					t.Errorf("ClientActive(%q) = %v, %v; want %v", tt.id, got, err, tt.want)
				}
			}
		})
	}
}

func TestEnsureOperatorExplicit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "ops-admin"
	oldSecret, newSecret := "first-secret-0123456789", "second-secret-0123456789"
	// Asked about before it exists, the answer is cached as inactive; creating the
	// operator must drop that answer.
	if active, err := e.issuer.ClientActive(e.ctx, id); err != nil || active {
		t.Fatalf("ClientActive before creation = %v, %v", active, err)
	}
	var out bytes.Buffer
	if err := e.issuer.EnsureOperator(e.ctx, id, oldSecret, &out); err != nil {
		t.Fatalf("EnsureOperator: %v", err)
	}
	if active, err := e.issuer.ClientActive(e.ctx, id); err != nil || !active {
		t.Errorf("ClientActive right after creation = %v, %v; want true", active, err)
	}
	if out.Len() != 0 {
		t.Errorf("explicit credentials printed %q", out.String())
	}
	c, err := e.store.GetClient(e.ctx, id)
	if err != nil {
		t.Fatalf("GetClient: %v", err)
	}
	if c.AccountID != nil || c.SubaccountID != nil || !slices.Equal(c.Scopes, []string{subaccounts.ScopeAccountsAdmin}) {
		t.Errorf("operator client %+v: want no account and scope accounts:admin", c)
	}
	if c.SecretHash == oldSecret || bcrypt.CompareHashAndPassword([]byte(c.SecretHash), []byte(oldSecret)) != nil {
		t.Error("operator secret not stored as its bcrypt hash")
	}
	if exists, err := e.store.OperatorClientExists(e.ctx); err != nil || !exists {
		t.Errorf("OperatorClientExists = %v, %v", exists, err)
	}

	resp, tok := e.token(t, id, oldSecret, "")
	if resp.Scope != subaccounts.ScopeAccountsAdmin || !tok.Principal.HasScope(subaccounts.ScopeAccountsAdmin) {
		t.Errorf("operator token scope %q", resp.Scope)
	}
	if _, ok := rawClaims(t, resp.AccessToken)[accountClaim]; ok {
		t.Errorf("operator token carries %s", accountClaim)
	}
	var ae *auth.Error
	if !errors.As(tok.AccountErr, &ae) || tok.Principal.AccountID != uuid.Nil {
		t.Errorf("operator principal account %v, AccountErr %v", tok.Principal.AccountID, tok.AccountErr)
	}

	// The same credentials again: nothing to do, the stored hash is kept.
	if err := e.issuer.EnsureOperator(e.ctx, id, oldSecret, &out); err != nil {
		t.Fatalf("EnsureOperator again: %v", err)
	}
	if again, _ := e.store.GetClient(e.ctx, id); again.SecretHash != c.SecretHash {
		t.Error("unchanged credentials re-hashed the secret")
	}

	// A new secret replaces the old one.
	if err := e.issuer.EnsureOperator(e.ctx, id, newSecret, &out); err != nil {
		t.Fatalf("EnsureOperator with a new secret: %v", err)
	}
	_, err = e.issuer.Token(e.ctx, id, oldSecret, "")
	wantOAuthError(t, err, "invalid_client", 401)
	e.token(t, id, newSecret, "")
	if active, err := e.issuer.ClientActive(e.ctx, id); err != nil || !active {
		t.Errorf("ClientActive(operator) = %v, %v", active, err)
	}

	// An explicit operator also satisfies the generated-operator check.
	if err := e.issuer.EnsureOperator(e.ctx, "", "", &out); err != nil {
		t.Fatalf("EnsureOperator without credentials: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed credentials though an operator exists: %q", out.String())
	}
}

var (
	generatedID     = regexp.MustCompile(`(?m)^\s*ADMIN_CLIENT_ID=(\S+)$`)
	generatedSecret = regexp.MustCompile(`(?m)^\s*ADMIN_CLIENT_SECRET=(\S+)$`)
)

func TestEnsureOperatorGenerated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var out bytes.Buffer
	if err := e.issuer.EnsureOperator(e.ctx, "", "", &out); err != nil {
		t.Fatalf("EnsureOperator: %v", err)
	}
	printed := out.String()
	idM, secretM := generatedID.FindStringSubmatch(printed), generatedSecret.FindStringSubmatch(printed)
	if idM == nil || secretM == nil {
		t.Fatalf("credentials not found in %q", printed)
	}
	id, secret := idM[1], secretM[1]
	if !strings.HasPrefix(id, "operator-") || len(secret) != 64 {
		t.Errorf("generated id %q secret length %d", id, len(secret))
	}
	stored, err := e.store.GetClient(e.ctx, id)
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	if stored.SecretHash == secret || stored.AccountID != nil {
		t.Errorf("stored operator %+v: want a hashed secret and no account", stored)
	}
	resp, tok := e.token(t, id, secret, "")
	if resp.Scope != subaccounts.ScopeAccountsAdmin || tok.AccountErr == nil {
		t.Errorf("generated operator token scope %q, AccountErr %v", resp.Scope, tok.AccountErr)
	}

	out.Reset()
	if err := e.issuer.EnsureOperator(e.ctx, "", "", &out); err != nil {
		t.Fatalf("EnsureOperator again: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("second call printed %q", out.String())
	}
	// Still exactly the one operator, still working.
	e.token(t, id, secret, "")
}

// A second issuer over the same store (another replica, or a restart) does not generate
// another operator.
func TestEnsureOperatorGeneratedOncePerStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	var prints int
	for range 2 {
		is, err := issuer.New(ctx, db, testConfig())
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		var out bytes.Buffer
		if err := is.EnsureOperator(ctx, "", "", &out); err != nil {
			t.Fatalf("EnsureOperator: %v", err)
		}
		if out.Len() > 0 {
			prints++
		}
	}
	if prints != 1 {
		t.Errorf("credentials printed %d times, want once", prints)
	}
}

// ADMIN_CLIENT_ID naming an existing tenant client must neither take that client over
// nor pretend to have created the operator.
func TestEnsureOperatorIDOfTenantClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	c, secret := e.client(t, acct, issuer.ClientInput{Name: "tenant", Scopes: subaccounts.TenantScopes})
	const opSecret = "operator-secret-0123456789"

	err := e.issuer.EnsureOperator(e.ctx, c.ID, opSecret, nil)

	// Whatever happens, the tenant client must stay a tenant client.
	stored, gerr := e.store.GetClient(e.ctx, c.ID)
	if gerr != nil {
		t.Fatalf("GetClient: %v", gerr)
	}
	if stored.AccountID == nil || *stored.AccountID != acct || slices.Contains(stored.Scopes, subaccounts.ScopeAccountsAdmin) {
		t.Fatalf("tenant client taken over by EnsureOperator: %+v", stored)
	}
	if _, tok := e.token(t, c.ID, secret, ""); tok.Principal.HasScope(subaccounts.ScopeAccountsAdmin) {
		t.Fatal("tenant client's token carries accounts:admin")
	}
	_, terr := e.issuer.Token(e.ctx, c.ID, opSecret, "")
	if err == nil {
		t.Errorf("EnsureOperator succeeded for a tenant client's id; a token with its secret gives %v", terr)
	}
}

// Token and ClientActive see a client revoked through another issuer instance (another
// replica) no later than the next store read, since Token never uses the cache.
func TestTokenRefusedAfterRevocationElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	c, secret := e.client(t, acct, issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	replica, err := issuer.New(e.ctx, e.store, testConfig())
	if err != nil {
		t.Fatalf("New replica: %v", err)
	}
	if err := replica.RevokeClient(e.ctx, acct, c.ID); err != nil {
		t.Fatalf("RevokeClient on replica: %v", err)
	}
	_, err = e.issuer.Token(e.ctx, c.ID, secret, "")
	wantOAuthError(t, err, "invalid_client", 401)
}

// ForgetClients makes a revocation that bypassed this issuer (a subaccount deletion
// revoking its confined clients) visible to the next token check.
func TestForgetClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	c, secret := e.client(t, acct, issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	keep, _ := e.client(t, acct, issuer.ClientInput{Name: "keep", Scopes: subaccounts.TenantScopes})
	resp, _ := e.token(t, c.ID, secret, "") // caches c as active
	if active, _ := e.issuer.ClientActive(e.ctx, keep.ID); !active {
		t.Fatal("client inactive before any revocation")
	}
	if err := e.store.RevokeClient(e.ctx, acct, c.ID); err != nil {
		t.Fatalf("store RevokeClient: %v", err)
	}
	e.issuer.ForgetClients()
	if active, err := e.issuer.ClientActive(e.ctx, c.ID); err != nil || active {
		t.Errorf("ClientActive after ForgetClients = %v, %v; want false", active, err)
	}
	if _, err := e.verifier.Verify(e.ctx, "Bearer "+resp.AccessToken); err == nil {
		t.Error("revoked client's token accepted after ForgetClients")
	}
	if active, err := e.issuer.ClientActive(e.ctx, keep.ID); err != nil || !active {
		t.Errorf("untouched client: ClientActive = %v, %v; want true", active, err)
	}
}
