package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// addRoutes lists every route of the API in one place.
func addRoutes(r *gin.Engine, d Deps) {
	svc := d.Tenancy
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(d.Ready))
	r.GET("/openapi.yaml", handleOpenAPI())

	if d.Issuer != nil {
		r.GET("/.well-known/openid-configuration", handleDiscovery(d.Issuer))
		r.GET("/.well-known/oauth-authorization-server", handleDiscovery(d.Issuer))
		r.GET("/oauth2/jwks.json", handleJWKS(d.Issuer))
		r.POST("/oauth2/token", handleToken(d.Issuer, newTokenGuard(d.Limits)))
	}

	v1 := r.Group("/v1", authenticate(d.Verifier), limitClients(d.Limits, d.Issuer))
	v1.Use(strictQuery()) // one rule for every query string: no repeats, no empty values
	// Every POST under /v1 honours Idempotency-Key; idem must come last before the handler.
	idem := idempotent(d.Idempotency)

	op := v1.Group("", operator())
	op.POST("/accounts", idem, handleCreateAccount(svc))
	op.GET("/accounts", handleListAccounts(svc))
	op.GET("/accounts/:accountId", handleGetAccount(svc))
	op.PATCH("/accounts/:accountId", handlePatchAccount(svc))
	op.PUT("/accounts/:accountId/contract", handlePutContract(svc))
	op.POST("/accounts/:accountId/top-ups", idem, handleTopUp(d.Ledger))
	op.POST("/accounts/:accountId/clients", noStore(), idem, handleCreateClient(d.Issuer))
	op.GET("/accounts/:accountId/clients", handleListClients(d.Issuer))
	op.PATCH("/accounts/:accountId/clients/:clientId", handlePatchClient(d.Issuer))
	op.DELETE("/accounts/:accountId/clients/:clientId", handleDeleteClient(d.Issuer))
	op.GET("/accounts/:accountId/compliance", handleAccountCompliance(d.Compliance))

	t := v1.Group("", tenant(accountExists(svc)))
	read, write := scope(subaccounts.ScopeSubaccountsRead), scope(subaccounts.ScopeSubaccountsWrite)
	t.GET("/account", read, handleOwnAccount(svc))
	t.POST("/subaccounts", write, idem, handleCreateSubaccount(svc))
	t.GET("/subaccounts", read, handleListSubaccounts(svc))
	t.GET("/subaccounts/:subaccountId", read, handleGetSubaccount(svc))
	t.PATCH("/subaccounts/:subaccountId", write, handlePatchSubaccount(svc))
	t.DELETE("/subaccounts/:subaccountId", write, handleDeleteSubaccount(svc))
	t.GET("/subaccounts/:subaccountId/entitlements", read, handleEntitlements(svc))

	cardsRead, cardsWrite := scope(subaccounts.ScopeCardsRead), scope(subaccounts.ScopeCardsWrite)
	t.POST("/subaccounts/:subaccountId/cards", cardsWrite, idem, handleEnrolCard(d.Cards))
	t.POST("/subaccounts/:subaccountId/cards/batch", cardsWrite, idem, handleEnrolCards(d.Cards))
	t.GET("/cards", cardsRead, handleListCards(d.Cards))
	t.GET("/cards/:cardId", cardsRead, handleGetCard(d.Cards))
	t.DELETE("/cards/:cardId", cardsWrite, handleRemoveCard(d.Cards))
	t.POST("/cards/:cardId/move", cardsWrite, idem, handleMoveCard(d.Cards))

	txRead, txWrite := scope(subaccounts.ScopeTransactionsRead), scope(subaccounts.ScopeTransactionsWrite)
	t.POST("/transactions", txWrite, idem, handleIngestTransaction(d.Routing))
	t.POST("/transactions/batch", txWrite, idem, handleIngestTransactions(d.Routing))
	t.GET("/transactions", txRead, handleListTransactions(d.Routing))
	t.GET("/transactions/unrouted", txRead, handleListUnrouted(d.Routing))
	t.POST("/transactions/unrouted/:transactionId/retry", txWrite, idem, handleRetryUnrouted(d.Routing))
	t.GET("/transactions/:transactionId", txRead, handleGetTransaction(d.Routing))
	t.GET("/subaccounts/:subaccountId/transactions", txRead, handleListSubaccountTransactions(d.Routing))

	t.GET("/compliance", scope(subaccounts.ScopeComplianceRead), handleCompliance(d.Compliance))

	ledgerRead, ledgerWrite := scope(subaccounts.ScopeLedgerRead), scope(subaccounts.ScopeLedgerWrite)
	t.POST("/credit-transfers", ledgerWrite, idem, handleCreateTransfer(d.Ledger, subaccounts.KindCreditTransfer))
	t.GET("/credit-transfers", ledgerRead, handleListTransfers(d.Ledger, subaccounts.KindCreditTransfer))
	t.POST("/balance-transfers", ledgerWrite, idem, handleCreateTransfer(d.Ledger, subaccounts.KindBalanceTransfer))
	t.GET("/balance-transfers", ledgerRead, handleListTransfers(d.Ledger, subaccounts.KindBalanceTransfer))
	t.GET("/subaccounts/:subaccountId/usage", ledgerRead, handleSubaccountUsage(d.Ledger))
	t.GET("/usage", ledgerRead, handleAccountUsage(d.Ledger))

	hooksRead, hooksWrite := scope(subaccounts.ScopeWebhooksRead), scope(subaccounts.ScopeWebhooksWrite)
	t.POST("/webhook-endpoints", hooksWrite, noStore(), idem, handleCreateWebhookEndpoint(d.Webhooks))
	t.GET("/webhook-endpoints", hooksRead, handleListWebhookEndpoints(d.Webhooks))
	t.GET("/webhook-endpoints/:webhookEndpointId", hooksRead, handleGetWebhookEndpoint(d.Webhooks))
	t.PATCH("/webhook-endpoints/:webhookEndpointId", hooksWrite, handlePatchWebhookEndpoint(d.Webhooks))
	t.DELETE("/webhook-endpoints/:webhookEndpointId", hooksWrite, handleDeleteWebhookEndpoint(d.Webhooks))
	t.POST("/webhook-endpoints/:webhookEndpointId/rotate-secret", hooksWrite, noStore(), idem, handleRotateWebhookSecret(d.Webhooks))
	t.POST("/webhook-endpoints/:webhookEndpointId/test", hooksWrite, idem, handleTestWebhookEndpoint(d.Webhooks))
	t.GET("/webhook-endpoints/:webhookEndpointId/deliveries", hooksRead, handleListDeliveries(d.Webhooks))
	t.POST("/webhook-endpoints/:webhookEndpointId/deliveries/:deliveryId/resend", hooksWrite, idem, handleResendDelivery(d.Webhooks))
	t.POST("/webhook-endpoints/:webhookEndpointId/recover", hooksWrite, idem, handleRecoverDeliveries(d.Webhooks))

	auditRead := scope(subaccounts.ScopeAuditRead)
	t.GET("/audit-events", auditRead, handleListAuditEvents(d.Audit))
	t.GET("/audit-events/verify", auditRead, handleVerifyAudit(d.Audit))
}
