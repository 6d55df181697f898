package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cardseg/subaccounts/internal/api"
)

// auditEvent is the API's AuditEvent (the fields the table shows).
type auditEvent = api.AuditEvent

// auditVerification is the API's AuditVerification.
type auditVerification = api.AuditVerification

func runAuditList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var action, resourceType, resourceID, actor string
	var limit int
	fs.StringVar(&action, "action", "", "")
	fs.StringVar(&resourceType, "resource-type", "", "")
	fs.StringVar(&resourceID, "resource-id", "", "")
	fs.StringVar(&actor, "actor", "", "")
	w := windowFlags(fs)
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	if resourceID != "" && resourceType == "" {
		return 0, usagef("--resource-id needs --resource-type")
	}
	if err := w.check(); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "action", action)
	setIf(q, "resourceType", resourceType)
	setIf(q, "resourceId", resourceID)
	setIf(q, "actor", actor)
	w.set(q)
	events, done, err := listAll[auditEvent](ctx, a, "/v1/audit-events", q, limit, "audit events")
	if err != nil || done {
		return exitOK, err
	}
	tw := newTable(a.stdout)
	row(tw, "SEQ", "CREATED", "ACTION", "RESOURCE", "ACTOR", "CLIENT", "REQUEST ID", "REFERENCE", "ID")
	for _, e := range events {
		row(tw, e.Seq, e.CreatedAt, e.Action, e.ResourceType+" "+orDash(e.ResourceID), orDash(e.Actor.Sub), orDash(e.Actor.ClientID),
			orDash(e.RequestID), orDash(e.Reference), e.ID)
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}

func runAuditVerify(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var v auditVerification
	raw, err := api.do(ctx, http.MethodGet, "/v1/audit-events/verify", nil, nil, &v)
	if err != nil {
		return 0, err
	}
	if v.Valid == nil {
		return 0, errors.New("the verification has no \"valid\" field")
	}
	if !*v.Valid && v.FirstBroken == nil {
		return 0, errors.New("the verification says the chain is broken but names no broken link")
	}
	if a.g.json {
		if err := writeJSON(a.stdout, raw); err != nil {
			return 0, err
		}
	} else if err := writeVerification(a.stdout, &v); err != nil {
		return 0, err
	}
	if *v.Valid {
		return exitOK, nil
	}
	return exitFindings, nil
}

// writeVerification prints a verdict and, for a broken chain, its first broken link.
func writeVerification(w io.Writer, v *auditVerification) error {
	if *v.Valid {
		fmt.Fprintf(w, "Audit chain of account %s: INTACT\n", v.AccountID)
	} else {
		fmt.Fprintf(w, "Audit chain of account %s: BROKEN\n", v.AccountID)
	}
	pairs := []string{"events checked", strconv.FormatInt(v.EventsChecked, 10)}
	if v.Head != nil {
		pairs = append(pairs, "head", fmt.Sprintf("seq %d, hash %s", v.Head.Seq, v.Head.Hash))
	} else {
		pairs = append(pairs, "head", "- (no events)")
	}
	if v.Pending > 0 {
		pairs = append(pairs, "not yet chained", fmt.Sprintf("%d events (committed during the check)", v.Pending))
	}
	if b := v.FirstBroken; b != nil {
		event := "- (missing)"
		if b.EventID != nil {
			event = *b.EventID
		}
		pairs = append(pairs, "first broken link", fmt.Sprintf("seq %d: %s", b.Seq, b.Reason), "event", event)
	}
	return kv(w, pairs...)
}
