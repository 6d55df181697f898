package webhooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivered message. The first three are Standard Webhooks'; the event type
// and subaccount let a receiver route a message before it parses the body.
const (
	HeaderID           = "webhook-id"
	HeaderTimestamp    = "webhook-timestamp"
	HeaderSignature    = "webhook-signature"
	HeaderEventType    = "webhook-event-type"
	HeaderSubaccountID = "webhook-subaccount-id"
)

// UserAgent names the service to receivers.
const UserAgent = "cardseg-subaccounts-webhooks/1"

// Sign returns the webhook-signature value of one message: "v1," and the base64
// HMAC-SHA256 over "{id}.{timestamp}.{body}" with each secret's key, space-separated.
// During a rotation both the new and the old secret sign, so a receiver holding either
// verifies. A secret not of NewSecret's form is an error, never a silent omission.
func Sign(id string, at time.Time, body []byte, secrets ...string) (string, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// Message is one delivery attempt of an event to an endpoint, as the headers carry it.
type Message struct {
	// ID is the event's id: the same across retries and resends, so receivers dedupe on it.
	ID        string
	EventType string
	// SubaccountID is the subaccount the event is about, or "" for an account-level one.
	SubaccountID string
	Body         []byte
}

// Request builds the signed POST of m to url at the attempt's time, signed by secrets
// (the endpoint's current one first).
func (m Message) Request(url string, at time.Time, secrets ...string) (*http.Request, error) {
	sig, err := Sign(m.ID, at, m.Body, secrets...)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(m.Body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderID, m.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set(HeaderEventType, m.EventType)
	if m.SubaccountID != "" {
		h.Set(HeaderSubaccountID, m.SubaccountID)
	}
	return req, nil
}
