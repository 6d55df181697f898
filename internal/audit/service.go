package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// AuditQuery is an audit event list request as the caller wrote it; empty fields do not
// filter.
type AuditQuery struct {
	Action       string
	ResourceType string
	ResourceID   string
	// Actor matches the actor's subject or client id.
	Actor string
	// Window is on the event's createdAt.
	subaccounts.Window
}

// maxAuditParam caps the length of the free-text filters.
const maxAuditParam = 200

// auditAllowed refuses confined clients: the audit log is the whole account's, and its
// events name resources of every subaccount.
func auditAllowed(p subaccounts.Principal) error {
	if p.Confined() {
		return subaccounts.Errorf(subaccounts.CodeForbidden, "The audit log belongs to the whole account; a client confined to one subaccount cannot read it.")
	}
	return nil
}

// ListAuditEvents returns one page of the account's audit events in seq (chain) order,
// and the id to continue after, if any. It chains the account's events first, so every
// event committed before the call is listed.
func (s *Service) ListAuditEvents(ctx context.Context, p subaccounts.Principal, q AuditQuery, page subaccounts.Page) ([]subaccounts.AuditEvent, *uuid.UUID, error) {
	if err := auditAllowed(p); err != nil {
		return nil, nil, err
	}
	f := subaccounts.AuditFilter{Action: q.Action, ResourceType: q.ResourceType, ResourceID: q.ResourceID, Actor: q.Actor, From: q.From, To: q.To}
	var errs []subaccounts.FieldError
	for _, param := range []struct{ name, value string }{
		{"action", q.Action}, {"resourceType", q.ResourceType}, {"resourceId", q.ResourceID}, {"actor", q.Actor},
	} {
		if len(param.value) > maxAuditParam {
			errs = append(errs, subaccounts.FieldError{Parameter: param.name, Detail: fmt.Sprintf("must be at most %d bytes", maxAuditParam)})
		}
	}
	if q.ResourceID != "" && q.ResourceType == "" {
		errs = append(errs, subaccounts.FieldError{Parameter: "resourceId", Detail: "needs resourceType: ids are unique only within one resource type"})
	}
	if len(errs) > 0 {
		return nil, nil, subaccounts.Invalid(errs...)
	}
	if err := s.ChainAudit(ctx, p.AccountID); err != nil {
		return nil, nil, fmt.Errorf("list audit events: %w", err)
	}
	items, err := s.store.ListAuditEvents(ctx, p.AccountID, f, subaccounts.Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, nil, fmt.Errorf("list audit events: %w", err)
	}
	items, next := subaccounts.Cut(items, page.Limit, func(e subaccounts.AuditEvent) uuid.UUID { return e.ID })
	return items, next, nil
}

// Reasons VerifyAudit gives for a broken chain.
const (
	// AuditHashMismatch: the event's content does not hash to its stored hash; it was
	// changed after it was written.
	AuditHashMismatch = "hash mismatch"
	// AuditPrevHashMismatch: the event does not name the previous event's hash; the
	// previous event was replaced, or this one moved.
	AuditPrevHashMismatch = "previous hash mismatch"
	// AuditGap: the event with this seq is missing.
	AuditGap = "missing event (gap in sequence)"
	// AuditHeadPastEnd: the chain head names a seq beyond the last event; events at the
	// end were removed.
	AuditHeadPastEnd = "head points past the last event"
	// AuditHeadMismatch: the chain head does not name the last event, or is missing
	// while events exist.
	AuditHeadMismatch = "head does not match the last event"
)

// AuditBreak is the first broken link of a chain.
type AuditBreak struct {
	Seq int64
	// EventID is the event at Seq, or uuid.Nil when there is none (a gap, a head past
	// the end).
	EventID uuid.UUID
	Reason  string
}

