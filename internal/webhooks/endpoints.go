package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// MaxEndpoints bounds the endpoints of one account.
const MaxEndpoints = 50

// maxDescription bounds an endpoint's description.
const maxDescription = 255

// RotationOverlap is how long the previous secret keeps signing after a rotation.
const RotationOverlap = 24 * time.Hour

// Store is what endpoint management needs of the database.
type Store interface {
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// GetSubaccount returns a live subaccount of the account.
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	// GetAccount returns the account; lock takes its row lock, which serialises the
	// endpoint count of concurrent creations.
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	CreateWebhookEndpoint(ctx context.Context, e subaccounts.WebhookEndpoint) error
	GetWebhookEndpoint(ctx context.Context, accountID, id uuid.UUID) (subaccounts.WebhookEndpoint, error)
	// ListWebhookEndpoints returns one page of the account's endpoints in id order.
	ListWebhookEndpoints(ctx context.Context, accountID uuid.UUID, f subaccounts.WebhookEndpointFilter, p subaccounts.Page) ([]subaccounts.WebhookEndpoint, error)
	CountWebhookEndpoints(ctx context.Context, accountID uuid.UUID) (int, error)
	UpdateWebhookEndpoint(ctx context.Context, e subaccounts.WebhookEndpoint) error
	DeleteWebhookEndpoint(ctx context.Context, accountID, id uuid.UUID) error
	// SetWebhookEndpointFailing records since when an endpoint fails (nil: it answers).
	SetWebhookEndpointFailing(ctx context.Context, accountID, id uuid.UUID, since *time.Time) error

	// InsertEvents writes events and their deliveries (webhook.test).
	InsertEvents(ctx context.Context, events []subaccounts.Event, deliveries []subaccounts.Delivery) error
	// DueDeliveries returns pending deliveries due at now of enabled endpoints that no
	// live lease holds, but none to the endpoints in full, locked (SKIP LOCKED) for the
	// transaction ctx carries.
	DueDeliveries(ctx context.Context, now time.Time, limit int, full []uuid.UUID) ([]subaccounts.DeliveryWork, error)
	// ClaimableDeliveries returns due deliveries within caps, locked for a claim, and
	// whether due ones were left behind.
	ClaimableDeliveries(ctx context.Context, now time.Time, caps subaccounts.DueCaps) ([]subaccounts.DeliveryWork, bool, error)
	// ClaimDeliveries leases deliveries, read by ClaimableDeliveries in the same
	// transaction, to the worker by until and returns them claimed.
	ClaimDeliveries(ctx context.Context, ds []subaccounts.Delivery, by string, until time.Time) ([]subaccounts.Delivery, error)
	// FinishAttempts records attempts and the deliveries as they left them, leases
	// released; it returns the deliveries written, leaving out those the worker by no
	// longer holds (their lease ran out).
	FinishAttempts(ctx context.Context, done []subaccounts.FinishedAttempt, by string) ([]uuid.UUID, error)
	// ReleaseDeliveries ends the leases the worker by holds.
	ReleaseDeliveries(ctx context.Context, by string) error
	GetDelivery(ctx context.Context, accountID, endpointID, id uuid.UUID) (subaccounts.Delivery, error)
	// ListDeliveries returns one page of an endpoint's deliveries, newest first.
	ListDeliveries(ctx context.Context, accountID, endpointID uuid.UUID, f subaccounts.DeliveryFilter, p subaccounts.Page) ([]subaccounts.Delivery, error)
	// RequeueDeliveries makes deliveries ids (nil: every failed one since) pending again.
	RequeueDeliveries(ctx context.Context, accountID, endpointID uuid.UUID, ids []uuid.UUID, since, now time.Time) (int64, error)
	// PurgeEvents deletes deliveries and events older than before.
	PurgeEvents(ctx context.Context, before time.Time) (int64, error)
}

// Service manages an account's webhook endpoints. It is safe for concurrent use.
type Service struct {
	store       Store
	rec         subaccounts.Recorder
	ring        *keys.Ring
	guard       Guard
	changed     func(accountID uuid.UUID)
	maxAttempts int
}

