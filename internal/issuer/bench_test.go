package issuer_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/cardseg/subaccounts/internal/store/storetest"

	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// BenchmarkToken is one token request at the production bcrypt cost: with a secret that
// verified before (remembered: no bcrypt), and with a wrong one (one bcrypt each).
func BenchmarkToken(b *testing.B) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.BcryptCost = bcrypt.DefaultCost
	db := storetest.Open(b, "sqlite")
	is, err := issuer.New(ctx, db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	now := subaccounts.Now()
	a := subaccounts.Account{ID: uuid.Must(uuid.NewV7()), Name: "bench", Contract: subaccounts.Contract{MaxSubaccounts: 1, Version: 1, Currency: "EUR"}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	c, secret, err := is.CreateClient(ctx, a.ID, issuer.ClientInput{Name: "bench", Scopes: []string{subaccounts.ScopeAuditRead}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("remembered", func(b *testing.B) {
		if _, err := is.Token(ctx, c.ID, secret, ""); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := is.Token(ctx, c.ID, secret, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrong-secret", func(b *testing.B) {
		for b.Loop() {
			if _, err := is.Token(ctx, c.ID, "wrong", ""); err == nil {
				b.Fatal("a wrong secret was accepted")
			}
		}
	})
}
