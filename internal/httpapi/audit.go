package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type auditActorView struct {
	Sub      string `json:"sub"`
	ClientID string `json:"clientId"`
}

type auditEventView struct {
	ID           uuid.UUID       `json:"id"`
	AccountID    uuid.UUID       `json:"accountId"`
	Seq          int64           `json:"seq"`
	Actor        auditActorView  `json:"actor"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	Reference    string          `json:"reference"`
	RequestID    string          `json:"requestId"`
	CreatedAt    timestamp       `json:"createdAt"`
	PrevHash     string          `json:"prevHash"`
	Hash         string          `json:"hash"`
}

// orNullJSON keeps an absent before or after as JSON null.
func orNullJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func toAuditEventView(e subaccounts.AuditEvent) auditEventView {
	return auditEventView{
		ID: e.ID, AccountID: e.AccountID, Seq: e.Seq,
		Actor:  auditActorView{Sub: e.ActorSubject, ClientID: e.ActorClientID},
		Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		Before: orNullJSON(e.Before), After: orNullJSON(e.After),
		Reference: e.Reference, RequestID: e.RequestID, CreatedAt: timestamp(e.CreatedAt),
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

type auditBreakView struct {
	Seq     int64      `json:"seq"`
	EventID *uuid.UUID `json:"eventId"`
	Reason  string     `json:"reason"`
}

type auditHeadView struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type auditVerificationView struct {
	AccountID     uuid.UUID       `json:"accountId"`
	Valid         bool            `json:"valid"`
	EventsChecked int64           `json:"eventsChecked"`
	Head          *auditHeadView  `json:"head"`
	FirstBroken   *auditBreakView `json:"firstBroken"`
	Pending       int64           `json:"pending"`
}

func toAuditVerificationView(accountID uuid.UUID, v audit.AuditVerification) auditVerificationView {
	out := auditVerificationView{AccountID: accountID, Valid: v.Valid, EventsChecked: v.EventsChecked, Pending: v.Pending}
	if v.Head.Seq > 0 {
		out.Head = &auditHeadView{Seq: v.Head.Seq, Hash: v.Head.Hash}
	}
	if b := v.Broken; b != nil {
		bv := auditBreakView{Seq: b.Seq, Reason: b.Reason}
		if b.EventID != uuid.Nil {
			id := b.EventID
			bv.EventID = &id
		}
		out.FirstBroken = &bv
	}
	return out
}

func handleListAuditEvents(svc *audit.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		q := audit.AuditQuery{
			Action: c.Query("action"), ResourceType: c.Query("resourceType"), ResourceID: c.Query("resourceId"),
			Actor: c.Query("actor"),
		}
		var errs []subaccounts.FieldError
		if q.Window = queryWindow(c, &errs); queryInvalid(c, errs) {
			return
		}
		items, next, err := svc.ListAuditEvents(c.Request.Context(), mustPrincipal(c), q, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, toAuditEventView))
	}
}

func handleVerifyAudit(svc *audit.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := mustPrincipal(c)
		v, err := svc.VerifyAudit(c.Request.Context(), p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toAuditVerificationView(p.AccountID, v))
	}
}
