package api

// Problem is an RFC 9457 problem details document with this API's extensions.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// OutsideContract lists the pairs a request would permit beyond the contract.
	OutsideContract []Pair `json:"outsideContract,omitempty"`
	// AffectedSubaccounts lists what a refused contract change would put outside it.
	AffectedSubaccounts []AffectedSubaccount `json:"affectedSubaccounts,omitempty"`
	// Scope names the missing scope of an insufficient-scope problem.
	Scope string `json:"scope,omitempty"`
	// CardID names the card already holding a PAN (card-exists).
	CardID *string `json:"cardId,omitempty"`
	// Pair and Permitted explain a card refused by the policy engine.
	Pair      *Pair            `json:"pair,omitempty"`
	Permitted *[]Configuration `json:"permitted,omitempty"`
	// Reason is the machine-readable reason of a refused transfer, charge or change.
	Reason string `json:"reason,omitempty"`
}

// FieldError names one refused member (Pointer) or query parameter (Parameter).
type FieldError struct {
	Pointer   *string `json:"pointer,omitempty"`
	Parameter string  `json:"parameter,omitempty"`
	Detail    string  `json:"detail"`
}
