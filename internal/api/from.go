package api

import (
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// The From functions are the one conversion of each domain value into its resource, so
// a response and an event's data (internal/events) are the same document.

// FromConfigurations is the wire form of configurations.
func FromConfigurations(cs []policy.Configuration) []Configuration {
	out := make([]Configuration, len(cs))
	for i, c := range cs {
		out[i] = Configuration{Countries: c.Countries, Networks: c.Networks}
	}
	return out
}

// FromPair is the wire form of a (country, network) pair.
func FromPair(p policy.Pair) Pair {
	return Pair{Country: p.Country, Network: p.Network.String()}
}

// FromAccount is the account resource.
func FromAccount(a subaccounts.Account) Account {
	return Account{
		ID:   a.ID.String(),
		Name: a.Name,
		Contract: Contract{
			Configurations: FromConfigurations(a.Contract.Configurations),
			MaxSubaccounts: a.Contract.MaxSubaccounts,
			Version:        a.Contract.Version,
			Currency:       a.Contract.Currency,
			Pricing:        Pricing{CardEnrolment: a.Contract.Pricing.CardEnrolment, Transaction: a.Contract.Pricing.Transaction},
		},
		Balance:         a.Balance,
		CreditLimit:     a.CreditLimit,
		AllocatedCredit: a.AllocatedCredit,
		AvailableCredit: a.AvailableCredit(),
		OverLimit:       a.OverLimit,
		CreatedAt:       Time(a.CreatedAt),
		UpdatedAt:       Time(a.UpdatedAt),
	}
}

// FromSubaccount is the subaccount resource; the balance fields are present only when it
// keeps its own balance.
func FromSubaccount(s subaccounts.Subaccount) Subaccount {
	v := Subaccount{
		ID:                       s.ID.String(),
		AccountID:                s.AccountID.String(),
		Name:                     s.Name,
		Configurations:           FromConfigurations(s.Configurations),
		ConfigVersion:            s.ConfigVersion,
		Metadata:                 s.Metadata,
		Suspended:                s.Suspended,
		UsePrimaryAccountBalance: s.UsePrimaryBalance,
		OverLimit:                s.OverLimit,
		MaxCards:                 s.MaxCards,
		CreatedAt:                Time(s.CreatedAt),
		UpdatedAt:                Time(s.UpdatedAt),
	}
	if !s.UsePrimaryBalance {
		balance, credit := s.Balance, s.CreditLimit
		v.Balance, v.CreditLimit = &balance, &credit
		v.AutoTopUp = &AutoTopUp{Threshold: s.AutoTopUp.Threshold, Amount: s.AutoTopUp.Amount}
	}
	return v
}

// FromCard is the only way a card leaves the service: the fingerprint stays behind.
func FromCard(c subaccounts.Card) Card {
	md := c.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return Card{
		ID: c.ID.String(), AccountID: c.AccountID.String(), SubaccountID: c.SubaccountID.String(),
		Network: c.Network.String(), CountryCode: c.CountryCode,
		FirstNumbers: c.FirstNumbers, LastNumbers: c.LastNumbers,
		ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Status: string(c.Status), PolicyStatus: string(c.PolicyStatus), Metadata: md,
		CreatedAt: Time(c.CreatedAt), UpdatedAt: Time(c.UpdatedAt),
	}
}

// FromPairCounts is the wire form of card counts by pair.
func FromPairCounts(pcs []subaccounts.PairCount) []PairCount {
	out := make([]PairCount, len(pcs))
	for i, pc := range pcs {
		out[i] = PairCount{Country: pc.Pair.Country, Network: pc.Pair.Network.String(), Cards: pc.Cards}
	}
	return out
}

// FromMerchant is the wire form of a transaction's merchant.
func FromMerchant(m subaccounts.Merchant) Merchant {
	return Merchant{Name: m.Name, MCC: m.MCC, CountryCode: m.CountryCode, City: m.City}
}

// FromTransaction is the routed transaction resource.
func FromTransaction(t subaccounts.Transaction) Transaction {
	return Transaction{
		ID: t.ID.String(), AccountID: t.AccountID.String(), SubaccountID: t.SubaccountID.String(), CardID: t.CardID.String(),
		NetworkTransactionID: t.NetworkTransactionID, Type: string(t.Type),
		Amount: t.Amount, Currency: t.Currency, Datetime: Time(t.Datetime),
		Merchant: FromMerchant(t.Merchant), AuthCode: t.AuthCode,
		RoutedAt: Time(t.RoutedAt), ConfigVersion: t.ConfigVersion,
		PolicyStatus: string(t.PolicyStatus), SubaccountSuspended: t.SubaccountSuspended, ReceivedAt: Time(t.ReceivedAt),
	}
}

// FromUnrouted is the resource of a message held in the unrouted queue.
func FromUnrouted(t subaccounts.Transaction) Unrouted {
	return Unrouted{
		ID: t.ID.String(), AccountID: t.AccountID.String(), NetworkTransactionID: t.NetworkTransactionID, Type: string(t.Type),
		Amount: t.Amount, Currency: t.Currency, Datetime: Time(t.Datetime),
		Merchant: FromMerchant(t.Merchant), AuthCode: t.AuthCode, CardID: IDPtr(t.RequestedCardID),
		Reason: t.UnroutedReason, ReceivedAt: Time(t.ReceivedAt), Status: "unrouted",
	}
}

// FromTransfer is the resource of a credit or balance transfer.
func FromTransfer(e subaccounts.Entry) Transfer {
	return Transfer{
		ID: e.ID.String(), Amount: e.Amount, From: e.From, To: e.To, SubaccountID: IDPtr(e.SubaccountID),
		Reference: e.Reference, CreatedAt: Time(e.CreatedAt),
	}
}

// FromWebhookEndpoint is the endpoint resource, without its secrets.
func FromWebhookEndpoint(e subaccounts.WebhookEndpoint) WebhookEndpoint {
	v := WebhookEndpoint{
		ID: e.ID.String(), URL: e.URL, Description: e.Description, SubaccountID: IDPtr(e.SubaccountID),
		EventTypes: e.EventTypes, Status: "enabled", SecretRotatingUntil: TimePtr(e.PreviousSecretExpiresAt),
		Version: e.Version, CreatedAt: Time(e.CreatedAt), UpdatedAt: Time(e.UpdatedAt),
	}
	if v.EventTypes == nil {
		v.EventTypes = []string{}
	}
	if e.Disabled {
		reason := e.DisabledReason
		v.Status, v.DisabledReason = "disabled", &reason
	}
	return v
}

// IDPtr is id in its wire form, or nil.
func IDPtr(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}

// IDStrings are ids in their wire form.
func IDStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// FromDelivery is the delivery resource, attempts included.
func FromDelivery(d subaccounts.Delivery) Delivery {
	v := Delivery{
		ID: d.ID.String(), EndpointID: d.EndpointID.String(), EventID: d.EventID.String(), EventType: d.EventType,
		Status: string(d.Status), Attempts: make([]Attempt, len(d.History)),
		CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt),
	}
	if d.Status == subaccounts.DeliveryPending {
		v.NextAttemptAt = TimePtr(d.NextAttemptAt)
	}
	for i, a := range d.History {
		v.Attempts[i] = Attempt{At: Time(a.At), LatencyMs: a.Latency.Milliseconds(), ResponseBody: a.ResponseBody}
		if a.StatusCode != 0 {
			code := a.StatusCode
			v.Attempts[i].StatusCode = &code
		}
		if a.Error != "" {
			msg := a.Error
			v.Attempts[i].Error = &msg
		}
	}
	return v
}
