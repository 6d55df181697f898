package subaccounts

import (
	"time"

	"github.com/google/uuid"
)

// WebhookEndpoint is where an account's events are delivered: the whole account's, or
// one subaccount's when SubaccountID is set. Secret and PreviousSecret are sealed under
// the master key; they never leave the service in clear after creation or rotation.
type WebhookEndpoint struct {
	AccountID    uuid.UUID
	ID           uuid.UUID
	SubaccountID *uuid.UUID
	URL          string
	Description  string
	// EventTypes are catalogue types, or the single "*" for every type.
	EventTypes     []string
	Disabled       bool
	DisabledReason string
	Secret         string
	// PreviousSecret signs beside Secret until PreviousSecretExpiresAt, after a rotation.
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// FailingSince is when the endpoint's deliveries began to fail without a success
	// since; nil while it answers.
	FailingSince         *time.Time
	Version              int64
	CreatedAt, UpdatedAt time.Time
}

// AuditView records an endpoint without its secrets.
func (e WebhookEndpoint) AuditView() any {
	return map[string]any{
		"id": e.ID, "subaccountId": e.SubaccountID, "url": e.URL, "description": e.Description,
		"eventTypes": e.EventTypes, "disabled": e.Disabled, "disabledReason": e.DisabledReason,
		"secretRotating": e.PreviousSecretExpiresAt != nil, "version": e.Version,
	}
}

// WebhookEndpointFilter narrows an endpoint list. Zero fields do not filter.
type WebhookEndpointFilter struct {
	SubaccountID *uuid.UUID
}
