package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/webhooks"
)

// endpointInput converts a requested endpoint (POST) or change (PATCH); false when
// subaccountId is not a UUID.
func endpointInput(b api.WebhookEndpointRequest) (webhooks.EndpointInput, bool) {
	in := webhooks.EndpointInput{URL: b.URL, Description: b.Description, EventTypes: b.EventTypes, Disabled: b.Disabled}
	if b.SubaccountID != nil {
		id, err := uuid.Parse(*b.SubaccountID)
		if err != nil || len(*b.SubaccountID) != 36 {
			return in, false
		}
		in.SubaccountID = &id
	}
	return in, true
}

// decodeEndpoint reads a webhook endpoint body; false when it answered already.
func decodeEndpoint(c *gin.Context) (webhooks.EndpointInput, bool) {
	var body api.WebhookEndpointRequest
	if !decode(c, &body) {
		return webhooks.EndpointInput{}, false
	}
	in, ok := endpointInput(body)
	if !ok {
		fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/subaccountId", Detail: "must be a UUID"}))
	}
	return in, ok
}

func handleCreateWebhookEndpoint(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		in, ok := decodeEndpoint(c)
		if !ok {
			return
		}
		e, secret, err := svc.Create(c.Request.Context(), mustPrincipal(c), in)
		if err != nil {
			fail(c, err)
			return
		}
		c.Header("Location", "/v1/webhook-endpoints/"+e.ID.String())
		setETag(c, e.Version)
		writeJSON(c, http.StatusCreated, api.WebhookEndpointWithSecret{WebhookEndpoint: api.FromWebhookEndpoint(e), Secret: secret})
	}
}

func handleListWebhookEndpoints(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		var errs []subaccounts.FieldError
		f := subaccounts.WebhookEndpointFilter{SubaccountID: queryUUID(c, "subaccountId", &errs)}
		if queryInvalid(c, errs) {
			return
		}
		items, next, err := svc.List(c.Request.Context(), mustPrincipal(c), f, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromWebhookEndpoint))
	}
}

func handleGetWebhookEndpoint(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		e, err := svc.Get(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, e.Version)
		writeJSON(c, http.StatusOK, api.FromWebhookEndpoint(e))
	}
}

func handlePatchWebhookEndpoint(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		in, ok := decodeEndpoint(c)
		if !ok {
			return
		}
		e, err := svc.Update(c.Request.Context(), mustPrincipal(c), id, in)
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, e.Version)
		writeJSON(c, http.StatusOK, api.FromWebhookEndpoint(e))
	}
}

func handleDeleteWebhookEndpoint(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		if err := svc.Delete(c.Request.Context(), mustPrincipal(c), id); err != nil {
			fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func handleRotateWebhookSecret(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		expireOld := false
		switch v, set := c.GetQuery("expireOld"); {
		case !set:
		case v == "now":
			expireOld = true
		default:
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Parameter: "expireOld", Detail: "must be now"}))
			return
		}
		e, secret, err := svc.RotateSecret(c.Request.Context(), mustPrincipal(c), id, expireOld)
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, e.Version)
		writeJSON(c, http.StatusOK, api.WebhookEndpointWithSecret{WebhookEndpoint: api.FromWebhookEndpoint(e), Secret: secret})
	}
}

func handleListDeliveries(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		p, ok := page(c)
		if !ok {
			return
		}
		var errs []subaccounts.FieldError
		w := queryWindow(c, &errs)
		f := subaccounts.DeliveryFilter{From: w.From, To: w.To}
		switch st := subaccounts.DeliveryStatus(c.Query("status")); st {
		case "", subaccounts.DeliveryPending, subaccounts.DeliveryDelivered, subaccounts.DeliveryFailed:
			f.Status = st
		default:
			errs = append(errs, subaccounts.FieldError{Parameter: "status", Detail: "must be pending, delivered or failed"})
		}
		if queryInvalid(c, errs) {
			return
		}
		items, next, err := svc.Deliveries(c.Request.Context(), mustPrincipal(c), id, f, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromDelivery))
	}
}

func handleResendDelivery(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		endpointID, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		id, ok := pathID(c, "deliveryId")
		if !ok {
			return
		}
		d, err := svc.Resend(c.Request.Context(), mustPrincipal(c), endpointID, id)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusAccepted, api.FromDelivery(d))
	}
}

func handleRecoverDeliveries(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		var body api.RecoverRequest
		if !decode(c, &body) {
			return
		}
		if body.Since == nil {
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/since", Detail: "is required: an RFC 3339 date-time"}))
			return
		}
		since, err := time.Parse(time.RFC3339Nano, *body.Since)
		if err != nil {
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/since", Detail: "must be an RFC 3339 date-time"}))
			return
		}
		n, err := svc.Recover(c.Request.Context(), mustPrincipal(c), id, since)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusAccepted, api.RecoverResult{Requeued: n})
	}
}

func handleTestWebhookEndpoint(svc *webhooks.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "webhookEndpointId")
		if !ok {
			return
		}
		d, err := svc.Test(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusAccepted, api.FromDelivery(d))
	}
}
