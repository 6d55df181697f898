package main

import (
	"reflect"
	"strings"
	"testing"
)

const (
	visaPAN = "4111111111111111"
	mcPAN   = "5555555555554444"
)

// TestParseCardsCSV checks the header-less and header forms, clean-up of values, and
// that every bad row is reported by its row number and reason without its values.
func TestParseCardsCSV(t *testing.T) {
	wantCards := []cardEnrolment{
		enrolment(visaPAN, 12, 2030, "USA"),
		enrolment(mcPAN, 1, 2031, "CAN"),
	}
	inputs := map[string]string{
		"no header":                 visaPAN + ",12,2030,USA\n5555 5555 5555 4444,01,2031,can\n",
		"header":                    "number,expMonth,expYear,countryCode\n" + visaPAN + ",12,2030,USA\n5555-5555-5555-4444,1,2031,CAN\n",
		"header in another order":   "\ufeffCountry Code,exp_year,EXPMONTH,pan\r\nUSA,2030,12," + visaPAN + "\r\nCAN,2031,1," + mcPAN + "\r\n",
		"blank lines and no final ": "\n" + visaPAN + ",12,2030,USA\n\n" + mcPAN + ",1,2031,CAN",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			cards, bad, err := parseCardsCSV(strings.NewReader(in))
			if err != nil || len(bad) != 0 {
				t.Fatalf("err %v, bad %+v", err, bad)
			}
			var got []cardEnrolment
			for _, c := range cards {
				got = append(got, c.card)
			}
			if !reflect.DeepEqual(got, wantCards) {
				t.Errorf("cards = %#v", got)
			}
		})
	}

	in := strings.Join([]string{
		"number,expMonth,expYear,countryCode", // 1
		visaPAN + ",12,2030,USA",              // 2 good
		"4111111111111112,13,2030,USA",        // 3 bad month
		"4111111111111113,12,30,USA",          // 4 two-digit year
		"4111111111111114,12,2030,US",         // 5 bad country
		"41111111,12,2030,USA",                // 6 short number
		"4111111111111115,12,2030",            // 7 three columns
		"USA,12,2030,4111111111111116",        // 8 columns swapped: the PAN in the country column
		visaPAN + ",11,2031,CAN",              // 9 duplicate of row 2
		`"4111111111111117,12,2030,USA`,       // 10 unterminated quote (swallows the rest)
	}, "\n") + "\n"
	cards, bad, err := parseCardsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 1 || cards[0].row != 2 {
		t.Errorf("good rows: %+v", cards)
	}
	wantBad := map[int]string{
		3:  "expMonth must be a month number 1–12",
		4:  "expYear must be a four-digit year 2000–2099",
		5:  "countryCode must be an ISO 3166-1 alpha-3 code",
		6:  "number must be 13–19 digits",
		7:  "expected 4 columns (number,expMonth,expYear,countryCode), found 3",
		8:  "number must be 13–19 digits; countryCode must be",
		9:  "the same number as row 2",
		10: "unreadable CSV",
	}
	got := map[int]string{}
	for _, b := range bad {
		got[b.row] = b.detail
		if b.status != 0 {
			t.Errorf("row %d: local failure with status %d", b.row, b.status)
		}
		if digitRun.MatchString(b.detail) {
			t.Errorf("row %d: detail quotes a number: %q", b.row, b.detail)
		}
	}
	for row, want := range wantBad {
		if !strings.Contains(got[row], want) {
			t.Errorf("row %d: detail %q, want %q", row, got[row], want)
		}
	}
	if len(got) != len(wantBad) {
		t.Errorf("bad rows %v, want exactly %v", got, wantBad)
	}
}

// TestParseCardsCSVHeaderErrors refuses a header it cannot map, naming the columns.
func TestParseCardsCSVHeaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"number,expMonth,expYear,cvv\n":               "unknown column \"cvv\"",
		"number,expMonth,expYear\n":                   "no countryCode column",
		"number,pan,expMonth,expYear,countryCode\n":   "column number named twice",
		"number,expMonth,expYear,countryCode,extra\n": "unknown column \"extra\"",
	} {
		_, _, err := parseCardsCSV(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

// TestCardEnrolmentHidesNumber: formatting an enrolment never shows its number.
func TestCardEnrolmentHidesNumber(t *testing.T) {
	c := enrolment(visaPAN, 1, 2030, "USA")
	for _, s := range []string{c.String(), c.GoString(), sprintAll(c)} {
		if strings.Contains(s, visaPAN) {
			t.Errorf("formatted enrolment shows the number: %q", s)
		}
	}
}
