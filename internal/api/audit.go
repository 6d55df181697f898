package api

import (
	"encoding/json"
)

// AuditActor is who made an audited change: the token subject and its client.
type AuditActor struct {
	Sub      string `json:"sub"`
	ClientID string `json:"clientId"`
}

// AuditEvent is one entry of an account's hash-chained audit log.
type AuditEvent struct {
	ID           string          `json:"id"`
	AccountID    string          `json:"accountId"`
	Seq          int64           `json:"seq"`
	Actor        AuditActor      `json:"actor"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	Reference    string          `json:"reference"`
	RequestID    string          `json:"requestId"`
	CreatedAt    string          `json:"createdAt"`
	PrevHash     string          `json:"prevHash"`
	Hash         string          `json:"hash"`
}

// AuditBreak is the first place a verification found the audit chain broken.
type AuditBreak struct {
	Seq     int64   `json:"seq"`
	EventID *string `json:"eventId"`
	Reason  string  `json:"reason"`
}

// AuditHead is the last chained audit event of an account.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// AuditVerification is the result of checking an account's audit chain. Valid is a
// pointer so that a client can refuse an answer that lacks it.
type AuditVerification struct {
	AccountID     string      `json:"accountId"`
	Valid         *bool       `json:"valid"`
	EventsChecked int64       `json:"eventsChecked"`
	Head          *AuditHead  `json:"head"`
	FirstBroken   *AuditBreak `json:"firstBroken"`
	Pending       int64       `json:"pending"`
}
