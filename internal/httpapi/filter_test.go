package httpapi

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func queryContext(query string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/x?"+query, nil)
	return c
}

func TestQueryWindow(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v.UTC() }
	tests := []struct {
		query      string
		want       subaccounts.Window
		wantParams []string
	}{
		{query: "", want: subaccounts.Window{}},
		{query: "from=2026-01-01T00:00:00Z", want: subaccounts.Window{From: at("2026-01-01T00:00:00Z")}},
		{query: "from=2026-01-01T01:00:00%2B01:00&to=2026-02-01T00:00:00.5Z",
			want: subaccounts.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-02-01T00:00:00.5Z")}},
		{query: "from=yesterday", wantParams: []string{"from"}},
		{query: "from=x&to=y", wantParams: []string{"from", "to"}},
		{query: "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", wantParams: []string{"to"}},
		{query: "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", wantParams: []string{"to"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var errs []subaccounts.FieldError
			got := queryWindow(queryContext(tt.query), &errs)
			var params []string
			for _, e := range errs {
				params = append(params, e.Parameter)
			}
			if len(params) != len(tt.wantParams) {
				t.Fatalf("errors %+v, want parameters %v", errs, tt.wantParams)
			}
			for i := range params {
				if params[i] != tt.wantParams[i] {
					t.Errorf("error %d names %q, want %q", i, params[i], tt.wantParams[i])
				}
			}
			if len(errs) == 0 && (!got.From.Equal(tt.want.From) || !got.To.Equal(tt.want.To)) {
				t.Errorf("window %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestQueryUUID(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	tests := []struct {
		name, query string
		want        *uuid.UUID
		wantErr     bool
	}{
		{name: "absent"},
		{name: "canonical", query: "cardId=" + id.String(), want: &id},
		{name: "braces", query: "cardId={" + id.String() + "}", wantErr: true},
		{name: "urn", query: "cardId=urn:uuid:" + id.String(), wantErr: true},
		{name: "junk", query: "cardId=42", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs []subaccounts.FieldError
			got := queryUUID(queryContext(tt.query), "cardId", &errs)
			if (len(errs) > 0) != tt.wantErr {
				t.Fatalf("errors %+v, want error %v", errs, tt.wantErr)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
