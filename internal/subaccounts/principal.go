package subaccounts

import (
	"slices"

	"github.com/google/uuid"
)

// Scopes understood by the service.
const (
	ScopeSubaccountsRead   = "subaccounts:read"
	ScopeSubaccountsWrite  = "subaccounts:write"
	ScopeCardsRead         = "cards:read"
	ScopeCardsWrite        = "cards:write"
	ScopeTransactionsRead  = "transactions:read"
	ScopeTransactionsWrite = "transactions:write"
	ScopeComplianceRead    = "compliance:read"
	ScopeAuditRead         = "audit:read"
	ScopeAccountsAdmin     = "accounts:admin"
	ScopeLedgerRead        = "ledger:read"
	ScopeLedgerWrite       = "ledger:write"
	ScopeWebhooksRead      = "webhooks:read"
	ScopeWebhooksWrite     = "webhooks:write"
)

// TenantScopes are the scopes an account's own clients may hold.
var TenantScopes = []string{
	ScopeSubaccountsRead, ScopeSubaccountsWrite,
	ScopeCardsRead, ScopeCardsWrite,
	ScopeTransactionsRead, ScopeTransactionsWrite,
	ScopeComplianceRead,
	ScopeLedgerRead, ScopeLedgerWrite,
	ScopeAuditRead,
	ScopeWebhooksRead, ScopeWebhooksWrite,
}

// Principal is the verified caller of one request, built only from a verified token.
type Principal struct {
	Subject  string
	ClientID string
	// AccountID is the tenant; uuid.Nil for the platform operator.
	AccountID uuid.UUID
	// SubaccountID, when set, confines the caller to that one subaccount.
	SubaccountID *uuid.UUID
	Scopes       []string
}

// HasScope reports whether the principal was granted scope.
func (p Principal) HasScope(scope string) bool {
	return slices.Contains(p.Scopes, scope)
}

// Confined reports whether the principal may only see one subaccount.
func (p Principal) Confined() bool { return p.SubaccountID != nil }

// Sees reports whether a confined principal may see subaccount id; unconfined ones see all
// of their account.
func (p Principal) Sees(id uuid.UUID) bool {
	return p.SubaccountID == nil || *p.SubaccountID == id
}

// Narrow narrows a subaccount filter to what the principal may see: a confined client's
// own subaccount. visible is false when the filter names a subaccount it may not see, and
// the answer is then an empty list (as for an unknown id).
func (p Principal) Narrow(filter *uuid.UUID) (narrowed *uuid.UUID, visible bool) {
	if !p.Confined() {
		return filter, true
	}
	if filter != nil && *filter != *p.SubaccountID {
		return nil, false
	}
	return p.SubaccountID, true
}

// ConfinedWrite refuses a write by a client confined to a suspended subaccount: it may
// read, not write, until the subaccount is reactivated.
func ConfinedWrite(p Principal, sub Subaccount) error {
	if p.Confined() && sub.Suspended {
		return Errorf(CodeSuspended, "The subaccount is suspended: a client confined to it can read but not write until it is reactivated.")
	}
	return nil
}
