package httpapi_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Test PANs: Luhn-valid, one per network and a few spares.
const (
	visaPAN  = "4111111111111111"
	visaPAN2 = "4012888888881881"
	mcPAN    = "5555555555554444"
	mc2PAN   = "2223003122003222"
	visaPAN3 = "4000056655665556"
)

// luhnPAN returns a Luhn-valid PAN of length n starting with prefix and carrying seq.
func luhnPAN(prefix string, seq int, n int) string {
	body := prefix + fmt.Sprintf("%0*d", n-1-len(prefix), seq)
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + strconv.Itoa((10-sum%10)%10)
}

func nextYear() int { return time.Now().Year() + 1 }

func cardBody(number, country string) map[string]any {
	return map[string]any{"number": number, "expMonth": 12, "expYear": nextYear(), "countryCode": country, "termsOfUse": true}
}

// enrol enrols a card and returns its id.
func (e *env) enrol(token, sub, number, country string) string {
	e.t.Helper()
	r := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards", token, cardBody(number, country)), 201)
	return r.json(e.t)["id"].(string)
}

var msgSeq atomic.Int64

// message is a valid network message for a card id (or, with a PAN, a card number).
func message(card string, typ string) map[string]any {
	m := map[string]any{
		// Base 36 keeps long digit runs, which the card-data guard may take for a card
		// number, out of the id.
		"networkTransactionId": fmt.Sprintf("ntid-%sx%d", strconv.FormatInt(time.Now().UnixNano(), 36), msgSeq.Add(1)),
		"type":                 typ,
		"amount":               1250,
		"currency":             "USD",
		"datetime":             "2026-11-20T10:15:30.123Z",
		"merchant":             map[string]any{"name": "Joe's Diner", "mcc": "5812", "countryCode": "USA", "city": "Austin"},
		"authCode":             "A1B2C3",
	}
	if len(card) == 36 {
		m["cardId"] = card
	} else {
		m["cardNumber"] = card
	}
	return m
}
