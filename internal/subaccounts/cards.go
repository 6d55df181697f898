package subaccounts

import (
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/policy"
)

// CardStatus is whether a card is enrolled.
type CardStatus string

// Card statuses.
const (
	CardActive  CardStatus = "active"
	CardRemoved CardStatus = "removed"
)

// PolicyStatus says whether a card (or a transaction when it was routed) was inside its
// subaccount's configuration.
type PolicyStatus string

// Policy statuses.
const (
	InPolicy    PolicyStatus = "in-policy"
	OutOfPolicy PolicyStatus = "out-of-policy"
)

// Card is an enrolled payment card. It never holds the PAN: only the first six and last
// four digits and a keyed fingerprint that identifies the same PAN within one account.
type Card struct {
	ID           uuid.UUID
	AccountID    uuid.UUID
	SubaccountID uuid.UUID
	Network      policy.Network
	CountryCode  string
	FirstNumbers string
	LastNumbers  string
	ExpMonth     int
	ExpYear      int
	// Fingerprint is HMAC-SHA256 of the PAN under the account's key of version
	// FingerprintKeyVersion. It never leaves the service.
	Fingerprint           []byte
	FingerprintKeyVersion int
	Status                CardStatus
	PolicyStatus          PolicyStatus
	Metadata              map[string]string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Pair is the card's (issuing country, network) pair, which the policy engine decides on.
func (c Card) Pair() policy.Pair { return policy.Pair{Country: c.CountryCode, Network: c.Network} }

// CardFilter narrows a card list. Empty fields do not filter.
type CardFilter struct {
	SubaccountID *uuid.UUID
	Network      string
	Country      string
	Status       CardStatus
	PolicyStatus PolicyStatus
}

// PairCount counts the active cards of one (country, network) pair.
type PairCount struct {
	Pair  policy.Pair
	Cards int64
}

// FingerprintKey records a version of the card fingerprint master key by its check value
// alone, so a changed key under an unchanged version is caught at start-up. Secret is
// set only in databases of earlier releases, which kept the key they generated there;
// this release moves it out (see GeneratedFingerprintKey) and never writes it.
type FingerprintKey struct {
	Version   int
	KeyCheck  string
	Secret    []byte
	CreatedAt time.Time
}

// TransactionType is the kind of a network message.
type TransactionType string

// Transaction types, in lifecycle order.
const (
	TxAuth     TransactionType = "auth"
	TxClearing TransactionType = "clearing"
	TxRefund   TransactionType = "refund"
	TxReversal TransactionType = "reversal"
)

// RoutingStatus says whether a message reached a bucket.
type RoutingStatus string

// Routing statuses.
const (
	Routed   RoutingStatus = "routed"
	Unrouted RoutingStatus = "unrouted"
)

// Reasons a message waits in the unrouted queue.
const (
	ReasonCardUnknown = "card-unknown"
	ReasonCardRemoved = "card-removed"
)

// Merchant is where a transaction happened.
type Merchant struct {
	Name        string
	MCC         string
	CountryCode string
	City        string
}

// Transaction is one network message. Every message ever accepted is one row, unique by
// (account, network transaction id, type): routed into its card's bucket, or waiting in
// the unrouted queue with its reason until a retry routes it.
type Transaction struct {
	ID                   uuid.UUID
	AccountID            uuid.UUID
	NetworkTransactionID string
	Type                 TransactionType
	Amount               int64
	Currency             string
	Datetime             time.Time
	Merchant             Merchant
	AuthCode             string
	ReceivedAt           time.Time

	Routing RoutingStatus
	// UnroutedReason is set while Routing is Unrouted.
	UnroutedReason string
	// RequestedCardID is the card id the message named, if it named one.
	RequestedCardID *uuid.UUID
	// CardFingerprint is kept while a message that named a PAN is unrouted, so a retry can
	// find the card once it is enrolled. It is cleared when the message is routed.
	CardFingerprint []byte

	// Set once routed.
	SubaccountID  uuid.UUID
	CardID        uuid.UUID
	CardCountry   string
	CardNetwork   policy.Network
	RoutedAt      time.Time
	ConfigVersion int64
	PolicyStatus  PolicyStatus
	// SubaccountSuspended flags a message routed into a suspended subaccount: network
	// messages are never refused, so it is routed all the same.
	SubaccountSuspended bool
}

// TransactionKey is what makes a message unique within an account.
type TransactionKey struct {
	NetworkTransactionID string
	Type                 TransactionType
}

// Key returns the message's uniqueness key.
func (t Transaction) Key() TransactionKey {
	return TransactionKey{NetworkTransactionID: t.NetworkTransactionID, Type: t.Type}
}

// GroupQuery names what routing one account's messages needs to read: the keys of the
// messages (to find those stored before), the cards they name by id and the
// fingerprints of those they name by card number.
type GroupQuery struct {
	Keys         []TransactionKey
	CardIDs      []uuid.UUID
	Fingerprints [][]byte
}

// GroupRead is what a GroupQuery found, read in the transaction that writes the group.
type GroupRead struct {
	// Account is nil when the account does not exist.
	Account *Account
	// Stored are the account's messages with any of the keys.
	Stored []Transaction
	// Cards are the cards with any of the ids (active or removed) and the active cards
	// with any of the fingerprints.
	Cards []Card
	// Subaccounts are the live subaccounts of those cards; a card whose subaccount is
	// missing here points at a deleted one.
	Subaccounts []Subaccount
}

// TransactionFilter narrows a transaction list. Zero fields do not filter.
type TransactionFilter struct {
	Routing      RoutingStatus
	SubaccountID *uuid.UUID
	CardID       *uuid.UUID
	Type         TransactionType
	// From is inclusive and To exclusive, on Datetime.
	From, To time.Time
}

// SubaccountPair is one (subaccount, pair) combination, e.g. a subaccount permitting a
// pair its contract does not.
type SubaccountPair struct {
	SubaccountID uuid.UUID
	Pair         policy.Pair
}

// CardViolation is a group of active cards whose pair their subaccount does not permit.
type CardViolation struct {
	SubaccountID uuid.UUID
	Pair         policy.Pair
	Cards        int64
	// SampleIDs are the first card ids of the group in id order.
	SampleIDs []uuid.UUID
}

// TransactionViolation counts out-of-policy transactions of one group in a window.
type TransactionViolation struct {
	SubaccountID uuid.UUID
	Pair         policy.Pair
	Transactions int64
}

// SubaccountKey names one subaccount of one account.
type SubaccountKey struct{ AccountID, SubaccountID uuid.UUID }

// EnrolmentRead is what an enrolment into one subaccount reads: the account and the
// live subaccount, or Err (not found).
type EnrolmentRead struct {
	Account    Account
	Subaccount Subaccount
	Err        error
}
