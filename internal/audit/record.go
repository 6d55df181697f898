package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Recorder writes audit events: the audit log's kind of subaccounts.Recorder.
type Recorder struct{ store Writer }

// Writer is what recording needs of the database.
type Writer interface {
	// InTransaction reports whether ctx carries a transaction.
	InTransaction(ctx context.Context) bool
	// InsertAuditEvents writes events unchained, in the transaction ctx carries.
	InsertAuditEvents(ctx context.Context, events []subaccounts.AuditEvent) error
}

// NewRecorder returns a Recorder writing to store.
func NewRecorder(store Writer) *Recorder { return &Recorder{store: store} }

// Record writes changes to the audit log of accountID (subaccounts.PlatformAuditAccount
// for the platform's own chain), as the actor ctx carries. ctx must carry the change's
// transaction: the events are written unchained in it, so they commit or roll back with
// the change; they take no lock. The chainer links them into the account's hash chain
// afterwards (see Service.ChainAudit).
func (r *Recorder) Record(ctx context.Context, accountID uuid.UUID, changes ...subaccounts.Change) error {
	if len(changes) == 0 {
		return nil
	}
	if accountID == uuid.Nil {
		return errors.New("record audit: no account")
	}
	// A group commit's changes are all unaudited (its transactions): it pays a count,
	// not a copy.
	n := 0
	for _, c := range changes {
		if !c.Unaudited {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	audited := changes
	if n < len(changes) {
		audited = make([]subaccounts.Change, 0, n)
		for _, c := range changes {
			if !c.Unaudited {
				audited = append(audited, c)
			}
		}
	}
	return recordAudit(ctx, r.store, accountID, audited)
}

func recordAudit(ctx context.Context, tx Writer, accountID uuid.UUID, recs []subaccounts.Change) error {
	actor := subaccounts.ActorFrom(ctx)
	now := subaccounts.Now()
	events := make([]subaccounts.AuditEvent, len(recs))
	for i, r := range recs {
		if r.Action == "" || r.ResourceType == "" {
			return fmt.Errorf("record audit: record %d has no action or resource type", i)
		}
		before, err := auditJSON(r.Before)
		if err != nil {
			return fmt.Errorf("record audit %s: before: %w", r.Action, err)
		}
		after, err := auditJSON(r.After)
		if err != nil {
			return fmt.Errorf("record audit %s: after: %w", r.Action, err)
		}
		events[i] = subaccounts.AuditEvent{
			ID:            uuid.Must(uuid.NewV7()),
			AccountID:     accountID,
			ActorSubject:  actor.Subject,
			ActorClientID: actor.ClientID,
			Action:        r.Action,
			ResourceType:  r.ResourceType,
			ResourceID:    r.ResourceID,
			Before:        before,
			After:         after,
			Reference:     r.Reference,
			RequestID:     actor.RequestID,
			CreatedAt:     now,
		}
	}
	if !tx.InTransaction(ctx) {
		return errors.New("record audit: outside the change's transaction")
	}
	if err := tx.InsertAuditEvents(ctx, events); err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// auditJSON returns the safe view of a before or after value as canonical JSON.
func auditJSON(v any) (json.RawMessage, error) {
	var view any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case subaccounts.Account:
		view = accountAudit(x)
	case *subaccounts.Account:
		if x == nil {
			return nil, nil
		}
		view = accountAudit(*x)
	case subaccounts.Subaccount:
		view = subaccountAudit(x)
	case *subaccounts.Subaccount:
		if x == nil {
			return nil, nil
		}
		view = subaccountAudit(*x)
	case subaccounts.Card:
		view = cardAudit(x)
	case *subaccounts.Card:
		if x == nil {
			return nil, nil
		}
		view = cardAudit(*x)
	case subaccounts.Client:
		view = clientAudit(x)
	case *subaccounts.Client:
		if x == nil {
			return nil, nil
		}
		view = clientAudit(*x)
	case subaccounts.AuditViewer:
		view = x.AuditView()
	default:
		return nil, fmt.Errorf("%T has no audit view (implement AuditViewer)", v)
	}
	raw, err := json.Marshal(view)
	if err != nil {
		return nil, err
	}
	return CanonicalJSON(raw)
}

func accountAudit(a subaccounts.Account) any {
	return map[string]any{
		"id":   a.ID,
		"name": a.Name,
		"contract": map[string]any{
			"configurations": nonNil(a.Contract.Configurations),
			"maxSubaccounts": a.Contract.MaxSubaccounts,
			"version":        a.Contract.Version,
			"currency":       a.Contract.Currency,
			"pricing": map[string]any{
				"cardEnrolment": a.Contract.Pricing.CardEnrolment,
				"transaction":   a.Contract.Pricing.Transaction,
			},
		},
		"balance":         a.Balance,
		"creditLimit":     a.CreditLimit,
		"allocatedCredit": a.AllocatedCredit,
		"overLimit":       a.OverLimit,
		"version":         a.Version,
		"createdAt":       auditTime(a.CreatedAt),
		"updatedAt":       auditTime(a.UpdatedAt),
	}
}

func subaccountAudit(s subaccounts.Subaccount) any {
	return map[string]any{
		"id":             s.ID,
		"accountId":      s.AccountID,
		"name":           s.Name,
		"configurations": nonNil(s.Configurations),
		"configVersion":  s.ConfigVersion,
		"metadata":       subaccounts.OrEmpty(s.Metadata),
		"suspended":      s.Suspended,
		// The cost controls; balance and credit limit are those of its own, 0 when it
		// shares the primary balance.
		"usePrimaryAccountBalance": s.UsePrimaryBalance,
		"balance":                  s.Balance,
		"creditLimit":              s.CreditLimit,
		"overLimit":                s.OverLimit,
		"autoTopUp":                map[string]any{"threshold": s.AutoTopUp.Threshold, "amount": s.AutoTopUp.Amount},
		"maxCards":                 s.MaxCards,
		"version":                  s.Version,
		"createdAt":                auditTime(s.CreatedAt),
		"updatedAt":                auditTime(s.UpdatedAt),
	}
}

// cardAudit leaves out the fingerprint: it identifies a PAN within the account.
func cardAudit(c subaccounts.Card) any {
	return map[string]any{
		"id":           c.ID,
		"accountId":    c.AccountID,
		"subaccountId": c.SubaccountID,
		"network":      c.Network.String(),
		"countryCode":  c.CountryCode,
		"firstNumbers": c.FirstNumbers,
		"lastNumbers":  c.LastNumbers,
		"expMonth":     c.ExpMonth,
		"expYear":      c.ExpYear,
		"status":       string(c.Status),
		"policyStatus": string(c.PolicyStatus),
		"metadata":     subaccounts.OrEmpty(c.Metadata),
		"createdAt":    auditTime(c.CreatedAt),
		"updatedAt":    auditTime(c.UpdatedAt),
	}
}

// clientAudit leaves out the secret hash.
func clientAudit(c subaccounts.Client) any {
	return map[string]any{
		"clientId":     c.ID,
		"accountId":    c.AccountID,
		"subaccountId": c.SubaccountID,
		"name":         c.Name,
		"scopes":       nonNil(c.Scopes),
		"createdAt":    auditTime(c.CreatedAt),
		"rateLimit":    c.RateLimit,
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
