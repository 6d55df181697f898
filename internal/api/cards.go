package api

// Card is the Card resource. It never carries the full card number.
type Card struct {
	ID           string            `json:"id"`
	AccountID    string            `json:"accountId"`
	SubaccountID string            `json:"subaccountId"`
	Network      string            `json:"network"`
	CountryCode  string            `json:"countryCode"`
	FirstNumbers string            `json:"firstNumbers"`
	LastNumbers  string            `json:"lastNumbers"`
	ExpMonth     int               `json:"expMonth"`
	ExpYear      int               `json:"expYear"`
	Status       string            `json:"status"`
	PolicyStatus string            `json:"policyStatus"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    string            `json:"createdAt"`
	UpdatedAt    string            `json:"updatedAt"`
}

// CardEnrolment is the body of POST /v1/subaccounts/{id}/cards and one item of a batch.
// Number is the PAN: it lives only in memory while a request is sent or handled, and the
// type formats as a placeholder, so that no %v in an error or a log line can print it.
type CardEnrolment struct {
	Number      *string           `json:"number,omitempty"`
	ExpMonth    *int              `json:"expMonth,omitempty"`
	ExpYear     *int              `json:"expYear,omitempty"`
	CountryCode *string           `json:"countryCode,omitempty"`
	TermsOfUse  *bool             `json:"termsOfUse,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

func (CardEnrolment) String() string   { return "CardEnrolment{number hidden}" }
func (CardEnrolment) GoString() string { return "CardEnrolment{number hidden}" }

// CardBatchRequest is the body of POST /v1/subaccounts/{id}/cards/batch as a client sends
// it. The server reads each item on its own instead (so that a malformed one is refused
// in its own result), which is why it does not decode into this type.
type CardBatchRequest struct {
	Cards []CardEnrolment `json:"cards"`
}

// CardMove is the body of POST /v1/cards/{id}/move.
type CardMove struct {
	SubaccountID *string `json:"subaccountId,omitempty"`
}

// PairCount counts the cards of one (country, network) pair (the spec's CardPairCount).
type PairCount struct {
	Country string `json:"country"`
	Network string `json:"network"`
	Cards   int64  `json:"cards"`
}

// SubaccountDryRun answers a subaccount change made with dryRun: what it would do,
// unsaved.
type SubaccountDryRun struct {
	DryRun              bool        `json:"dryRun"`
	Subaccount          Subaccount  `json:"subaccount"`
	CardsPutOutOfPolicy int64       `json:"cardsPutOutOfPolicy"`
	CardsByPair         []PairCount `json:"cardsByPair"`
}

// Merchant is where a transaction was made.
type Merchant struct {
	Name        string `json:"name"`
	MCC         string `json:"mcc"`
	CountryCode string `json:"countryCode"`
	City        string `json:"city,omitempty"`
}

// LifecycleEntry is one routed transaction in another's lifecycle (the spec's
// TransactionLifecycleEntry).
type LifecycleEntry struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	Datetime     string `json:"datetime"`
	SubaccountID string `json:"subaccountId"`
}

// Transaction is a routed Transaction.
type Transaction struct {
	ID                   string           `json:"id"`
	AccountID            string           `json:"accountId"`
	SubaccountID         string           `json:"subaccountId"`
	CardID               string           `json:"cardId"`
	NetworkTransactionID string           `json:"networkTransactionId"`
	Type                 string           `json:"type"`
	Amount               int64            `json:"amount"`
	Currency             string           `json:"currency"`
	Datetime             string           `json:"datetime"`
	Merchant             Merchant         `json:"merchant"`
	AuthCode             string           `json:"authCode,omitempty"`
	RoutedAt             string           `json:"routedAt"`
	ConfigVersion        int64            `json:"configVersion"`
	PolicyStatus         string           `json:"policyStatus"`
	SubaccountSuspended  bool             `json:"subaccountSuspended"`
	ReceivedAt           string           `json:"receivedAt"`
	Lifecycle            []LifecycleEntry `json:"lifecycle,omitempty"`
}

