package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

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
func CanonicalForm(e subaccounts.AuditEvent) ([]byte, error) {
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
func ChainHash(e subaccounts.AuditEvent) (string, error) {
	form, err := CanonicalForm(e)
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
func HasChainHash(e subaccounts.AuditEvent) bool {
	if form, ok := storedForm(e); ok {
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
	h, err := ChainHash(e)
	return err == nil && h == e.Hash
}

// storedForm appends the fields of e in the layout of CanonicalForm, with Before and
// After as stored. It reports false when a document is not one valid JSON value.
func storedForm(e subaccounts.AuditEvent) ([]byte, bool) {
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

func auditTime(t time.Time) string { return t.UTC().Format(auditTimeLayout) }