// Config is what the service is built with besides its store, recorder and keys.
type Config struct {
	// Guard checks the URLs and dials the deliveries.
	Guard Guard
	// Changed learns, after the commit, of every change to an account's endpoints (the
	// subscription cache drops the account).
	Changed func(accountID uuid.UUID)
	// Schedule is the retry schedule, which sets the attempts a test event may make.
	Schedule []time.Duration
}

// NewService returns the endpoint service over store: rec receives what its changes
// record beside themselves, ring seals the signing secrets (nil: creation fails).
func NewService(store Store, rec subaccounts.Recorder, ring *keys.Ring, cfg Config) *Service {
	schedule := cfg.Schedule
	if schedule == nil {
		schedule = events.DefaultSchedule
	}
	return &Service{store: store, rec: rec, ring: ring, guard: cfg.Guard, changed: cfg.Changed, maxAttempts: len(schedule) + 1}
}

// notify tells the subscription cache that accountID's endpoints changed.
func (s *Service) notify(accountID uuid.UUID) {
	if s.changed != nil {
		s.changed(accountID)
	}
}

// EndpointInput is a requested endpoint or change; nil fields are absent.
type EndpointInput struct {
	URL          *string
	Description  *string
	SubaccountID *uuid.UUID
	EventTypes   *[]string
	// Disabled is PATCH's alone: true disables the endpoint, false re-enables it.
	Disabled *bool
}

// check validates the fields present in in; creating also requires url and eventTypes.
func (s *Service) check(in EndpointInput, creating bool) []subaccounts.FieldError {
	var errs []subaccounts.FieldError
	bad := func(ptr, detail string) { errs = append(errs, subaccounts.FieldError{Pointer: ptr, Detail: detail}) }
	switch {
	case in.URL == nil && creating:
		bad("/url", "is required: the https URL events are posted to")
	case in.URL != nil && pan.ContainsCardNumber(*in.URL):
		// The URL is stored and echoed: the card-data guard of every free-text field.
		bad("/url", subaccounts.CardNumberDetail)
	case in.URL != nil:
		if err := s.guard.CheckURL(*in.URL); errors.Is(err, ErrPrivateAddress) {
			bad("/url", "must not point to a private, loopback or link-local address")
		} else if err != nil {
			bad("/url", err.Error())
		}
	}
	if in.Description != nil {
		if d := subaccounts.CheckText(*in.Description); d != "" {
			bad("/description", d)
		} else if utf8.RuneCountInString(*in.Description) > maxDescription {
			bad("/description", fmt.Sprintf("must be at most %d characters", maxDescription))
		}
	}
	switch {
	case in.EventTypes == nil && creating:
		bad("/eventTypes", `is required: catalogue event types, or ["*"] for all`)
	case in.EventTypes != nil:
		errs = append(errs, checkEventTypes(*in.EventTypes)...)
	}
	if in.Disabled != nil && creating {
		bad("/disabled", "is not accepted on creation: a new endpoint is enabled")
	}
	return errs
}

func checkEventTypes(types []string) []subaccounts.FieldError {
	if len(types) == 0 {
		return []subaccounts.FieldError{{Pointer: "/eventTypes", Detail: `must hold at least one event type, or "*"`}}
	}
	var errs []subaccounts.FieldError
	seen := map[string]bool{}
	for i, t := range types {
		ptr := fmt.Sprintf("/eventTypes/%d", i)
		switch {
		case t == events.AllTypes && len(types) > 1:
			errs = append(errs, subaccounts.FieldError{Pointer: ptr, Detail: `"*" stands alone: it subscribes to every type`})
		case t != events.AllTypes && !events.Known(t):
			errs = append(errs, subaccounts.FieldError{Pointer: ptr, Detail: "is not an event type of the catalogue"})
		case seen[t]:
			errs = append(errs, subaccounts.FieldError{Pointer: ptr, Detail: "is listed twice"})
		}
		seen[t] = true
	}
	return errs
}

