package api

import (
	"encoding/json"
)

type AuditActor struct {
	Sub      string `json:"sub"`
	ClientID string `json:"clientId"`
}

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

type AuditBreak struct {
	Seq     int64   `json:"seq"`
	EventID *string `json:"eventId"`
	Reason  string  `json:"reason"`
}

type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type AuditVerification struct {
	AccountID     string      `json:"accountId"`
	Valid         *bool       `json:"valid"`
	EventsChecked int64       `json:"eventsChecked"`
	Head          *AuditHead  `json:"head"`
	FirstBroken   *AuditBreak `json:"firstBroken"`
	Pending       int64       `json:"pending"`
}
