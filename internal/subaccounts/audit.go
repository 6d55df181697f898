package subaccounts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Actor is who caused a change: the token's subject and client, and the request it came in.
type Actor struct {
	Subject   string
	ClientID  string
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor that audit events recorded under it name.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, or the zero Actor (a change the service made
// by itself).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// AuditRecord is one change to append to an account's audit log.
type AuditRecord struct {
	// Action names what happened, "<resource>.<verb>", e.g. "subaccount.update".
	Action       string
	ResourceType string
	ResourceID   string
	// Before and After are domain values (Account, Subaccount, Card, Client, Transfer, …)
	// or nil; the audit log keeps a safe view of them, never a PAN, secret or fingerprint.
	Before, After any
	Reference     string
}

// AuditViewer is implemented by values that may appear as the before or after of an
// audit record besides the types the audit log knows (Account, Subaccount, Card,
// Client). AuditView returns what the log keeps of the value, encoded with
// encoding/json; it must leave out anything secret. Other types are refused rather than
// dumped, so a new field holding a secret can never slip into the log unnoticed.
type AuditViewer interface {
	AuditView() any
}

// RecordAudit writes records to the audit log of accountID inside tx, as the actor ctx
// carries. The events are written unchained, in the same transaction as the change they
// record, so they commit or roll back with it; they take no lock. The chainer links them
// into the account's hash chain afterwards (see Service.ChainAudit).
func RecordAudit(ctx context.Context, tx Tx, accountID uuid.UUID, recs ...AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if accountID == uuid.Nil {
		return errors.New("record audit: no account")
	}
	return recordAudit(ctx, tx, accountID, recs)
}

// PlatformAuditAccount keys the audit chain of changes that belong to no account, such
// as the operator's own clients. It is the Max UUID (all bits set), which no account
// has (their ids are UUIDv7), so no tenant can read the chain.
var PlatformAuditAccount = uuid.Max

// RecordPlatformAudit writes records to the platform's audit chain (PlatformAuditAccount)
// inside tx, like RecordAudit does to an account's.
func RecordPlatformAudit(ctx context.Context, tx Tx, recs ...AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return recordAudit(ctx, tx, PlatformAuditAccount, recs)
}

func recordAudit(ctx context.Context, tx Tx, accountID uuid.UUID, recs []AuditRecord) error {
	actor := ActorFrom(ctx)
	now := Now()
	events := make([]AuditEvent, len(recs))
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
		events[i] = AuditEvent{
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
	if err := tx.InsertAuditEvents(ctx, events); err != nil {
		return fmt.Errorf("record audit: %w", err)
	}
	return nil
}

// AuditEvent is one entry of an account's audit log. Seq numbers an account's events
// from 1 without gaps; Hash chains each event to the one before it (see ChainHash). An
// event not yet chained has Seq 0 and no PrevHash or Hash.
type AuditEvent struct {
	ID            uuid.UUID
	AccountID     uuid.UUID
	Seq           int64
	ActorSubject  string
	ActorClientID string
	Action        string
	ResourceType  string
	ResourceID    string
	// Before and After are canonical JSON (compact, keys sorted), or nil for none.
	Before, After json.RawMessage
	Reference     string
	RequestID     string
	CreatedAt     time.Time
	PrevHash      string
	Hash          string
}

// GenesisHash is the PrevHash of an account's first event.
var GenesisHash = strings.Repeat("0", 64)

// AuditHead is the newest link of an account's chain: its seq and hash. The zero
// AuditHead stands for an account that has no events.
type AuditHead struct {
	Seq  int64
	Hash string
}

// AuditFilter narrows an audit event list. Empty fields do not filter.
type AuditFilter struct {
	Action       string
	ResourceType string
	// ResourceID is only used together with ResourceType.
	ResourceID string
	// Actor matches the actor's subject or client id.
	Actor string
	// From is inclusive and To exclusive, on CreatedAt.
	From, To time.Time
}

// AuditStore persists the audit log.
type AuditStore interface {
	// InsertAuditEvents writes events unchained (their Seq, PrevHash and Hash are
	// ignored), with before and after in canonical JSON. It takes no lock.
	InsertAuditEvents(ctx context.Context, events []AuditEvent) error
	// ChainAuditEvents links up to limit of the account's unchained events, in id order,
	// into its chain, in one transaction (the caller's, or one of its own): it locks the
	// account's chain head (creating it when missing), gives each event the next seq, the
	// previous hash and its own hash, and moves the head. It returns how many it linked.
	ChainAuditEvents(ctx context.Context, accountID uuid.UUID, limit int) (chained int, err error)
	// AccountsWithUnchainedAuditEvents returns up to limit accounts that have unchained
	// events.
	AccountsWithUnchainedAuditEvents(ctx context.Context, limit int) ([]uuid.UUID, error)
	// CountUnchainedAuditEvents counts the account's unchained events.
	CountUnchainedAuditEvents(ctx context.Context, accountID uuid.UUID) (int64, error)
	// ListAuditEvents returns one page of the account's chained events in seq order;
	// p.After is the id of the last event of the previous page.
	ListAuditEvents(ctx context.Context, accountID uuid.UUID, f AuditFilter, p Page) ([]AuditEvent, error)
	// AuditEventsAfter returns up to limit of the account's chained events with seq
	// greater than afterSeq, in seq order.
	AuditEventsAfter(ctx context.Context, accountID uuid.UUID, afterSeq int64, limit int) ([]AuditEvent, error)
	// AuditHead returns the account's chain head, or the zero AuditHead when it has none.
	AuditHead(ctx context.Context, accountID uuid.UUID) (AuditHead, error)
}

// canonicalEvent fixes the field order of the hashed form of an event.
type canonicalEvent struct {
	AccountID     string          `json:"accountId"`
	Seq           int64           `json:"seq"`
	ID            string          `json:"id"`
	ActorSubject  string          `json:"actorSub"`
	ActorClientID string          `json:"actorClientId"`
	Action        string          `json:"action"`
	ResourceType  string          `json:"resourceType"`
	ResourceID    string          `json:"resourceId"`
	Before        json.RawMessage `json:"before"`
	After         json.RawMessage `json:"after"`
	Reference     string          `json:"reference"`
	RequestID     string          `json:"requestId"`
	CreatedAt     string          `json:"createdAt"`
}

// auditTimeLayout is the hashed form of CreatedAt: UTC, milliseconds, as the API shows it.
const auditTimeLayout = "2006-01-02T15:04:05.000Z"

// CanonicalForm returns the deterministic JSON encoding of e that its hash covers: every
// field except PrevHash and Hash, in a fixed order, CreatedAt in UTC with milliseconds,
// Before and After re-encoded canonically.
func (e AuditEvent) CanonicalForm() ([]byte, error) {
	before, err := CanonicalJSON(e.Before)
	if err != nil {
		return nil, fmt.Errorf("audit event %d: before: %w", e.Seq, err)
	}
	after, err := CanonicalJSON(e.After)
	if err != nil {
		return nil, fmt.Errorf("audit event %d: after: %w", e.Seq, err)
	}
	return json.Marshal(canonicalEvent{
		AccountID:     e.AccountID.String(),
		Seq:           e.Seq,
		ID:            e.ID.String(),
		ActorSubject:  e.ActorSubject,
		ActorClientID: e.ActorClientID,
		Action:        e.Action,
		ResourceType:  e.ResourceType,
		ResourceID:    e.ResourceID,
		Before:        before,
		After:         after,
		Reference:     e.Reference,
		RequestID:     e.RequestID,
		CreatedAt:     e.CreatedAt.UTC().Format(auditTimeLayout),
	})
}

// ChainHash returns the hash e must carry after PrevHash: hex(SHA-256(PrevHash ||
// canonical form)).
func (e AuditEvent) ChainHash() (string, error) {
	form, err := e.CanonicalForm()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(form)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HasChainHash reports whether e carries the hash its content and PrevHash give, as
// ChainHash would compute it. It first hashes the form built from the stored Before and
// After as they are, without re-encoding them: the service stores them canonical, so
// that form is nearly always the hashed one, and building it costs no decoding. Only
// when that hash differs is the full canonical form computed. Accepting on the first
// hash is sound: a SHA-256 match means the form is byte for byte the one hashed when the
// event was chained, and the form determines every field, because Before and After are
// required to be single valid JSON values and every other field is a JSON string.
func (e AuditEvent) HasChainHash() bool {
	if form, ok := e.storedForm(); ok {
		h := sha256.New()
		h.Write([]byte(e.PrevHash))
		h.Write(form)
		var sum [sha256.Size]byte
		var hexSum [2 * sha256.Size]byte
		hex.Encode(hexSum[:], h.Sum(sum[:0]))
		if string(hexSum[:]) == e.Hash {
			return true
		}
	}
	h, err := e.ChainHash()
	return err == nil && h == e.Hash
}

// storedForm appends the fields of e in the layout of CanonicalForm, with Before and
// After as stored. It reports false when a document is not one valid JSON value.
func (e AuditEvent) storedForm() ([]byte, bool) {
	if !rawValue(e.Before) || !rawValue(e.After) {
		return nil, false
	}
	b := make([]byte, 0, 256+len(e.Before)+len(e.After))
	b = appendField(b, `{"accountId":`, e.AccountID.String())
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = appendField(b, `,"id":`, e.ID.String())
	b = appendField(b, `,"actorSub":`, e.ActorSubject)
	b = appendField(b, `,"actorClientId":`, e.ActorClientID)
	b = appendField(b, `,"action":`, e.Action)
	b = appendField(b, `,"resourceType":`, e.ResourceType)
	b = appendField(b, `,"resourceId":`, e.ResourceID)
	b = appendRaw(append(b, `,"before":`...), e.Before)
	b = appendRaw(append(b, `,"after":`...), e.After)
	b = appendField(b, `,"reference":`, e.Reference)
	b = appendField(b, `,"requestId":`, e.RequestID)
	b = appendField(b, `,"createdAt":`, e.CreatedAt.UTC().Format(auditTimeLayout))
	return append(b, '}'), true
}

// rawValue reports whether raw is absent (encoded as null) or one valid JSON value.
func rawValue(raw json.RawMessage) bool { return len(raw) == 0 || json.Valid(raw) }

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendField appends name and s encoded as encoding/json encodes a string: directly
// when no byte of s needs escaping (the usual case: ids, actions, times), else through
// encoding/json itself, so the two encodings cannot drift apart.
func appendField(b []byte, name, s string) []byte {
	b = append(b, name...)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// CanonicalJSON re-encodes a JSON document compactly with object keys sorted and numbers
// exactly as written; nil and JSON null are nil. Two documents with the same meaning and
// the same number spellings encode alike.
func CanonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON document")
	}
	if v == nil {
		return nil, nil
	}
	// encoding/json writes map keys sorted and json.Number as written.
	return json.Marshal(v)
}

// auditJSON returns the safe view of a before or after value as canonical JSON.
func auditJSON(v any) (json.RawMessage, error) {
	var view any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case Account:
		view = accountAudit(x)
	case *Account:
		if x == nil {
			return nil, nil
		}
		view = accountAudit(*x)
	case Subaccount:
		view = subaccountAudit(x)
	case *Subaccount:
		if x == nil {
			return nil, nil
		}
		view = subaccountAudit(*x)
	case Card:
		view = cardAudit(x)
	case *Card:
		if x == nil {
			return nil, nil
		}
		view = cardAudit(*x)
	case Client:
		view = clientAudit(x)
	case *Client:
		if x == nil {
			return nil, nil
		}
		view = clientAudit(*x)
	case AuditViewer:
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

func auditTime(t time.Time) string { return t.UTC().Format(auditTimeLayout) }

func accountAudit(a Account) any {
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

func subaccountAudit(s Subaccount) any {
	return map[string]any{
		"id":             s.ID,
		"accountId":      s.AccountID,
		"name":           s.Name,
		"configurations": nonNil(s.Configurations),
		"configVersion":  s.ConfigVersion,
		"metadata":       orEmpty(s.Metadata),
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
func cardAudit(c Card) any {
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
		"metadata":     orEmpty(c.Metadata),
		"createdAt":    auditTime(c.CreatedAt),
		"updatedAt":    auditTime(c.UpdatedAt),
	}
}

// clientAudit leaves out the secret hash.
func clientAudit(c Client) any {
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