// visible refuses an endpoint the principal may not see, as not found.
func visible(p subaccounts.Principal, e subaccounts.WebhookEndpoint) error {
	if p.Confined() && (e.SubaccountID == nil || *e.SubaccountID != *p.SubaccountID) {
		return subaccounts.NotFound("webhook endpoint")
	}
	return nil
}

// Create adds an endpoint and returns it with its signing secret, which is shown only
// this once. A client confined to a subaccount creates endpoints of its subaccount only.
func (s *Service) Create(ctx context.Context, p subaccounts.Principal, in EndpointInput) (subaccounts.WebhookEndpoint, string, error) {
	if errs := s.check(in, true); len(errs) > 0 {
		return subaccounts.WebhookEndpoint{}, "", subaccounts.Invalid(errs...)
	}
	if p.Confined() {
		if in.SubaccountID == nil {
			in.SubaccountID = p.SubaccountID
		} else if *in.SubaccountID != *p.SubaccountID {
			return subaccounts.WebhookEndpoint{}, "", subaccounts.NotFound("subaccount")
		}
	}
	now := subaccounts.Now()
	e := subaccounts.WebhookEndpoint{
		AccountID: p.AccountID, ID: uuid.Must(uuid.NewV7()), SubaccountID: in.SubaccountID,
		URL: *in.URL, EventTypes: *in.EventTypes, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	secret := NewSecret()
	if s.ring == nil {
		return subaccounts.WebhookEndpoint{}, "", errors.New("webhook secrets need the master key, which is not configured")
	}
	sealed, err := SealSecret(s.ring, e.AccountID, e.ID, secret)
	if err != nil {
		return subaccounts.WebhookEndpoint{}, "", err
	}
	e.Secret = sealed
	err = s.store.Transact(ctx, func(ctx context.Context) error {
		// The account row lock serialises creations, so the count below holds.
		if _, err := s.store.GetAccount(ctx, p.AccountID, true); err != nil {
			return err
		}
		if e.SubaccountID != nil {
			if _, err := s.store.GetSubaccount(ctx, p.AccountID, *e.SubaccountID); err != nil {
				return err
			}
		}
		n, err := s.store.CountWebhookEndpoints(ctx, p.AccountID)
		if err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return subaccounts.Errorf(subaccounts.CodeProvisioning, "Maximum number of webhook endpoints reached (%d).", MaxEndpoints)
		}
		if err := s.store.CreateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		return s.rec.Record(ctx, p.AccountID, subaccounts.Change{Action: "webhook-endpoint.create", ResourceType: "webhook-endpoint", ResourceID: e.ID.String(), After: e})
	})
	if err != nil {
		return subaccounts.WebhookEndpoint{}, "", fmt.Errorf("create webhook endpoint: %w", err)
	}
	s.notify(p.AccountID)
	return e, secret, nil
}

// Get returns an endpoint the principal may see.
func (s *Service) Get(ctx context.Context, p subaccounts.Principal, id uuid.UUID) (subaccounts.WebhookEndpoint, error) {
	e, err := s.store.GetWebhookEndpoint(ctx, p.AccountID, id)
	if err != nil {
		return subaccounts.WebhookEndpoint{}, err
	}
	if err := visible(p, e); err != nil {
		return subaccounts.WebhookEndpoint{}, err
	}
	return e, nil
}

// List returns one page of the endpoints the principal may see, in creation order.
func (s *Service) List(ctx context.Context, p subaccounts.Principal, f subaccounts.WebhookEndpointFilter, page subaccounts.Page) ([]subaccounts.WebhookEndpoint, *uuid.UUID, error) {
	var ok bool
	if f.SubaccountID, ok = p.Narrow(f.SubaccountID); !ok {
		return []subaccounts.WebhookEndpoint{}, nil, nil
	}
	items, err := s.store.ListWebhookEndpoints(ctx, p.AccountID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(e subaccounts.WebhookEndpoint) uuid.UUID { return e.ID })
	return items, next, nil
}

