package api

// WebhookEndpoint is where an account's events are delivered.
type WebhookEndpoint struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Description    string   `json:"description"`
	SubaccountID   *string  `json:"subaccountId,omitempty"`
	EventTypes     []string `json:"eventTypes"`
	Status         string   `json:"status"`
	DisabledReason *string  `json:"disabledReason,omitempty"`
	// SecretRotatingUntil is when the previous signing secret stops signing, during a
	// rotation.
	SecretRotatingUntil *string `json:"secretRotatingUntil,omitempty"`
	Version             int64   `json:"version"`
	CreatedAt           string  `json:"createdAt"`
	UpdatedAt           string  `json:"updatedAt"`
}

// WebhookEndpointWithSecret is an endpoint as creation and rotation answer it: with the
// signing secret, shown only then.
type WebhookEndpointWithSecret struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}
