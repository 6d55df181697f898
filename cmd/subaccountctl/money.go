package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// Money in the API is an int64 of minor units (cents for EUR, yen for JPY). The CLI
// reads and prints those integers exactly as they are and shows a decimal form beside
// them, computed with integer arithmetic: a float64 holds only 53 bits, so amounts near
// the API's 10^15 limit would come out wrong.

// minorUnitExponents lists the ISO 4217 currencies whose minor unit is not the
// hundredth; every other currency is shown with 2 decimals.
var minorUnitExponents = map[string]int{
	// No minor unit.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Thousandths.
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// Ten-thousandths.
	"CLF": 4, "UYW": 4,
}

// currencyExponent is the number of decimals of a currency's minor unit: 2 unless the
// table says otherwise.
func currencyExponent(currency string) int {
	if e, ok := minorUnitExponents[strings.ToUpper(currency)]; ok {
		return e
	}
	return 2
}

// formatMinor writes amount minor units as a decimal number with exp decimals, e.g.
// formatMinor(-1, 2) == "-0.01" and formatMinor(1234, 0) == "1234".
func formatMinor(amount int64, exp int) string {
	neg := amount < 0
	// The magnitude as uint64 also holds that of math.MinInt64, which -amount does not.
	mag := uint64(amount)
	if neg {
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// formatMoney shows an amount in its currency, e.g. "12.50 EUR". Without a currency
// (the account could not be read) it says the number is in minor units.
func formatMoney(amount int64, currency string) string {
	if currency == "" {
		return strconv.FormatInt(amount, 10) + " minor units"
	}
	return formatMinor(amount, currencyExponent(currency)) + " " + currency
}

// formatMoneyFull is formatMoney with the exact minor units beside the decimal form, for
// key-value output: "12.50 EUR (1250 minor units)".
func formatMoneyFull(amount int64, currency string) string {
	if currency == "" {
		return formatMoney(amount, currency)
	}
	return fmt.Sprintf("%s (%d minor units)", formatMoney(amount, currency), amount)
}

var digitsOnly = regexp.MustCompile(`^[0-9]+$`)

// parseAmount reads a positive amount of minor units. A decimal point is refused rather
// than guessed at: "12.50" could mean 1250 cents or a typo, and money must not be moved
// on a guess.
func parseAmount(flagName, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, usagef("--%s is required: a positive integer of minor units (1250 is 12.50 EUR)", flagName)
	}
	if !digitsOnly.MatchString(s) {
		return 0, usagef("--%s must be a positive integer of minor units, e.g. 1250 for 12.50 EUR; got %q", flagName, s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, usagef("--%s: %q is too large", flagName, s)
	}
	if v == 0 {
		return 0, usagef("--%s must be positive", flagName)
	}
	return v, nil
}

// parseSignedAmount reads an integer of minor units that may be negative or zero (an
// auto top-up threshold).
func parseSignedAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	body := strings.TrimPrefix(s, "-")
	if !digitsOnly.MatchString(body) {
		return 0, fmt.Errorf("%q is not an integer of minor units", s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}

// account is the API's Account resource as GET /v1/account shows it to a tenant.
type account = api.Account

// ownAccount reads GET /v1/account once per invocation.
func (a *app) ownAccount(ctx context.Context) (*account, []byte, error) {
	if a.acct != nil {
		return a.acct, a.acctRaw, nil
	}
	api, err := a.client(ctx)
	if err != nil {
		return nil, nil, err
	}
	var acct account
	raw, err := api.do(ctx, http.MethodGet, "/v1/account", nil, nil, &acct)
	if err != nil {
		return nil, nil, err
	}
	if acct.ID == "" {
		return nil, nil, errors.New("GET /v1/account: the answer has no account id")
	}
	a.acct, a.acctRaw = &acct, raw
	return a.acct, raw, nil
}

// accountForDisplay reads the account for what output only decorates with it (the
// currency, "primary" in place of the account id). When it cannot be read (a client
// without subaccounts:read, say) the command still does its work and shows bare minor
// units and ids, after one warning on stderr.
func (a *app) accountForDisplay(ctx context.Context) *account {
	acct, _, err := a.ownAccount(ctx)
	if err != nil {
		fmt.Fprintf(a.stderr, "subaccountctl: warning: cannot read the account for its currency (%s); amounts are shown in minor units only\n",
			redactDigits(err.Error()))
		return nil
	}
	return acct
}

// currencyOf is the account's currency, or "" for a nil account.
func currencyOf(acct *account) string {
	if acct == nil {
		return ""
	}
	return acct.Contract.Currency
}
