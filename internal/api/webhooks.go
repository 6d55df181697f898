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

// WebhookEndpointRequest is the body of POST /v1/webhook-endpoints (the spec's
// CreateWebhookEndpointRequest: url and eventTypes required, no disabled) and of PATCH
// /v1/webhook-endpoints/{id} (UpdateWebhookEndpointRequest: any member, no
// subaccountId). One type serves both so that the server can say why a member does not
// belong rather than call it unknown. Pointers and omitempty as in
// CreateSubaccountRequest: a client sends only what it means to.
type WebhookEndpointRequest struct {
	URL          *string   `json:"url,omitempty"`
	Description  *string   `json:"description,omitempty"`
	SubaccountID *string   `json:"subaccountId,omitempty"`
	EventTypes   *[]string `json:"eventTypes,omitempty"`
	Disabled     *bool     `json:"disabled,omitempty"`
}

// WebhookEndpointWithSecret is an endpoint as creation and rotation answer it: with the
// signing secret, shown only then.
type WebhookEndpointWithSecret struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}

// Delivery is one event on its way to one endpoint, with every attempt made.
type Delivery struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpointId"`
	// EventID is the webhook-id the endpoint receives, the same on every attempt.
	EventID       string    `json:"eventId"`
	EventType     string    `json:"eventType"`
	Status        string    `json:"status"`
	NextAttemptAt *string   `json:"nextAttemptAt,omitempty"`
	Attempts      []Attempt `json:"attempts"`
	CreatedAt     string    `json:"createdAt"`
	UpdatedAt     string    `json:"updatedAt"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	At string `json:"at"`
	// StatusCode is the HTTP status of the answer; absent when there was none.
	StatusCode   *int    `json:"statusCode,omitempty"`
	LatencyMs    int64   `json:"latencyMs"`
	Error        *string `json:"error,omitempty"`
	ResponseBody string  `json:"responseBody"`
}

// RecoverRequest asks for every failed delivery since a time to be sent again.
type RecoverRequest struct {
	Since *string `json:"since"`
}

// RecoverResult says how many deliveries a recover queued.
type RecoverResult struct {
	Requeued int64 `json:"requeued"`
}
