package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	if out, ok := canonicalPlain(raw); ok {
		return out, nil
	}
	return canonicalDecoded(raw)
}

// canonicalDecoded is CanonicalJSON through encoding/json: decoded into maps and
// encoded again, which sorts every object's keys.
func canonicalDecoded(raw json.RawMessage) (json.RawMessage, error) {
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

// canonicalPlain is CanonicalJSON without decoding, for the documents the service writes
// itself (json.Marshal of a view): when every string is printable ASCII that encoding/json
// leaves as it is (no escape, no quote, no <, > or &), every object's keys are distinct
// and nesting stays shallow, the canonical form is the same bytes with whitespace dropped
// and members sorted by key — which is what canonicalDecoded produces, a fuzz test says.
// ok is false for anything else (null, trailing data, an error included): the caller
// then takes canonicalDecoded's word.
func canonicalPlain(raw []byte) (out []byte, ok bool) {
	p := plainScanner{in: raw, out: make([]byte, 0, len(raw))}
	p.skipSpace()
	if p.i < len(p.in) && p.in[p.i] == 'n' {
		return nil, false
	}
	if !p.value(0) {
		return nil, false
	}
	p.skipSpace()
	if p.i != len(p.in) {
		return nil, false
	}
	return p.out, true
}

type plainScanner struct {
	in  []byte
	i   int
	out []byte
}

// maxPlainDepth bounds the fast path's recursion; deeper documents take the decoder.
const maxPlainDepth = 32

func (p *plainScanner) skipSpace() {
	for p.i < len(p.in) {
		switch p.in[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value copies one value to out, objects with their members sorted.
func (p *plainScanner) value(depth int) bool {
	if depth > maxPlainDepth || p.i >= len(p.in) {
		return false
	}
	switch c := p.in[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.plainString()
		p.out = append(p.out, s...)
		return ok
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

func (p *plainScanner) literal(lit string) bool {
	if !bytes.HasPrefix(p.in[p.i:], []byte(lit)) {
		return false
	}
	p.i += len(lit)
	p.out = append(p.out, lit...)
	return true
}

// plainString returns the string token at p.i, quotes included, if it is plain.
func (p *plainScanner) plainString() ([]byte, bool) {
	start := p.i
	for p.i++; p.i < len(p.in); p.i++ {
		switch c := p.in[p.i]; {
		case c == '"':
			p.i++
			return p.in[start:p.i], true
		case c < 0x20 || c >= 0x7f || c == '\\' || c == '<' || c == '>' || c == '&':
			return nil, false
		}
	}
	return nil, false
}

// number copies a number token exactly as written, if it follows JSON's grammar.
func (p *plainScanner) number() bool {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.in) && p.in[p.i] >= '0' && p.in[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.in) && p.in[p.i] == '-' {
		p.i++
	}
	switch n := digits(); {
	case n == 0:
		return false
	case n > 1 && p.in[p.i-n] == '0':
		return false
	}
	if p.i < len(p.in) && p.in[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.in) && (p.in[p.i] == 'e' || p.in[p.i] == 'E') {
		p.i++
		if p.i < len(p.in) && (p.in[p.i] == '+' || p.in[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	p.out = append(p.out, p.in[start:p.i]...)
	return true
}

func (p *plainScanner) array(depth int) bool {
	p.i++
	p.out = append(p.out, '[')
	p.skipSpace()
	if p.i < len(p.in) && p.in[p.i] == ']' {
		p.i++
		p.out = append(p.out, ']')
		return true
	}
	for {
		p.skipSpace()
		if !p.value(depth + 1) {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.in) {
			return false
		}
		switch p.in[p.i] {
		case ',':
			p.i++
			p.out = append(p.out, ',')
		case ']':
			p.i++
			p.out = append(p.out, ']')
			return true
		default:
			return false
		}
	}
}

// object copies an object with its members sorted by key; a repeated key (which the
// decoder resolves to the last) leaves the fast path.
func (p *plainScanner) object(depth int) bool {
	p.i++
	type member struct{ key, value []byte }
	var members []member
	p.skipSpace()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		p.out = append(p.out, '{', '}')
		return true
	}
	for {
		p.skipSpace()
		if p.i >= len(p.in) || p.in[p.i] != '"' {
			return false
		}
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.in) || p.in[p.i] != ':' {
			return false
		}
		p.i++
		p.skipSpace()
		mark := len(p.out)
		if !p.value(depth + 1) {
			return false
		}
		// The value was copied to out; keep it aside until the members are sorted.
		members = append(members, member{key: key, value: bytes.Clone(p.out[mark:])})
		p.out = p.out[:mark]
		p.skipSpace()
		if p.i >= len(p.in) {
			return false
		}
		if p.in[p.i] == ',' {
			p.i++
			continue
		}
		if p.in[p.i] != '}' {
			return false
		}
		p.i++
		break
	}
	// By the keys without their quotes: a space or ! sorts before the closing quote.
	unquoted := func(k []byte) []byte { return k[1 : len(k)-1] }
	slices.SortFunc(members, func(a, b member) int { return bytes.Compare(unquoted(a.key), unquoted(b.key)) })
	p.out = append(p.out, '{')
	for i, m := range members {
		if i > 0 {
			if bytes.Equal(m.key, members[i-1].key) {
				return false
			}
			p.out = append(p.out, ',')
		}
		p.out = append(p.out, m.key...)
		p.out = append(p.out, ':')
		p.out = append(p.out, m.value...)
	}
	p.out = append(p.out, '}')
	return true
}
