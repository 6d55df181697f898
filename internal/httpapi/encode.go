package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/api"
)

// The hot responses (a routed or unrouted transaction, a batch's results, an enrolled
// card) are appended into a pooled buffer by hand instead of through encoding/json's
// reflection, which cost a batch request about as much as decoding it. The output is
// byte for byte what json.Marshal writes (HTML-safe escaping, sorted map keys,
// omitempty); encode_test.go holds every field of each type to that.

// jsonBufs pools response buffers. A response holds no card number (a card's view has
// only its first and last digits), so a buffer may outlive its request.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuf keeps a rare huge response's buffer out of the pool.
const maxPooledBuf = 1 << 20

// writeAppended answers status with the JSON that appendTo appends.
func writeAppended(c *gin.Context, status int, appendTo func([]byte) []byte) {
	bp := jsonBufs.Get().(*[]byte)
	b := appendTo((*bp)[:0])
	// The writer copies or sends b before Write returns (io.Writer must not retain it).
	c.Data(status, "application/json", b)
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
}

func appendTransaction(b []byte, t *api.Transaction) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"accountId":`...)
	b = appendString(b, t.AccountID)
	b = append(b, `,"subaccountId":`...)
	b = appendString(b, t.SubaccountID)
	b = append(b, `,"cardId":`...)
	b = appendString(b, t.CardID)
	b = append(b, `,"networkTransactionId":`...)
	b = appendString(b, t.NetworkTransactionID)
	b = append(b, `,"type":`...)
	b = appendString(b, t.Type)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, t.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, t.Currency)
	b = append(b, `,"datetime":`...)
	b = appendString(b, t.Datetime)
	b = append(b, `,"merchant":`...)
	b = appendMerchant(b, &t.Merchant)
	if t.AuthCode != "" {
		b = append(b, `,"authCode":`...)
		b = appendString(b, t.AuthCode)
	}
	b = append(b, `,"routedAt":`...)
	b = appendString(b, t.RoutedAt)
	b = append(b, `,"configVersion":`...)
	b = strconv.AppendInt(b, t.ConfigVersion, 10)
	b = append(b, `,"policyStatus":`...)
	b = appendString(b, t.PolicyStatus)
	b = append(b, `,"subaccountSuspended":`...)
	b = strconv.AppendBool(b, t.SubaccountSuspended)
	b = append(b, `,"receivedAt":`...)
	b = appendString(b, t.ReceivedAt)
	if len(t.Lifecycle) > 0 {
		b = append(b, `,"lifecycle":[`...)
		for i := range t.Lifecycle {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLifecycleEntry(b, &t.Lifecycle[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendLifecycleEntry(b []byte, l *api.LifecycleEntry) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, l.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, l.Type)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, l.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, l.Currency)
	b = append(b, `,"datetime":`...)
	b = appendString(b, l.Datetime)
	b = append(b, `,"subaccountId":`...)
	b = appendString(b, l.SubaccountID)
	return append(b, '}')
}

func appendMerchant(b []byte, m *api.Merchant) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, m.Name)
	b = append(b, `,"mcc":`...)
	b = appendString(b, m.MCC)
	b = append(b, `,"countryCode":`...)
	b = appendString(b, m.CountryCode)
	if m.City != "" {
		b = append(b, `,"city":`...)
		b = appendString(b, m.City)
	}
	return append(b, '}')
}

func appendUnrouted(b []byte, u *api.Unrouted) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, u.ID)
	b = append(b, `,"accountId":`...)
	b = appendString(b, u.AccountID)
	b = append(b, `,"networkTransactionId":`...)
	b = appendString(b, u.NetworkTransactionID)
	b = append(b, `,"type":`...)
	b = appendString(b, u.Type)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, u.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, u.Currency)
	b = append(b, `,"datetime":`...)
	b = appendString(b, u.Datetime)
	b = append(b, `,"merchant":`...)
	b = appendMerchant(b, &u.Merchant)
	if u.AuthCode != "" {
		b = append(b, `,"authCode":`...)
		b = appendString(b, u.AuthCode)
	}
	if u.CardID != nil {
		b = append(b, `,"cardId":`...)
		b = appendString(b, *u.CardID)
	}
	b = append(b, `,"reason":`...)
	b = appendString(b, u.Reason)
	b = append(b, `,"receivedAt":`...)
	b = appendString(b, u.ReceivedAt)
	b = append(b, `,"status":`...)
	b = appendString(b, u.Status)
	return append(b, '}')
}

// appendMessageBatch appends a batch's results. A rejected item's problem goes through
// encoding/json: it has many optional members and is not the hot case.
func appendMessageBatch(b []byte, v *api.MessageBatch) []byte {
	b = append(b, `{"results":`...)
	if v.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range v.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMessageOutcome(b, &v.Results[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"summary":{"routed":`...)
	b = strconv.AppendInt(b, int64(v.Summary.Routed), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(v.Summary.Duplicates), 10)
	b = append(b, `,"unrouted":`...)
	b = strconv.AppendInt(b, int64(v.Summary.Unrouted), 10)
	b = append(b, `,"rejected":`...)
	b = strconv.AppendInt(b, int64(v.Summary.Rejected), 10)
	return append(b, "}}"...)
}

