package webhooks

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Deliveries returns one page of the messages sent to an endpoint the principal may see,
// newest first, with their attempts.
func (s *Service) Deliveries(ctx context.Context, p subaccounts.Principal, endpointID uuid.UUID, f subaccounts.DeliveryFilter, page subaccounts.Page) ([]subaccounts.Delivery, *uuid.UUID, error) {
	if _, err := s.Get(ctx, p, endpointID); err != nil {
		return nil, nil, err
	}
	items, err := s.store.ListDeliveries(ctx, p.AccountID, endpointID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list deliveries: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(d subaccounts.Delivery) uuid.UUID { return d.ID })
	return items, next, nil
}

// Resend sends a delivery once more, with the same webhook-id: it is pending again, due
// now, with one more attempt allowed, whatever its status was. A delivery a worker is
// sending right now is a conflict.
func (s *Service) Resend(ctx context.Context, p subaccounts.Principal, endpointID, id uuid.UUID) (subaccounts.Delivery, error) {
	var out subaccounts.Delivery
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		if _, err := s.Get(ctx, p, endpointID); err != nil {
			return err
		}
		if _, err := s.store.GetDelivery(ctx, p.AccountID, endpointID, id); err != nil {
			return err
		}
		n, err := s.store.RequeueDeliveries(ctx, p.AccountID, endpointID, []uuid.UUID{id}, time.Time{}, subaccounts.Now())
		if err != nil {
			return err
		}
		if n == 0 {
			return subaccounts.Errorf(subaccounts.CodeConflict, "The delivery is being sent right now; resend it once this attempt is recorded.")
		}
		out, err = s.store.GetDelivery(ctx, p.AccountID, endpointID, id)
		return err
	})
	if err != nil {
		return subaccounts.Delivery{}, fmt.Errorf("resend delivery: %w", err)
	}
	return out, nil
}

// Recover sends again every failed delivery to the endpoint created since then, each
// once more; it returns how many it queued.
func (s *Service) Recover(ctx context.Context, p subaccounts.Principal, endpointID uuid.UUID, since time.Time) (int64, error) {
	if since.After(subaccounts.Now()) {
		return 0, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/since", Detail: "must not be in the future"})
	}
	if _, err := s.Get(ctx, p, endpointID); err != nil {
		return 0, err
	}
	n, err := s.store.RequeueDeliveries(ctx, p.AccountID, endpointID, nil, since, subaccounts.Now())
	if err != nil {
		return 0, fmt.Errorf("recover deliveries: %w", err)
	}
	return n, nil
}

// Test queues a webhook.test event to the endpoint alone, subscribed to it or not, and
// returns its delivery. A disabled endpoint receives it once re-enabled.
func (s *Service) Test(ctx context.Context, p subaccounts.Principal, endpointID uuid.UUID) (subaccounts.Delivery, error) {
	var out subaccounts.Delivery
	err := s.store.Transact(ctx, func(ctx context.Context) error {
		e, err := s.Get(ctx, p, endpointID)
		if err != nil {
			return err
		}
		now := subaccounts.Now()
		ev, err := events.New(p.AccountID, "webhook.test", e.SubaccountID, events.TestData{
			EndpointID: e.ID.String(), Message: "A test event: verify its signature and answer 2xx.",
		}, now)
		if err != nil {
			return err
		}
		out = events.NewDelivery(ev, e.ID, s.maxAttempts, now)
		return s.store.InsertEvents(ctx, []subaccounts.Event{ev}, []subaccounts.Delivery{out})
	})
	if err != nil {
		return subaccounts.Delivery{}, fmt.Errorf("test webhook endpoint: %w", err)
	}
	out.History = []subaccounts.Attempt{}
	return out, nil
}
