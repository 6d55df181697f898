package webhooks

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// recordBatch bounds the attempts recorded in one transaction, recordTimeout its time.
const (
	recordBatch   = 256
	recordTimeout = 5 * time.Second
)

// Reasons an endpoint is disabled by the service.
const (
	ReasonGone    = "the endpoint answered 410 Gone"
	ReasonFailing = "every delivery failed for 5 days"
)

// record writes the attempts as they finish, many per transaction. An attempt whose record is lost (the database went away) keeps its lease
// until it runs out and is then sent again: at least once, never silently dropped.
func (w *Worker) record(results <-chan result) {
	for r := range results {
		batch := []result{r}
	drain:
		for len(batch) < recordBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		w.recordBatch(batch)
	}
}

// endpointFate is what a batch of attempts does to one endpoint.
type endpointFate struct {
	endpoint subaccounts.WebhookEndpoint
	ok       bool
	// disable is the reason to disable it, if any.
	disable string
	failAt  time.Time
}

func (w *Worker) recordBatch(batch []result) {
	now := time.Now()
	fates := map[uuid.UUID]*endpointFate{}
	var disabled []uuid.UUID
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	err := w.store.Transact(ctx, func(ctx context.Context) error {
		clear(fates)
		disabled = disabled[:0]
		done := make([]subaccounts.FinishedAttempt, 0, len(batch))
		made := make([]result, 0, len(batch))
		for _, r := range batch {
			if !r.cancelled {
				done = append(done, subaccounts.FinishedAttempt{Delivery: w.next(r, now), Attempt: r.attempt})
				made = append(made, r)
			}
		}
		mine, err := w.store.FinishAttempts(ctx, done, w.cfg.ID)
		if err != nil {
			return err
		}
		wrote := make(map[uuid.UUID]bool, len(mine))
		for _, id := range mine {
			wrote[id] = true
		}
		for i, r := range made {
			if wrote[r.work.Delivery.ID] {
				w.fate(fates, r, done[i].Delivery)
			}
		}
		for _, f := range fates {
			gone, err := w.settle(ctx, f, now)
			if err != nil {
				return err
			}
			if gone {
				disabled = append(disabled, f.endpoint.AccountID)
			}
		}
		return nil
	})
	if err != nil {
		w.cfg.Logger.Warn("webhooks: record attempts; their deliveries are retried when the leases run out", "attempts", len(batch), "err", err)
		return
	}
	for _, r := range batch {
		if !r.cancelled && w.cfg.Observe != nil {
			w.cfg.Observe(outcomeOf(r), r.attempt.At.Sub(r.work.Event.CreatedAt))
		}
	}
	for _, id := range disabled {
		if w.changed != nil {
			w.changed(id)
		}
	}
}

// next is the delivery as attempt r leaves it.
func (w *Worker) next(r result, now time.Time) subaccounts.Delivery {
	d := r.work.Delivery
	d.Attempts = r.attempt.N
	d.UpdatedAt = now
	d.ClaimedBy, d.ClaimedUntil = "", nil
	code := r.attempt.StatusCode
	switch {
	case code >= 200 && code < 300:
		d.Status, d.NextAttemptAt = subaccounts.DeliveryDelivered, nil
	case code == http.StatusGone || d.Attempts >= d.MaxAttempts:
		d.Status, d.NextAttemptAt = subaccounts.DeliveryFailed, nil
	default:
		due := now.Add(w.wait(d.Attempts, r.retryAfter))
		d.Status, d.NextAttemptAt = subaccounts.DeliveryPending, &due
	}
	return d
}

// fate folds attempt r into what happens to its endpoint.
func (w *Worker) fate(fates map[uuid.UUID]*endpointFate, r result, d subaccounts.Delivery) {
	e := r.work.Endpoint
	f := fates[e.ID]
	if f == nil {
		f = &endpointFate{endpoint: e}
		fates[e.ID] = f
	}
	switch {
	case d.Status == subaccounts.DeliveryDelivered:
		f.ok = true
	case r.attempt.StatusCode == http.StatusGone:
		f.disable = ReasonGone
	case f.failAt.IsZero():
		f.failAt = r.attempt.At
	}
}

// settle writes an endpoint's fate: answering again clears its failing state, a first
// failure starts it, five days of it or a 410 disable it. It reports a disabling.
func (w *Worker) settle(ctx context.Context, f *endpointFate, now time.Time) (bool, error) {
	e := f.endpoint
	switch {
	case f.disable == "" && f.ok && e.FailingSince != nil:
		return false, w.store.SetWebhookEndpointFailing(ctx, e.AccountID, e.ID, nil)
	case f.disable == "" && f.ok:
		return false, nil
	case f.disable == "" && e.FailingSince == nil:
		return false, w.store.SetWebhookEndpointFailing(ctx, e.AccountID, e.ID, &f.failAt)
	case f.disable == "" && now.Sub(*e.FailingSince) >= DisableAfter:
		f.disable = ReasonFailing
	case f.disable == "":
		return false, nil
	}
	return w.disable(ctx, e.AccountID, e.ID, f.disable, now)
}

// disable turns an endpoint off for reason, audited, with a webhook-endpoint.disabled
// event to the account's other endpoints. Its pending deliveries wait for a re-enabling.
func (w *Worker) disable(ctx context.Context, accountID, id uuid.UUID, reason string, now time.Time) (bool, error) {
	e, err := w.store.GetWebhookEndpoint(ctx, accountID, id)
	if errors.Is(err, subaccounts.ErrNotFound) || err == nil && e.Disabled {
		// Deleted or disabled meanwhile: nothing to do.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	before := e
	e.Disabled, e.DisabledReason = true, reason
	e.Version++
	e.UpdatedAt = now
	if err := w.store.UpdateWebhookEndpoint(ctx, e); err != nil {
		return false, err
	}
	err = w.rec.Record(ctx, accountID, subaccounts.Change{
		Action: "webhook-endpoint.disable", ResourceType: "webhook-endpoint", ResourceID: id.String(),
		Before: before, After: e, Reference: reason,
	})
	return err == nil, err
}

// outcomeOf names an attempt's outcome for the metrics.
func outcomeOf(r result) string {
	switch code := r.attempt.StatusCode; {
	case code >= 200 && code < 300:
		return "delivered"
	case code == 0:
		return "no-answer"
	case code == http.StatusGone:
		return "gone"
	default:
		return "refused"
	}
}