// Update changes an endpoint's URL, description, event types or enabled state.
// Re-enabling clears the reason it was disabled for.
func (s *Service) Update(ctx context.Context, p subaccounts.Principal, id uuid.UUID, in EndpointInput) (subaccounts.WebhookEndpoint, error) {
	if in.SubaccountID != nil {
		return subaccounts.WebhookEndpoint{}, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/subaccountId", Detail: "cannot change: create an endpoint for the other subaccount instead"})
	}
	if errs := s.check(in, false); len(errs) > 0 {
		return subaccounts.WebhookEndpoint{}, subaccounts.Invalid(errs...)
	}
	return s.change(ctx, p, id, "webhook-endpoint.update", func(e *subaccounts.WebhookEndpoint) {
		if in.URL != nil {
			e.URL = *in.URL
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.EventTypes != nil {
			e.EventTypes = *in.EventTypes
		}
		if in.Disabled != nil {
			e.Disabled = *in.Disabled
			e.DisabledReason = ""
			if e.Disabled {
				e.DisabledReason = "disabled by request"
			} else {
				// Re-enabled: its failures start counting afresh.
				e.FailingSince = nil
			}
		}
	})
}

// RotateSecret gives an endpoint a new signing secret, returned only this once. The
// current one keeps signing beside it for RotationOverlap, or not at all with
// expireOld; a rotation during an overlap drops the oldest.
func (s *Service) RotateSecret(ctx context.Context, p subaccounts.Principal, id uuid.UUID, expireOld bool) (subaccounts.WebhookEndpoint, string, error) {
	if s.ring == nil {
		return subaccounts.WebhookEndpoint{}, "", errors.New("webhook secrets need the master key, which is not configured")
	}
	secret := NewSecret()
	sealed, err := SealSecret(s.ring, p.AccountID, id, secret)
	if err != nil {
		return subaccounts.WebhookEndpoint{}, "", err
	}
	e, err := s.change(ctx, p, id, "webhook-endpoint.rotate-secret", func(e *subaccounts.WebhookEndpoint) {
		if expireOld {
			e.PreviousSecret, e.PreviousSecretExpiresAt = "", nil
		} else {
			until := subaccounts.Now().Add(RotationOverlap)
			e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, &until
		}
		e.Secret = sealed
	})
	if err != nil {
		return subaccounts.WebhookEndpoint{}, "", err
	}
	return e, secret, nil
}

// change applies apply to an endpoint the principal may see, in one transaction, and
// records it.
func (s *Service) change(ctx context.Context, p subaccounts.Principal, id uuid.UUID, action string, apply func(e *subaccounts.WebhookEndpoint)) (subaccounts.WebhookEndpoint, error) {
	var out subaccounts.WebhookEndpoint
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		e, err := s.store.GetWebhookEndpoint(ctx, p.AccountID, id)
		if err != nil {
			return err
		}
		if err := visible(p, e); err != nil {
			return err
		}
		before := e
		apply(&e)
		e.Version++
		e.UpdatedAt = subaccounts.Now()
		if err := s.store.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		out = e
		return s.rec.Record(ctx, p.AccountID, subaccounts.Change{Action: action, ResourceType: "webhook-endpoint", ResourceID: e.ID.String(), Before: before, After: e})
	})
	if err != nil {
		return subaccounts.WebhookEndpoint{}, fmt.Errorf("%s: %w", action, err)
	}
	s.notify(p.AccountID)
	return out, nil
}

// Delete removes an endpoint; nothing more is delivered to it.
func (s *Service) Delete(ctx context.Context, p subaccounts.Principal, id uuid.UUID) error {
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		e, err := s.store.GetWebhookEndpoint(ctx, p.AccountID, id)
		if err != nil {
			return err
		}
		if err := visible(p, e); err != nil {
			return err
		}
		if err := s.store.DeleteWebhookEndpoint(ctx, p.AccountID, id); err != nil {
			return err
		}
		return s.rec.Record(ctx, p.AccountID, subaccounts.Change{Action: "webhook-endpoint.delete", ResourceType: "webhook-endpoint", ResourceID: id.String(), Before: e})
	})
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	s.notify(p.AccountID)
	return nil
}
