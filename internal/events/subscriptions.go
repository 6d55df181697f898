package events

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// DefaultSubscriptionTTL is how long a replica trusts its copy of an account's
// subscriptions: a change made through another replica reaches this one's events within
// it. Changes made through this replica take effect at once.
const DefaultSubscriptionTTL = 2 * time.Second

// maxCached bounds the accounts whose subscriptions are cached before expired entries
// are swept.
const maxCached = 10_000

// Loader reads an account's subscriptions.
type Loader interface {
	// EnabledWebhookEndpoints returns the account's enabled endpoints.
	EnabledWebhookEndpoints(ctx context.Context, accountID uuid.UUID) ([]subaccounts.WebhookEndpoint, error)
}

// subscription is what routing an event needs of one enabled endpoint.
type subscription struct {
	endpointID   uuid.UUID
	subaccountID *uuid.UUID
	types        []string
}

// wants reports whether the endpoint receives an event of typ about sub: an account-wide
// endpoint receives every event of its types, a subaccount's endpoint only its
// subaccount's.
func (s subscription) wants(typ string, sub *uuid.UUID) bool {
	if s.subaccountID != nil && (sub == nil || *sub != *s.subaccountID) {
		return false
	}
	return slices.Contains(s.types, typ) || slices.Contains(s.types, AllTypes)
}

type cached struct {
	subs    []subscription
	expires time.Time
}

// Subscriptions caches each account's subscriptions, so a change in an account with no
// endpoint costs no query beyond one per account per TTL. It is safe for concurrent use.
type Subscriptions struct {
	load Loader
	ttl  time.Duration
	now  func() time.Time

	mu sync.Mutex
	m  map[uuid.UUID]cached
}

// NewSubscriptions returns a cache over load keeping entries for ttl (0: the default).
func NewSubscriptions(load Loader, ttl time.Duration) *Subscriptions {
	if ttl <= 0 {
		ttl = DefaultSubscriptionTTL
	}
	return &Subscriptions{load: load, ttl: ttl, now: time.Now, m: map[uuid.UUID]cached{}}
}

// of returns the account's subscriptions, loading them with ctx (the change's own
// transaction, when it carries one) when the cached copy is missing or stale.
func (s *Subscriptions) of(ctx context.Context, accountID uuid.UUID) ([]subscription, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.m[accountID]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.subs, nil
	}
	endpoints, err := s.load.EnabledWebhookEndpoints(ctx, accountID)
	if err != nil {
		return nil, err
	}
	subs := make([]subscription, len(endpoints))
	for i, e := range endpoints {
		subs[i] = subscription{endpointID: e.ID, subaccountID: e.SubaccountID, types: e.EventTypes}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxCached {
		for id, c := range s.m {
			if !now.Before(c.expires) {
				delete(s.m, id)
			}
		}
	}
	s.m[accountID] = cached{subs: subs, expires: now.Add(s.ttl)}
	return subs, nil
}

// Invalidate drops the cached subscriptions of accountID: an endpoint of it changed.
func (s *Subscriptions) Invalidate(accountID uuid.UUID) {
	s.mu.Lock()
	delete(s.m, accountID)
	s.mu.Unlock()
}
