package httpapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type auditEventDoc struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	Seq       int64  `json:"seq"`
	Actor     struct {
		Sub      string `json:"sub"`
		ClientID string `json:"clientId"`
	} `json:"actor"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resourceType"`
	ResourceID   string         `json:"resourceId"`
	Before       map[string]any `json:"before"`
	After        map[string]any `json:"after"`
	RequestID    string         `json:"requestId"`
	CreatedAt    string         `json:"createdAt"`
	PrevHash     string         `json:"prevHash"`
	Hash         string         `json:"hash"`
}

type auditListDoc struct {
	Items      []auditEventDoc `json:"items"`
	NextCursor *string         `json:"nextCursor"`
}

type auditVerifyDoc struct {
	AccountID     string `json:"accountId"`
	Valid         bool   `json:"valid"`
	EventsChecked int64  `json:"eventsChecked"`
	Head          *struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	} `json:"head"`
	FirstBroken *struct {
		Seq     int64   `json:"seq"`
		EventID *string `json:"eventId"`
		Reason  string  `json:"reason"`
	} `json:"firstBroken"`
	Pending *int64 `json:"pending"`
}

func (e *env) auditList(token, query string) auditListDoc {
	e.t.Helper()
	var l auditListDoc
	e.expect(e.do("GET", "/v1/audit-events"+query, token, nil), 200).decode(e.t, &l)
	return l
}

func actions(l auditListDoc) string {
	s := make([]string, len(l.Items))
	for i, it := range l.Items {
		s[i] = fmt.Sprintf("%d:%s", it.Seq, it.Action)
	}
	return strings.Join(s, " ")
}

