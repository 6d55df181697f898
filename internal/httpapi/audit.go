package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// orNullJSON keeps an absent before or after as JSON null.
func orNullJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func toAuditEventView(e subaccounts.AuditEvent) api.AuditEvent {
	return api.AuditEvent{
		ID: e.ID.String(), AccountID: e.AccountID.String(), Seq: e.Seq,
		Actor:  api.AuditActor{Sub: e.ActorSubject, ClientID: e.ActorClientID},
		Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		Before: orNullJSON(e.Before), After: orNullJSON(e.After),
		Reference: e.Reference, RequestID: e.RequestID, CreatedAt: api.Time(e.CreatedAt),
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func toAuditVerificationView(accountID uuid.UUID, v audit.AuditVerification) api.AuditVerification {
	out := api.AuditVerification{AccountID: accountID.String(), Valid: &v.Valid, EventsChecked: v.EventsChecked, Pending: v.Pending}
	if v.Head.Seq > 0 {
		out.Head = &api.AuditHead{Seq: v.Head.Seq, Hash: v.Head.Hash}
	}
	if b := v.Broken; b != nil {
		bv := api.AuditBreak{Seq: b.Seq, Reason: b.Reason}
		if b.EventID != uuid.Nil {
			id := b.EventID
			bv.EventID = api.IDPtr(&id)
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
