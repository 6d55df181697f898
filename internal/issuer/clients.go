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
	}
	err = is.store.Transact(ctx, func(tx subaccounts.Tx) error {
		if err := tx.CreateClient(ctx, c); err != nil {
			return err
		}
		return subaccounts.RecordAudit(ctx, tx, accountID, subaccounts.AuditRecord{
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
	err := is.store.Transact(ctx, func(tx subaccounts.Tx) error {
		// The client as it was, for the audit log; GetClient finds any account's client,
		// so another account's is not found below, by RevokeClient.
		before, err := tx.GetClient(ctx, clientID)
		if err != nil && !errors.Is(err, subaccounts.ErrNotFound) {
			return err
		}
		if err := tx.RevokeClient(ctx, accountID, clientID); err != nil {
			return err
		}
		return subaccounts.RecordAudit(ctx, tx, accountID, subaccounts.AuditRecord{
			Action: "client.revoke", ResourceType: "client", ResourceID: clientID, Before: before,
		})
	})
	if err != nil {
		return err
	}
	is.forget(clientID)
	return nil
}

// EnsureOperator makes sure an operator client exists. With id and secret (from
// ADMIN_CLIENT_ID/ADMIN_CLIENT_SECRET) it creates or updates that client. Without, it
// generates one on first start and prints its credentials once to w.
func (is *Issuer) EnsureOperator(ctx context.Context, id, secret string, w io.Writer) error {
	if id != "" {
		if c, err := is.store.GetClient(ctx, id); err == nil && c.AccountID == nil &&
			bcryptOK(c.SecretHash, secret) && slices.Equal(c.Scopes, []string{subaccounts.ScopeAccountsAdmin}) {
			return nil
		}
		hash, err := is.Hash(secret)
		if err != nil {
			return err
		}
		err = is.store.UpsertOperatorClient(ctx, subaccounts.Client{
			ID: id, Name: "operator", Scopes: []string{subaccounts.ScopeAccountsAdmin}, SecretHash: hash, CreatedAt: subaccounts.Now(),
		})
		if errors.Is(err, subaccounts.ErrConflict) {
			return fmt.Errorf("ADMIN_CLIENT_ID: %q is already the id of an account's client", id)
		}
		if err != nil {
			return fmt.Errorf("operator client: %w", err)
		}
		is.forget(id)
		return nil
	}
	exists, err := is.store.OperatorClientExists(ctx)
	if err != nil || exists {
		return err
	}
	id = "operator-" + uuid.NewString()
	secret = NewSecret()
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
	_, err = fmt.Fprintf(w, "Generated the operator client; its secret is shown only this once.\n  ADMIN_CLIENT_ID=%s\n  ADMIN_CLIENT_SECRET=%s\n", id, secret)
	return err
}