// TestAuditEvents: client creation and revocation are audited with the operator as the
// actor and the request's id; the tenant lists them with filters and pages, verifies the
// chain, and sees nothing of another tenant; a confined client may do neither.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Audited", usaCanContract(10))
		other := e.newAccount("Other", usaCanContract(10))
		reader := e.tenantToken(acct, subaccounts.ScopeAuditRead, subaccounts.ScopeSubaccountsWrite)

		// Event 1 is the account's creation, event 2 the reader's own client. Event 3: a
		// client created under a known request id, event 4 its revocation.
		r := e.expect(e.doHeaders("POST", "/v1/accounts/"+acct+"/clients", e.opToken,
			map[string]any{"name": "audited client", "scopes": []string{"cards:read"}}, map[string]string{"X-Request-Id": "req-audit-create"}), 201)
		created := r.json(t)
		clientID, secret := created["clientId"].(string), created["clientSecret"].(string)
		e.expect(e.do("DELETE", "/v1/accounts/"+acct+"/clients/"+clientID, e.opToken, nil), 204)
		// Another account's client is audited in that account only.
		otherClient, _ := e.newClient(other, []string{subaccounts.ScopeSubaccountsRead}, "")

		l := e.auditList(reader, "")
		if got := actions(l); got != "1:account.create 2:client.create 3:client.create 4:client.revoke" || l.NextCursor != nil {
			t.Fatalf("events %q (next %v)", got, l.NextCursor)
		}
		if c := l.Items[0]; c.ResourceType != "account" || c.ResourceID != acct || c.Actor.ClientID != operatorID || c.Before != nil {
			t.Errorf("account.create event %+v", c)
		}
		ev := l.Items[2]
		if ev.AccountID != acct || ev.ResourceType != "client" || ev.ResourceID != clientID || ev.RequestID != "req-audit-create" ||
			ev.Actor.Sub != operatorID || ev.Actor.ClientID != operatorID || ev.Before != nil || ev.After["clientId"] != clientID {
			t.Errorf("client.create event %+v", ev)
		}
		if ev.PrevHash != l.Items[1].Hash || l.Items[1].PrevHash != l.Items[0].Hash || l.Items[0].PrevHash != strings.Repeat("0", 64) || len(ev.Hash) != 64 {
			t.Errorf("chain links: %s → %s → %s → %s", l.Items[0].PrevHash, l.Items[0].Hash, l.Items[1].Hash, ev.PrevHash)
		}
		rev := l.Items[3]
		if rev.ResourceID != clientID || rev.Before["clientId"] != clientID || rev.After != nil {
			t.Errorf("client.revoke event %+v", rev)
		}
		raw := string(e.expect(e.do("GET", "/v1/audit-events", reader, nil), 200).Body)
		for _, leak := range []string{secret, "$2a$", "secretHash", "SecretHash", otherClient, other} {
			if strings.Contains(raw, leak) {
				t.Errorf("the audit log shows %q", leak)
			}
		}

		created0, _ := time.Parse(time.RFC3339Nano, l.Items[0].CreatedAt)
		filters := []struct {
			name, query, want string
		}{
			{"action", "?action=client.revoke", "4:client.revoke"},
			{"resource", "?resourceType=client&resourceId=" + clientID, "3:client.create 4:client.revoke"},
			{"resource type", "?resourceType=card", ""},
			{"actor by client id", "?actor=" + operatorID, "1:account.create 2:client.create 3:client.create 4:client.revoke"},
			{"unknown actor", "?actor=nobody", ""},
			{"from", "?from=" + url.QueryEscape(created0.Format(time.RFC3339Nano)), "1:account.create 2:client.create 3:client.create 4:client.revoke"},
			{"to", "?to=" + url.QueryEscape(created0.Format(time.RFC3339Nano)), ""},
			{"future", "?from=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), ""},
		}
		for _, f := range filters {
			t.Run(f.name, func(t *testing.T) {
				e := e.at(t)
				if got := actions(e.auditList(reader, f.query)); got != f.want {
					t.Errorf("%s: %q, want %q", f.query, got, f.want)
				}
			})
		}
		invalid := []struct {
			name, query, param string
		}{
			{"from", "?from=yesterday", "from"},
			{"to before from", "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
			{"resourceId alone", "?resourceId=x", "resourceId"},
			{"long action", "?action=" + strings.Repeat("a", 201), "action"},
			{"cursor", "?cursor=nope", "cursor"},
			{"limit", "?limit=0", "limit"},
		}
		for _, tt := range invalid {
			t.Run("invalid "+tt.name, func(t *testing.T) {
				e := e.at(t)
				p := e.expect(e.do("GET", "/v1/audit-events"+tt.query, reader, nil), 400).problem(t)
				if got := p.pointers(); len(got) != 1 || got[0] != "?"+tt.param {
					t.Errorf("errors %v, want ?%s", got, tt.param)
				}
			})
		}

		t.Run("pages", func(t *testing.T) {
			e := e.at(t)
			var got []string
			query := "?limit=2"
			for range 5 {
				l := e.auditList(reader, query)
				for _, it := range l.Items {
					got = append(got, fmt.Sprint(it.Seq))
				}
				if l.NextCursor == nil {
					break
				}
				query = "?limit=2&cursor=" + *l.NextCursor
			}
			if strings.Join(got, ",") != "1,2,3,4" {
				t.Errorf("paged seqs %v", got)
			}
		})

		t.Run("verify", func(t *testing.T) {
			e := e.at(t)
			var v auditVerifyDoc
			e.expect(e.do("GET", "/v1/audit-events/verify", reader, nil), 200).decode(t, &v)
			if !v.Valid || v.EventsChecked != 4 || v.AccountID != acct || v.Head == nil || v.Head.Seq != 4 || v.Head.Hash != l.Items[3].Hash || v.FirstBroken != nil ||
				v.Pending == nil || *v.Pending != 0 {
				t.Errorf("verification %+v", v)
			}
		})

		t.Run("account with only its creation", func(t *testing.T) {
			e := e.at(t)
			// A token made without creating a client: the account's creation is its only
			// event, and nothing read the log before: verify chains it itself.
			fresh := e.newAccount("Fresh", usaCanContract(1))
			var v auditVerifyDoc
			e.expect(e.do("GET", "/v1/audit-events/verify", e.forge(e.goodClaims(fresh)), nil), 200).decode(t, &v)
			if !v.Valid || v.EventsChecked != 1 || v.Head == nil || v.Head.Seq != 1 || v.FirstBroken != nil || v.Pending == nil || *v.Pending != 0 {
				t.Errorf("verification %+v", v)
			}
		})

		t.Run("confined client", func(t *testing.T) {
			e := e.at(t)
			sub := e.newSubaccount(reader, "Confined", []any{cfg([]string{"USA"}, "VISA")})
			id, sec := e.newClient(acct, []string{subaccounts.ScopeAuditRead}, sub)
			tok := e.token(id, sec, "")
			for _, path := range []string{"/v1/audit-events", "/v1/audit-events/verify"} {
				if p := e.expect(e.do("GET", path, tok, nil), 403).problem(t); p.Type != "/problems/forbidden" {
					t.Errorf("%s: %+v", path, p)
				}
			}
		})

		t.Run("other tenant", func(t *testing.T) {
			e := e.at(t)
			tokOther := e.tenantToken(other, subaccounts.ScopeAuditRead)
			l := e.auditList(tokOther, "?limit=100")
			for _, it := range l.Items {
				if it.AccountID != other || it.ResourceID == clientID {
					t.Errorf("the other tenant sees %+v", it)
				}
			}
			// A cursor made from this account's event positions nothing there.
			if l := e.auditList(tokOther, "?cursor="+cursorOf(t, ev.ID)); len(l.Items) != 0 {
				t.Errorf("a foreign cursor lists %d events", len(l.Items))
			}
		})
	})
}
