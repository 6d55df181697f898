package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// cardEnrolment is the API's CardEnrolment request body. It holds a full card number, and
// formats as a placeholder: no %v in an error message or log line can print the PAN.
type cardEnrolment = api.CardEnrolment

// csvCard is one valid CSV row ready to send.
type csvCard struct {
	row  int
	card cardEnrolment
}

// rowFailure is a CSV row that was refused, locally or by the API. detail never
// contains the row's values: a misplaced column could put the card number anywhere.
type rowFailure struct {
	row int
	// status is the HTTP status of the API's refusal, or 0 when the row was invalid
	// here and never sent.
	status int
	detail string
	// problem is the API's problem document as received, for --json.
	problem []byte
}

// csvColumns are the CSV columns in their default (header-less) order.
var csvColumns = []string{"number", "expMonth", "expYear", "countryCode"}

// headerAliases maps a normalised header name to its column index in csvColumns.
var headerAliases = map[string]int{
	"number": 0, "pan": 0, "cardnumber": 0,
	"expmonth": 1, "expirymonth": 1, "expirationmonth": 1,
	"expyear": 2, "expiryyear": 2, "expirationyear": 2,
	"countrycode": 3, "country": 3,
}

// parseCardsCSV reads the enrolment CSV. A first record without any digit is a header
// naming the columns (in any order); otherwise the columns are number, expMonth,
// expYear, countryCode. Rows are numbered by the line they start on, so they can be
// found in an editor. Bad rows are returned as failures and the rest still parsed; the
// error is only for a file that cannot be read or a header that cannot be understood.
func parseCardsCSV(r io.Reader) ([]csvCard, []rowFailure, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // rows with the wrong count are reported per row below
	cr.TrimLeadingSpace = true
	cols := []int{0, 1, 2, 3}
	var cards []csvCard
	var bad []rowFailure
	seen := map[string]int{} // number → row, to catch duplicates before the API does
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// ParseError's message names the line and column, never the content.
				bad = append(bad, rowFailure{row: pe.StartLine, detail: "unreadable CSV: " + pe.Err.Error()})
				continue
			}
			return nil, nil, fmt.Errorf("reading the CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff") // spreadsheet exports start with a BOM
			if !hasDigit(rec) {
				if cols, err = headerColumns(rec); err != nil {
					return nil, nil, fmt.Errorf("CSV header (line %d): %w", line, err)
				}
				continue
			}
		}
		card, problems := parseCardRow(rec, cols)
		if len(problems) == 0 {
			if prev, dup := seen[*card.Number]; dup {
				problems = append(problems, fmt.Sprintf("the same number as row %d", prev))
			} else {
				seen[*card.Number] = line
			}
		}
		if len(problems) > 0 {
			bad = append(bad, rowFailure{row: line, detail: strings.Join(problems, "; ")})
			continue
		}
		card.TermsOfUse = new(true)
		cards = append(cards, csvCard{row: line, card: card})
	}
	return cards, bad, nil
}

func hasDigit(rec []string) bool {
	for _, f := range rec {
		if strings.ContainsAny(f, "0123456789") {
			return true
		}
	}
	return false
}

// headerColumns maps a header record to the index of each field in csvColumns order.
func headerColumns(rec []string) ([]int, error) {
	cols := []int{-1, -1, -1, -1}
	for i, h := range rec {
		norm := strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(h)))
		c, ok := headerAliases[norm]
		if !ok {
			return nil, fmt.Errorf("unknown column %q; the columns are %s", h, strings.Join(csvColumns, ","))
		}
		if cols[c] != -1 {
			return nil, fmt.Errorf("column %s named twice", csvColumns[c])
		}
		cols[c] = i
	}
	for c, i := range cols {
		if i == -1 {
			return nil, fmt.Errorf("no %s column; the columns are %s", csvColumns[c], strings.Join(csvColumns, ","))
		}
	}
	return cols, nil
}

// parseCardRow checks one data record; cols[i] is the field holding csvColumns[i]. It
// returns every problem of the row, none of which quotes a value; the enrolment is only
// complete when there is none.
func parseCardRow(rec []string, cols []int) (cardEnrolment, []string) {
	if len(rec) != len(cols) {
		return cardEnrolment{}, []string{fmt.Sprintf("expected %d columns (%s), found %d", len(cols), strings.Join(csvColumns, ","), len(rec))}
	}
	var problems []string
	number, ok := cleanPAN(rec[cols[0]])
	if !ok {
		problems = append(problems, "number must be 13–19 digits")
	}
	month, err := parseMonth(rec[cols[1]])
	if err != nil {
		problems = append(problems, "expMonth "+err.Error())
	}
	year, err := parseYear(rec[cols[2]])
	if err != nil {
		problems = append(problems, "expYear "+err.Error())
	}
	country, ok := cleanCountry(rec[cols[3]])
	if !ok {
		problems = append(problems, "countryCode must be an ISO 3166-1 alpha-3 code such as USA")
	}
	return cardEnrolment{Number: &number, ExpMonth: &month, ExpYear: &year, CountryCode: &country}, problems
}

// cleanPAN removes the spaces and dashes people write card numbers with and checks that
// 13–19 digits remain.
func cleanPAN(s string) (string, bool) {
	s = strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(s)
	if len(s) < 13 || len(s) > 19 {
		return "", false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return s, true
}

func parseMonth(s string) (int, error) {
	m, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || m < 1 || m > 12 {
		return 0, errors.New("must be a month number 1–12")
	}
	return m, nil
}

func parseYear(s string) (int, error) {
	s = strings.TrimSpace(s)
	y, err := strconv.Atoi(s)
	if err != nil || len(s) != 4 || y < 2000 || y > 2099 {
		return 0, errors.New("must be a four-digit year 2000–2099")
	}
	return y, nil
}

func cleanCountry(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	return s, countryCode.MatchString(s)
}
