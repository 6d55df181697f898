package subaccounts

import (
	"time"

	"github.com/google/uuid"
)

// EntryKind is what a journal entry records.
type EntryKind string

// Journal entry kinds.
const (
	// KindTopUp is money the customer paid in, raising the primary balance.
	KindTopUp EntryKind = "top-up"
	// KindCreditLimit grants (or takes back) primary credit under the contract.
	KindCreditLimit EntryKind = "credit-limit"
	// KindCreditTransfer moves credit-limit headroom between the primary and a subaccount.
	KindCreditTransfer EntryKind = "credit-transfer"
	// KindBalanceTransfer moves balance between the primary and a subaccount.
	KindBalanceTransfer EntryKind = "balance-transfer"
	// KindCharge is a fee for an enrolment or a routed transaction.
	KindCharge EntryKind = "charge"
)

// LedgerName names what an entry moves: money or credit limit.
type LedgerName string

// The two ledgers.
const (
	LedgerBalance LedgerName = "balance"
	LedgerCredit  LedgerName = "credit"
)

// Parties of the journal besides the account (the primary, named by the account id) and
// its subaccounts (named by their ids).
const (
	// PartyExternal is the customer outside the service: top-ups come from it, and
	// the primary's credit limit is granted by it.
	PartyExternal = "external"
	// PartyRevenue receives every charge.
	PartyRevenue = "revenue"
)

// ChargeType names what a charge is for.
type ChargeType string

// Charge types, priced by the contract.
const (
	ChargeCardEnrolment ChargeType = "card-enrolment"
	ChargeTransaction   ChargeType = "transaction"
)

// AutoTopUpReference is the reference of every automatic top-up transfer.
const AutoTopUpReference = "auto top-up"

// Entry is one row of the double-entry journal: Amount moves From one party To another on
// one ledger. Summing the entries gives every balance and every credit limit.
type Entry struct {
	ID        uuid.UUID
	AccountID uuid.UUID
	Kind      EntryKind
	Ledger    LedgerName
	From      string
	To        string
	Amount    int64
	// SubaccountID is the subaccount side of a transfer, or the subaccount whose usage a
	// charge is (also when the primary paid it).
	SubaccountID *uuid.UUID
	Reference    string
	ChargeType   ChargeType
	// SubjectID is the card or transaction a charge is for.
	SubjectID *uuid.UUID
	CreatedAt time.Time
}

// AuditView is the entry as the audit log records it.
func (e Entry) AuditView() any {
	return map[string]any{
		"id": e.ID, "kind": e.Kind, "ledger": e.Ledger, "from": e.From, "to": e.To,
		"amount": e.Amount, "reference": e.Reference, "createdAt": e.CreatedAt,
	}
}

// EntryFilter narrows a journal listing. Zero fields do not filter.
type EntryFilter struct {
	Kinds        []EntryKind
	SubaccountID *uuid.UUID
	// From and To bound createdAt to [From, To).
	From, To time.Time
}

// Position is what the journal says one party holds on one ledger.
type Position struct {
	Party  string
	Ledger LedgerName
	Amount int64
}

// UsageCounts are the raw aggregates of one subaccount over a window, as the database
// counts them.
type UsageCounts struct {
	SubaccountID uuid.UUID
	Enrolments   int64
	ActiveCards  int64
	Transactions []CurrencyVolume
	Charges      map[ChargeType]int64
}

// CurrencyVolume counts routed messages of one currency and sums their amounts.
type CurrencyVolume struct {
	Currency string
	Count    int64
	Volume   int64
}

// Facts are facts about a change that no domain value carries, recorded as they are.
type Facts map[string]any

// AuditView records the facts as they are.
func (f Facts) AuditView() any { return map[string]any(f) }

// MaxAmount bounds any one amount (a message's, a transfer's, a top-up's, a credit
// limit): 10^15 minor units, beyond any real one.
const MaxAmount = 1_000_000_000_000_000
