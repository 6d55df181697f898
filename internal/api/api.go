// Package api holds the JSON bodies of the HTTP API as openapi.yaml describes them: the
// responses the server writes (httpapi converts domain values into them) and the CLI
// reads, and the problem document. It is the one definition of each for server and CLI;
// the tests keep their own copies where they check them against the spec. It holds no
// behaviour beyond encoding and imports nothing of this module.
package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Time renders as ISO 8601 UTC with milliseconds, e.g. 2024-05-01T17:08:43.810Z.
type Time time.Time

// timeLayout is Time's one form on the wire.
const timeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes t in its wire form.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timeLayout) + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 time (the server writes timeLayout).
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(v)
	return nil
}

// String is t in its wire form, as the CLI prints it.
func (t Time) String() string { return time.Time(t).UTC().Format(timeLayout) }

type Configuration struct {
	Countries []string `json:"countries"`
	Networks  []string `json:"networks"`
}

type Pair struct {
	Country string `json:"country"`
	Network string `json:"network"`
}

type Pricing struct {
	CardEnrolment int64 `json:"cardEnrolment"`
	Transaction   int64 `json:"transaction"`
}

type Contract struct {
	Configurations []Configuration `json:"configurations"`
	MaxSubaccounts int             `json:"maxSubaccounts"`
	Version        int64           `json:"version"`
	Currency       string          `json:"currency"`
	Pricing        Pricing         `json:"pricing"`
}

type Account struct {
	ID              uuid.UUID `json:"id"`
	Name            string    `json:"name"`
	Contract        Contract  `json:"contract"`
	Balance         int64     `json:"balance"`
	CreditLimit     int64     `json:"creditLimit"`
	AllocatedCredit int64     `json:"allocatedCredit"`
	AvailableCredit int64     `json:"availableCredit"`
	OverLimit       bool      `json:"overLimit"`
	CreatedAt       Time      `json:"createdAt"`
	UpdatedAt       Time      `json:"updatedAt"`
}

type AutoTopUp struct {
	Threshold int64 `json:"threshold"`
	Amount    int64 `json:"amount"`
}

type Subaccount struct {
	ID             uuid.UUID         `json:"id"`
	AccountID      uuid.UUID         `json:"accountId"`
	Name           string            `json:"name"`
	Configurations []Configuration   `json:"configurations"`
	ConfigVersion  int64             `json:"configVersion"`
	Metadata       map[string]string `json:"metadata"`
	Suspended      bool              `json:"suspended"`
	// Balance, CreditLimit and AutoTopUp are null while the subaccount uses the primary
	// balance.
	UsePrimaryAccountBalance bool       `json:"usePrimaryAccountBalance"`
	Balance                  *int64     `json:"balance"`
	CreditLimit              *int64     `json:"creditLimit"`
	OverLimit                bool       `json:"overLimit"`
	AutoTopUp                *AutoTopUp `json:"autoTopUp"`
	MaxCards                 int        `json:"maxCards"`
	CreatedAt                Time       `json:"createdAt"`
	UpdatedAt                Time       `json:"updatedAt"`
}

type Client struct {
	ClientID     string     `json:"clientId"`
	AccountID    uuid.UUID  `json:"accountId"`
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	SubaccountID *uuid.UUID `json:"subaccountId"`
	CreatedAt    Time       `json:"createdAt"`
	// RateLimit is the client's own limit (requests per second, 0 for unlimited) or
	// "default".
	RateLimit any `json:"rateLimit"`
}

type CreatedClient struct {
	Client
	ClientSecret string `json:"clientSecret"`
}

type AffectedSubaccount struct {
	ID                  uuid.UUID       `json:"id"`
	Name                string          `json:"name"`
	OutsideContract     []Pair          `json:"outsideContract"`
	Configurations      []Configuration `json:"configurations"`
	CardsPutOutOfPolicy int64           `json:"cardsPutOutOfPolicy"`
	CardsByPair         []PairCount     `json:"cardsByPair"`
}

type ContractChange struct {
	Account             Account              `json:"account"`
	DryRun              bool                 `json:"dryRun"`
	Mode                string               `json:"mode"`
	AffectedSubaccounts []AffectedSubaccount `json:"affectedSubaccounts"`
}

type Entitlement struct {
	SubaccountID  uuid.UUID `json:"subaccountId"`
	Country       string    `json:"country"`
	Network       string    `json:"network"`
	Permitted     bool      `json:"permitted"`
	Reason        string    `json:"reason"`
	DeniedBy      *string   `json:"deniedBy"`
	Configuration *int      `json:"configuration"`
}

type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}