// AuditVerification is the outcome of VerifyAudit.
type AuditVerification struct {
	Valid bool
	// EventsChecked counts the events whose links were checked before the first break
	// (all of them when Valid).
	EventsChecked int64
	// Head is the chain head as read at the end of the check.
	Head subaccounts.AuditHead
	// Broken is the first broken link; nil when Valid.
	Broken *AuditBreak
	// Pending counts the events still unchained after VerifyAudit's own chaining pass,
	// which the chain cannot vouch for yet; normally 0 (events committed while it ran).
	Pending int64
}

// auditVerifyBatch is how many events VerifyAudit reads per query: memory stays bounded
// however long the chain.
const auditVerifyBatch = 1000

// VerifyAudit chains the caller's account's events, then recomputes its whole audit
// chain, in batches, and reports the first broken link, if any, and how many events are
// still unchained. Events chained while it runs are checked too.
//
// Concurrent calls for one account share one computation, so that many callers cost the
// CPU and reads of one. A call that arrives while a computation is running joins it and
// gets its answer, which is as of when that computation started: events committed after
// then may be missing from it (they are then counted in Pending or checked by the next
// call). A caller that gives up does not stop the computation for the others.
func (s *Service) VerifyAudit(ctx context.Context, p subaccounts.Principal) (AuditVerification, error) {
	if err := auditAllowed(p); err != nil {
		return AuditVerification{}, err
	}
	ch := s.verifies.DoChan(p.AccountID.String(), func() (any, error) {
		dctx, cancel := detach(ctx)
		defer cancel()
		return s.verifyAudit(dctx, p.AccountID)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return AuditVerification{}, r.Err
		}
		return r.Val.(AuditVerification), nil
	case <-ctx.Done():
		return AuditVerification{}, fmt.Errorf("verify audit: %w", ctx.Err())
	}
}

// detach keeps ctx's values and deadline but not its cancellation: a shared computation
// must not end because the caller that started it went away, yet must not outlive the
// deadline it was started under.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, dl)
	}
	return context.WithCancel(d)
}

func (s *Service) verifyAudit(ctx context.Context, accountID uuid.UUID) (AuditVerification, error) {
	if err := s.ChainAudit(ctx, accountID); err != nil {
		return AuditVerification{}, fmt.Errorf("verify audit: %w", err)
	}
	v, err := VerifyAuditChain(ctx, s.store, accountID, auditVerifyBatch)
	if err != nil {
		return AuditVerification{}, fmt.Errorf("verify audit: %w", err)
	}
	if v.Pending, err = s.store.CountUnchainedAuditEvents(ctx, accountID); err != nil {
		return AuditVerification{}, fmt.Errorf("verify audit: %w", err)
	}
	return v, nil
}

// auditChainBatch is how many events one chaining transaction links: the head lock is
// held, and the links are written, for at most this many.
const auditChainBatch = 500

// ChainAudit links every unchained event of the account into its hash chain, a batch per
// transaction, until none that committed before the call is left. Concurrent callers,
// in this process or another replica, are serialised by the account's chain head lock.
func (s *Service) ChainAudit(ctx context.Context, accountID uuid.UUID) error {
	for {
		var n int
		// Through Transact, so a busy lock or a deadlock is retried like any write.
		err := s.store.Transact(ctx, func(ctx context.Context) error {
			var err error
			n, err = s.store.ChainAuditEvents(ctx, accountID, auditChainBatch)
			return err
		})
		if err != nil {
			return fmt.Errorf("chain audit events of %s: %w", accountID, err)
		}
		if n < auditChainBatch {
			return nil
		}
	}
}

// auditChainerAccounts is how many accounts one pass of the background chainer asks
// for at a time.
const auditChainerAccounts = 100