// Unrouted is a transaction message that could not be routed (the spec's
// UnroutedTransaction).
type Unrouted struct {
	ID                   string   `json:"id"`
	AccountID            string   `json:"accountId"`
	NetworkTransactionID string   `json:"networkTransactionId"`
	Type                 string   `json:"type"`
	Amount               int64    `json:"amount"`
	Currency             string   `json:"currency"`
	Datetime             string   `json:"datetime"`
	Merchant             Merchant `json:"merchant"`
	AuthCode             string   `json:"authCode,omitempty"`
	CardID               *string  `json:"cardId,omitempty"`
	Reason               string   `json:"reason"`
	ReceivedAt           string   `json:"receivedAt"`
	Status               string   `json:"status"`
}

// SubaccountOutside is a subaccount whose configurations go beyond the contract (the
// spec's SubaccountOutsideContract).
type SubaccountOutside struct {
	SubaccountID    string `json:"subaccountId"`
	Name            string `json:"name"`
	OutsideContract []Pair `json:"outsideContract"`
}

// CardViolation counts active cards outside their subaccount's configurations for one
// pair (the spec's CardsOutsideConfiguration).
type CardViolation struct {
	SubaccountID string   `json:"subaccountId"`
	Country      string   `json:"country"`
	Network      string   `json:"network"`
	Cards        int64    `json:"cards"`
	CardIDs      []string `json:"cardIds"`
	List         string   `json:"list"`
}

// TransactionViolation counts out-of-policy transactions for one pair (the spec's
// TransactionsOutOfPolicy).
type TransactionViolation struct {
	SubaccountID string `json:"subaccountId"`
	Country      string `json:"country"`
	Network      string `json:"network"`
	Transactions int64  `json:"transactions"`
}

// ComplianceReport is an account's compliance report. Compliant is a pointer so that a
// client can refuse an answer that lacks it.
type ComplianceReport struct {
	AccountID string `json:"accountId"`
	Compliant *bool  `json:"compliant"`
	CheckedAt string `json:"checkedAt"`
	Window    struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"window"`
	Summary struct {
		Subaccounts                int   `json:"subaccounts"`
		ActiveCards                int64 `json:"activeCards"`
		SubaccountsOutsideContract int   `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration  int64 `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy    int64 `json:"transactionsOutOfPolicy"`
	} `json:"summary"`
	Violations struct {
		SubaccountsOutsideContract []SubaccountOutside    `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration  []CardViolation        `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy    []TransactionViolation `json:"transactionsOutOfPolicy"`
	} `json:"violations"`
}

// CardOutcome is the result of one item of a card batch (the spec's CardBatchItem): a
// card or a problem.
type CardOutcome struct {
	Index   int      `json:"index"`
	Status  int      `json:"status"`
	Card    *Card    `json:"card,omitempty"`
	Problem *Problem `json:"problem,omitempty"`
}

// CardBatch answers a card batch (the spec's CardBatchResult).
type CardBatch struct {
	Results []CardOutcome `json:"results"`
	Summary struct {
		Enrolled int `json:"enrolled"`
		Failed   int `json:"failed"`
	} `json:"summary"`
}

// MessageOutcome is the result of one message of a transaction batch (the spec's
// TransactionBatchItem).
type MessageOutcome struct {
	Index       int          `json:"index"`
	Status      int          `json:"status"`
	Transaction *Transaction `json:"transaction,omitempty"`
	Unrouted    *Unrouted    `json:"unrouted,omitempty"`
	Problem     *Problem     `json:"problem,omitempty"`
}

// MessageBatch answers a transaction batch (the spec's TransactionBatchResult).
type MessageBatch struct {
	Results []MessageOutcome `json:"results"`
	Summary struct {
		Routed     int `json:"routed"`
		Duplicates int `json:"duplicates"`
		Unrouted   int `json:"unrouted"`
		Rejected   int `json:"rejected"`
	} `json:"summary"`
}
