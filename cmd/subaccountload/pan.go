package main

import (
	"strconv"
	"strings"
	"sync/atomic"
)

// panSource hands out distinct Luhn-valid 16-digit card numbers, alternately VISA (4…)
// and MASTERCARD (51…). They are made from a counter, so no two in a run are equal. They
// exist only in memory and in the requests sent to the server.
type panSource struct {
	n atomic.Uint64
}

func (s *panSource) next() string {
	n := s.n.Add(1)
	prefix := "4"
	if n%2 == 0 {
		prefix = "51"
	}
	return generatePAN(prefix, n, 16)
}

// generatePAN returns the number of the given length that starts with prefix, carries
// seq zero-padded in the digits between, and ends with its Luhn check digit. seq must fit
// in those digits.
func generatePAN(prefix string, seq uint64, length int) string {
	body := strconv.FormatUint(seq, 10)
	pad := length - 1 - len(prefix) - len(body)
	if pad < 0 {
		panic("generatePAN: sequence number too long for the card number")
	}
	payload := prefix + strings.Repeat("0", pad) + body
	return payload + string(rune('0'+luhnCheckDigit(payload)))
}

// luhnCheckDigit returns the digit that makes payload+digit pass the Luhn check.
func luhnCheckDigit(payload string) int {
	sum := 0
	double := true // the digit next to the check digit is doubled
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// luhnValid reports whether number (digits only) passes the Luhn check.
func luhnValid(number string) bool {
	if len(number) < 2 {
		return false
	}
	for i := 0; i < len(number); i++ {
		if number[i] < '0' || number[i] > '9' {
			return false
		}
	}
	return luhnCheckDigit(number[:len(number)-1]) == int(number[len(number)-1]-'0')
}