func appendMessageOutcome(b []byte, r *api.MessageOutcome) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(r.Index), 10)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	if r.Transaction != nil {
		b = append(b, `,"transaction":`...)
		b = appendTransaction(b, r.Transaction)
	}
	if r.Unrouted != nil {
		b = append(b, `,"unrouted":`...)
		b = appendUnrouted(b, r.Unrouted)
	}
	if r.Problem != nil {
		b = append(b, `,"problem":`...)
		b = appendMarshaled(b, r.Problem)
	}
	return append(b, '}')
}

// appendMarshaled appends v as json.Marshal writes it. Only values that always marshal
// (no channels, functions or cycles) reach it; were one to fail, it would write null
// rather than break the document.
func appendMarshaled(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

func appendCard(b []byte, c *api.Card) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"accountId":`...)
	b = appendString(b, c.AccountID)
	b = append(b, `,"subaccountId":`...)
	b = appendString(b, c.SubaccountID)
	b = append(b, `,"network":`...)
	b = appendString(b, c.Network)
	b = append(b, `,"countryCode":`...)
	b = appendString(b, c.CountryCode)
	b = append(b, `,"firstNumbers":`...)
	b = appendString(b, c.FirstNumbers)
	b = append(b, `,"lastNumbers":`...)
	b = appendString(b, c.LastNumbers)
	b = append(b, `,"expMonth":`...)
	b = strconv.AppendInt(b, int64(c.ExpMonth), 10)
	b = append(b, `,"expYear":`...)
	b = strconv.AppendInt(b, int64(c.ExpYear), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, c.Status)
	b = append(b, `,"policyStatus":`...)
	b = appendString(b, c.PolicyStatus)
	b = append(b, `,"metadata":`...)
	b = appendStringMap(b, c.Metadata)
	b = append(b, `,"createdAt":`...)
	b = appendString(b, c.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendString(b, c.UpdatedAt)
	return append(b, '}')
}

// appendStringMap appends m with its keys sorted, as encoding/json does; nil is null.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// htmlSafe holds the ASCII bytes a JSON string carries as they are, in encoding/json's
// HTML-safe form.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s quoted as encoding/json quotes it by default: ", \ and control
// characters escaped, <, > and & escaped for HTML, invalid UTF-8 as U+FFFD, and U+2028
// and U+2029 escaped for JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// writeTransaction answers a routed transaction.
func writeTransaction(c *gin.Context, status int, v api.Transaction) {
	writeAppended(c, status, func(b []byte) []byte { return appendTransaction(b, &v) })
}

// writeUnrouted answers a message kept in the unrouted queue.
func writeUnrouted(c *gin.Context, v api.Unrouted) {
	writeAppended(c, http.StatusAccepted, func(b []byte) []byte { return appendUnrouted(b, &v) })
}
