package issuer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// ClientInput is a requested tenant client.
type ClientInput struct {
	Name         string
	Scopes       []string
	SubaccountID *uuid.UUID
	// RateLimit is the client's own limit in requests per second (0: unlimited); nil
	// leaves it to the service's default.
	RateLimit *int
}

// MaxClientRateLimit is the highest rate limit a client can be given, in requests per
// second.
const MaxClientRateLimit = 1_000_000

func checkRateLimit(limit *int) *subaccounts.FieldError {
	if limit != nil && (*limit < 0 || *limit > MaxClientRateLimit) {
		return &subaccounts.FieldError{Pointer: "/rateLimit", Detail: fmt.Sprintf("must be from 0 (unlimited) to %d requests per second", MaxClientRateLimit)}
	}
	return nil
}

// CreateClient creates a client of an account and returns it with its secret, which is
// kept only as a hash and cannot be shown again.
func (is *Issuer) CreateClient(ctx context.Context, accountID uuid.UUID, in ClientInput) (subaccounts.Client, string, error) {
	name, fe := subaccounts.CleanName("/name", in.Name)
	var errs []subaccounts.FieldError
	if fe != nil {
		errs = append(errs, *fe)
	}
	if len(in.Scopes) == 0 {
		errs = append(errs, subaccounts.FieldError{Pointer: "/scopes", Detail: "must list at least one scope"})
	}
	if fe := checkRateLimit(in.RateLimit); fe != nil {
		errs = append(errs, *fe)
	}
	for i, s := range in.Scopes {
		if !slices.Contains(subaccounts.TenantScopes, s) {
			errs = append(errs, subaccounts.FieldError{Pointer: fmt.Sprintf("/scopes/%d", i), Detail: fmt.Sprintf("is not a tenant scope; one of %v", subaccounts.TenantScopes)}) // the input is not echoed: it could be anything, a card number too
		}
	}
	if len(errs) > 0 {
		return subaccounts.Client{}, "", subaccounts.Invalid(errs...)
	}
	if _, err := is.store.GetAccount(ctx, accountID, false); err != nil {
		return subaccounts.Client{}, "", err
	}
	if in.SubaccountID != nil {
		if _, err := is.store.GetSubaccount(ctx, accountID, *in.SubaccountID); err != nil {
			return subaccounts.Client{}, "", err
		}
	}
	secret := NewSecret()
	hash, err := is.Hash(secret)
	if err != nil {
		return subaccounts.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	acct := accountID
	c := subaccounts.Client{
		ID:           uuid.Must(uuid.NewV7()).String(),
		AccountID:    &acct,
		SubaccountID: in.SubaccountID,
		Name:         name,
		Scopes:       dedupe(in.Scopes),
		SecretHash:   hash,
		CreatedAt:    subaccounts.Now(),
		RateLimit:    in.RateLimit,
	}
	err = is.store.Transact(ctx, func(ctx context.Context) error {
		if err := is.store.CreateClient(ctx, c); err != nil {
			return err
		}
		return is.rec.Record(ctx, accountID, subaccounts.Change{
			Action: "client.create", ResourceType: "client", ResourceID: c.ID, After: c,
		})
	})
	if err != nil {
		return subaccounts.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	return c, secret, nil
}

// ListClients returns one page of an account's active clients and the id to continue
// after, if there are more.
func (is *Issuer) ListClients(ctx context.Context, accountID uuid.UUID, p subaccounts.Page) ([]subaccounts.Client, *uuid.UUID, error) {
	if _, err := is.store.GetAccount(ctx, accountID, false); err != nil {
		return nil, nil, err
	}
	after := ""
	if p.After != uuid.Nil {
		after = p.After.String()
	}
	items, err := is.store.ListClients(ctx, accountID, after, p.Limit+1)
	if err != nil {
		return nil, nil, err
	}
	if len(items) <= p.Limit {
		return items, nil, nil
	}
	items = items[:p.Limit]
	// Tenant client ids are UUIDs this issuer made.
	next, err := uuid.Parse(items[p.Limit-1].ID)
	if err != nil {
		return nil, nil, fmt.Errorf("list clients: client id %q is not a UUID", items[p.Limit-1].ID)
	}
	return items, &next, nil
}

// RevokeClient revokes a client; its tokens stop working at once on this replica and
// within a few seconds on the others.
func (is *Issuer) RevokeClient(ctx context.Context, accountID uuid.UUID, clientID string) error {
	err := is.store.Transact(ctx, func(ctx context.Context) error {
		// The client as it was, for the audit log; GetClient finds any account's client,
		// so another account's is not found below, by RevokeClient.
		before, err := is.store.GetClient(ctx, clientID)
		if err != nil && !errors.Is(err, subaccounts.ErrNotFound) {
			return err
		}
		if err := is.store.RevokeClient(ctx, accountID, clientID); err != nil {
			return err
		}
		return is.rec.Record(ctx, accountID, subaccounts.Change{
			Action: "client.revoke", ResourceType: "client", ResourceID: clientID, Before: before,
		})
	})
	if err != nil {
		return err
	}
	is.forget(clientID)
	return nil
}

// SetClientRateLimit gives an account's client its own rate limit (nil: back to the
// default) and returns the client as changed. The new limit holds at once on this
// replica and within a few seconds on the others.
func (is *Issuer) SetClientRateLimit(ctx context.Context, accountID uuid.UUID, clientID string, limit *int) (subaccounts.Client, error) {
	if fe := checkRateLimit(limit); fe != nil {
		return subaccounts.Client{}, subaccounts.Invalid(*fe)
	}
	var after subaccounts.Client
	err := is.store.Transact(ctx, func(ctx context.Context) error {
		before, err := is.store.GetClient(ctx, clientID)
		if err != nil {
			return err
		}
		// GetClient finds any account's client: another account's is not found.
		if before.AccountID == nil || *before.AccountID != accountID {
			return subaccounts.NotFound("client")
		}
		if err := is.store.SetClientRateLimit(ctx, accountID, clientID, limit); err != nil {
			return err
		}
		after = before
		after.RateLimit = limit
		return is.rec.Record(ctx, accountID, subaccounts.Change{
			Action: "client.update", ResourceType: "client", ResourceID: clientID, Before: before, After: after,
		})
	})
	if err != nil {
		return subaccounts.Client{}, err
	}
	is.forgetLimit(clientID)
	return after, nil
}

// EnsureOperator makes exactly one operator client valid.
//
// With id and secret (from ADMIN_CLIENT_ID/ADMIN_CLIENT_SECRET) it creates that client or
// replaces its secret's hash, and revokes every other operator client: those generated
// by earlier starts and those of an earlier ADMIN_CLIENT_ID. The revoked clients' tokens
// stop working at once; each revocation is audited in the platform's audit chain and
// printed to w. A changed secret alone keeps the client: the old secret is refused from
// then on, while tokens already issued stay valid until they expire (TOKEN_MAX_LIFETIME
// at most); a new id revokes those tokens too.
//
// Without id it keeps whatever operator client is active (the generated one, or the
// last configured one), and generates one only when none is, printing its credentials
// once to w.
func (is *Issuer) EnsureOperator(ctx context.Context, id, secret string, w io.Writer) error {
	if id == "" {
		return is.ensureGeneratedOperator(ctx, w)
	}
	var hash string
	if c, err := is.store.GetClient(ctx, id); err != nil || c.AccountID != nil ||
		!bcryptOK(c.SecretHash, secret) || !slices.Equal(c.Scopes, []string{subaccounts.ScopeAccountsAdmin}) {
		// Hashed before the transaction: bcrypt takes tens of milliseconds.
		if hash, err = is.Hash(secret); err != nil {
			return err
		}
	}
	var revoked []subaccounts.Client
	err := is.store.Transact(ctx, func(ctx context.Context) error {
		if hash != "" {
			err := is.store.UpsertOperatorClient(ctx, subaccounts.Client{
				ID: id, Name: "operator", Scopes: []string{subaccounts.ScopeAccountsAdmin}, SecretHash: hash, CreatedAt: subaccounts.Now(),
			})
			if errors.Is(err, subaccounts.ErrConflict) {
				return fmt.Errorf("ADMIN_CLIENT_ID: %q is already the id of an account's client", id)
			}
			if err != nil {
				return fmt.Errorf("operator client: %w", err)
			}
		}
		var err error
		revoked, err = is.revokeOperators(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	is.forget(id)
	if len(revoked) > 0 {
		is.ForgetClients()
	}
	for _, c := range revoked {
		if w == nil {
			break
		}
		if _, err := fmt.Fprintf(w, "Revoked the operator client %s: ADMIN_CLIENT_ID=%s is the operator client now.\n", c.ID, id); err != nil {
			return err
		}
	}
	return nil
}

// revokeOperators revokes every operator client but keepID in the transaction ctx carries, auditing each like
// a tenant client's revocation, in the platform's audit chain.
func (is *Issuer) revokeOperators(ctx context.Context, keepID string) ([]subaccounts.Client, error) {
	revoked, err := is.store.RevokeOperatorClients(ctx, keepID)
	if err != nil {
		return nil, fmt.Errorf("revoke earlier operator clients: %w", err)
	}
	recs := make([]subaccounts.Change, len(revoked))
	for i, c := range revoked {
		recs[i] = subaccounts.Change{Action: "client.revoke", ResourceType: "client", ResourceID: c.ID, Before: c}
	}
	return revoked, is.rec.Record(ctx, subaccounts.PlatformAuditAccount, recs...)
}

// ensureGeneratedOperator generates an operator client when no operator client is active.
func (is *Issuer) ensureGeneratedOperator(ctx context.Context, w io.Writer) error {
	exists, err := is.store.OperatorClientExists(ctx)
	if err != nil || exists {
		return err
	}
	id := "operator-" + uuid.NewString()
	secret := NewSecret()
	hash, err := is.Hash(secret)
	if err != nil {
		return err
	}
	err = is.store.UpsertOperatorClient(ctx, subaccounts.Client{
		ID: id, Name: "operator", Scopes: []string{subaccounts.ScopeAccountsAdmin}, SecretHash: hash, CreatedAt: subaccounts.Now(),
	})
	if err != nil {
		return fmt.Errorf("operator client: %w", err)
	}
	is.forget(id)
	_, err = fmt.Fprintf(w, "Generated the operator client; its secret is shown only this once.\n  ADMIN_CLIENT_ID=%s\n  ADMIN_CLIENT_SECRET=%s\n", id, secret)
	return err
}
