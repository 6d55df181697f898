package api

import "github.com/google/uuid"

type Transfer struct {
	ID           uuid.UUID  `json:"id"`
	Amount       int64      `json:"amount"`
	From         string     `json:"from"`
	To           string     `json:"to"`
	SubaccountID *uuid.UUID `json:"subaccountId"`
	Reference    string     `json:"reference"`
	CreatedAt    Time       `json:"createdAt"`
}

type TopUp struct {
	ID        uuid.UUID `json:"id"`
	AccountID uuid.UUID `json:"accountId"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reference string    `json:"reference"`
	Balance   int64     `json:"balance"`
	CreatedAt Time      `json:"createdAt"`
}

type CurrencyVolume struct {
	Currency string `json:"currency"`
	Count    int64  `json:"count"`
	Volume   int64  `json:"volume"`
}

type UsageTransactions struct {
	Count      int64            `json:"count"`
	ByCurrency []CurrencyVolume `json:"byCurrency"`
}

type UsageCharges struct {
	CardEnrolments int64 `json:"cardEnrolments"`
	Transactions   int64 `json:"transactions"`
}

type Usage struct {
	SubaccountID  uuid.UUID         `json:"subaccountId"`
	Name          string            `json:"name"`
	From          Time              `json:"from"`
	To            Time              `json:"to"`
	Currency      string            `json:"currency"`
	Enrolments    int64             `json:"enrolments"`
	ActiveCards   int64             `json:"activeCards"`
	Transactions  UsageTransactions `json:"transactions"`
	Charges       UsageCharges      `json:"charges"`
	TotalUsage    int64             `json:"totalUsage"`
	PaidByPrimary bool              `json:"paidByPrimary"`
}