// RunAuditChainer chains, every interval until ctx ends, the events of every account that
// has unchained ones. Errors are logged and retried on the next pass, never returned:
// an event left unchained is only chained later, never lost. Every replica may run one;
// the chain head lock keeps them from linking an event twice.
func (s *Service) RunAuditChainer(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var quietUntil time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := s.chainAllAudit(ctx)
		switch {
		case err == nil || ctx.Err() != nil:
			quietUntil = time.Time{}
		case errors.Is(err, subaccounts.ErrUnavailable):
			// An outage fails every pass; once per half minute says so.
			if now := time.Now(); now.After(quietUntil) {
				s.log.Warn("chaining audit events: database unavailable", slog.String("error", err.Error()))
				quietUntil = now.Add(30 * time.Second)
			}
		default:
			s.log.Warn("chaining audit events", slog.String("error", err.Error()))
		}
	}
}

// chainAllAudit chains every account with unchained events once over. An account whose
// chaining fails is logged and skipped, so that it cannot starve the rest.
func (s *Service) chainAllAudit(ctx context.Context) error {
	failed := map[uuid.UUID]error{}
	for {
		limit := auditChainerAccounts + len(failed)
		ids, err := s.store.AccountsWithUnchainedAuditEvents(ctx, limit)
		if err != nil {
			return fmt.Errorf("accounts with unchained audit events: %w", err)
		}
		for _, id := range ids {
			if _, ok := failed[id]; ok {
				continue
			}
			if err := s.ChainAudit(ctx, id); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed[id] = err
			}
		}
		// A full page holds at least auditChainerAccounts accounts that have not failed,
		// each now chained or failed, so the pass moves on; stopping when none was chained
		// would let a page of failing accounts starve every account after it.
		if len(ids) < limit {
			break
		}
	}
	for _, err := range failed {
		s.log.Warn("chaining audit events", slog.String("error", err.Error()))
	}
	return nil
}

// VerifyAuditChain checks the audit chain of accountID in store, reading batch events
// at a time.
func VerifyAuditChain(ctx context.Context, store Store, accountID uuid.UUID, batch int) (AuditVerification, error) {
	var out AuditVerification
	broken := func(seq int64, id uuid.UUID, reason string) (AuditVerification, error) {
		out.Broken = &AuditBreak{Seq: seq, EventID: id, Reason: reason}
		return out, nil
	}
	prev, last, lastID := subaccounts.GenesisHash, int64(0), uuid.Nil
	events, err := store.AuditEventsAfter(ctx, accountID, last, batch)
	if err != nil {
		return out, err
	}
	for {
		for _, e := range events {
			if e.Seq != last+1 {
				return broken(last+1, uuid.Nil, AuditGap)
			}
			if e.PrevHash != prev {
				return broken(e.Seq, e.ID, AuditPrevHashMismatch)
			}
			// An event whose before or after no longer parses was changed too.
			if !HasChainHash(e) {
				return broken(e.Seq, e.ID, AuditHashMismatch)
			}
			out.EventsChecked++
			prev, last, lastID = e.Hash, e.Seq, e.ID
		}
		if len(events) == batch {
			if events, err = store.AuditEventsAfter(ctx, accountID, last, batch); err != nil {
				return out, err
			}
			continue
		}
		// The end of the events as far as they were read. The head is moved in the same
		// transaction as the events it names, so read after them it names the last of
		// them, or a later one appended meanwhile, which a further read must find.
		if out.Head, err = store.AuditHead(ctx, accountID); err != nil {
			return out, err
		}
		switch {
		case out.Head.Seq == last && (last == 0 || out.Head.Hash == prev):
			out.Valid = true
			return out, nil
		case out.Head.Seq <= last:
			return broken(last, lastID, AuditHeadMismatch)
		}
		if events, err = store.AuditEventsAfter(ctx, accountID, last, batch); err != nil {
			return out, err
		}
		if len(events) == 0 {
			return broken(last+1, uuid.Nil, AuditHeadPastEnd)
		}
	}
}

// Service reads, chains and verifies the audit log.
type Service struct {
	store Store
	log   *slog.Logger
	// verifies shares one audit verification between concurrent callers per account.
	verifies singleflight.Group
}

// NewService returns the audit log's service over store; log receives the background
// chainer's errors (nil: slog.Default()).
func NewService(store Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, log: log}
}
