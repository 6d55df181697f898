package api

import (
	"encoding/json"

	"github.com/google/uuid"
)

type AuditActor struct {
	Sub      string `json:"sub"`
	ClientID string `json:"clientId"`
}

type AuditEvent struct {
	ID           uuid.UUID       `json:"id"`
	AccountID    uuid.UUID       `json:"accountId"`
	Seq          int64           `json:"seq"`
	Actor        AuditActor      `json:"actor"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	Reference    string          `json:"reference"`
	RequestID    string          `json:"requestId"`
	CreatedAt    Time            `json:"createdAt"`
	PrevHash     string          `json:"prevHash"`
	Hash         string          `json:"hash"`
}

type AuditBreak struct {
	Seq     int64      `json:"seq"`
	EventID *uuid.UUID `json:"eventId"`
	Reason  string     `json:"reason"`
}

type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type AuditVerification struct {
	AccountID     uuid.UUID   `json:"accountId"`
	Valid         bool        `json:"valid"`
	EventsChecked int64       `json:"eventsChecked"`
	Head          *AuditHead  `json:"head"`
	FirstBroken   *AuditBreak `json:"firstBroken"`
	Pending       int64       `json:"pending"`
}
