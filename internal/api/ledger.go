package api

// TransferRequest is the body of POST /v1/credit-transfers and /v1/balance-transfers.
type TransferRequest struct {
	From      *string `json:"from,omitempty"`
	To        *string `json:"to,omitempty"`
	Amount    *int64  `json:"amount,omitempty"`
	Reference *string `json:"reference,omitempty"`
}

// Transfer is a credit or balance transfer as made.
type Transfer struct {
	ID           string  `json:"id"`
	Amount       int64   `json:"amount"`
	From         string  `json:"from"`
	To           string  `json:"to"`
	SubaccountID *string `json:"subaccountId"`
	Reference    string  `json:"reference"`
	CreatedAt    string  `json:"createdAt"`
}

// TopUp is money added to an account's primary balance.
type TopUp struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference"`
	Balance   int64  `json:"balance"`
	CreatedAt string `json:"createdAt"`
}

// CurrencyVolume counts and sums the transactions of one currency.
type CurrencyVolume struct {
	Currency string `json:"currency"`
	Count    int64  `json:"count"`
	Volume   int64  `json:"volume"`
}

// UsageTransactions is the transactions part of a Usage.
type UsageTransactions struct {
	Count      int64            `json:"count"`
	ByCurrency []CurrencyVolume `json:"byCurrency"`
}

// UsageCharges are the charges of a Usage, in the contract currency.
type UsageCharges struct {
	CardEnrolments int64 `json:"cardEnrolments"`
	Transactions   int64 `json:"transactions"`
}

// Usage is what a subaccount did and cost over a window.
type Usage struct {
	SubaccountID  string            `json:"subaccountId"`
	Name          string            `json:"name"`
	From          string            `json:"from"`
	To            string            `json:"to"`
	Currency      string            `json:"currency"`
	Enrolments    int64             `json:"enrolments"`
	ActiveCards   int64             `json:"activeCards"`
	Transactions  UsageTransactions `json:"transactions"`
	Charges       UsageCharges      `json:"charges"`
	TotalUsage    int64             `json:"totalUsage"`
	PaidByPrimary bool              `json:"paidByPrimary"`
}
