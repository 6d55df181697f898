package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" database/sql driver, to tamper with the server's file
)

// TestE2EAudit lists and verifies a tenant's audit log through the CLI against the real
// server, then changes one stored event in the server's database file, as someone with
// access to it could, and expects verify to exit 1 naming that event.
func TestE2EAudit(t *testing.T) {
	tn := newTenant(t)
	op := token(t, tn.base, e2eOperatorID, e2eOperatorSecret)
	// newTenant's client has no audit:read; this one has.
	code, cl := call(t, http.MethodPost, tn.base+"/v1/accounts/"+tn.accountID+"/clients", op,
		map[string]any{"name": "auditor", "scopes": []string{"audit:read"}})
	if code != http.StatusCreated {
		t.Fatalf("create client: %d %v", code, cl)
	}
	auditor := map[string]string{"SUBACCOUNTS_URL": tn.base, "SUBACCOUNTS_CLIENT_ID": cl["clientId"].(string), "SUBACCOUNTS_CLIENT_SECRET": cl["clientSecret"].(string)}
	if code, body := call(t, http.MethodDelete, tn.base+"/v1/accounts/"+tn.accountID+"/clients/"+tn.clientID, op, nil); code != http.StatusNoContent {
		t.Fatalf("revoke client: %d %v", code, body)
	}

	// The server's background chainer links the events without anyone reading the log.
	// Watch its database file; the deadline only keeps a broken chainer from hanging
	// the test.
	db, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(filepath.Join(e2eServer.dir, "data", "subaccounts.db"))+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var events, unchained int
		err := db.QueryRow("SELECT count(*), count(*) - count(hash) FROM audit_events WHERE account_id = ?", tn.accountID).Scan(&events, &unchained)
		if err != nil {
			t.Fatal(err)
		}
		if events > 0 && unchained == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events of the account still unchained", unchained, events)
		}
	}

	r := runCLI(t, auditor, "", "audit", "list")
	mustExit(t, r, exitOK, "audit list")
	for _, want := range []string{"client.create", "client.revoke", "client " + tn.clientID, e2eOperatorID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit list lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, cl["clientSecret"].(string)) {
		t.Error("audit list shows a client secret")
	}
	r = runCLI(t, auditor, "", "--json", "audit", "list", "--action", "client.revoke")
	mustExit(t, r, exitOK, "audit list --action")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 1 || arr[0].(map[string]any)["resourceId"] != tn.clientID {
		t.Errorf("client.revoke events: %s", r.stdout)
	}
	r = runCLI(t, auditor, "", "audit", "list", "--actor", "nobody")
	mustExit(t, r, exitOK, "audit list --actor nobody")
	if !strings.Contains(r.stdout, "No audit events.") {
		t.Errorf("unknown actor:\n%s", r.stdout)
	}

	// The events are numbered by the server (account.create, client.create ×2,
	// client.revoke today); take the auditor's creation and the head from the log itself
	// rather than hard-coding which events the server records.
	r = runCLI(t, auditor, "", "--json", "audit", "list")
	mustExit(t, r, exitOK, "audit list --json")
	events, _ := mustJSON(t, r.stdout).([]any)
	var target, head float64
	for _, e := range events {
		ev, _ := e.(map[string]any)
		seq, _ := ev["seq"].(float64)
		head = max(head, seq)
		if ev["action"] == "client.create" && ev["resourceId"] == cl["clientId"] {
			target = seq
		}
	}
	if target == 0 {
		t.Fatalf("no client.create event for the auditor in %s", r.stdout)
	}

	r = runCLI(t, auditor, "", "audit", "verify")
	mustExit(t, r, exitOK, "audit verify")
	if !strings.Contains(r.stdout, "Audit chain of account "+tn.accountID+": INTACT") || !strings.Contains(r.stdout, fmt.Sprintf("seq %d, hash ", int(head))) {
		t.Errorf("verify output:\n%s", r.stdout)
	}

	// Rewrite the auditor's client.create event in the server's file. SQLite DDL is transactional: the guard
	// trigger is dropped and restored, exactly as it was (it must still let the server's chainer link new
	// events), in the same transaction as the change.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var guard string
	if err := tx.QueryRow("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_no_update'").Scan(&guard); err != nil {
		_ = tx.Rollback()
		t.Fatalf("read the guard trigger: %v", err)
	}
	for _, s := range []string{
		"DROP TRIGGER audit_events_no_update",
		"UPDATE audit_events SET action = 'client.rename' WHERE account_id = '" + tn.accountID + "' AND seq = " + fmt.Sprint(int(target)),
		guard,
	} {
		if _, err := tx.Exec(s); err != nil {
			_ = tx.Rollback()
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	r = runCLI(t, auditor, "", "audit", "verify")
	mustExit(t, r, exitFindings, "audit verify after tampering")
	for _, want := range []string{"BROKEN", fmt.Sprintf("seq %d: hash mismatch", int(target)), "events checked:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("broken verify lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, auditor, "", "--json", "audit", "verify")
	mustExit(t, r, exitFindings, "audit verify --json after tampering")
	v, _ := mustJSON(t, r.stdout).(map[string]any)
	if fb, _ := v["firstBroken"].(map[string]any); v["valid"] != false || fb["seq"] != target || fb["reason"] != "hash mismatch" {
		t.Errorf("--json: %s", r.stdout)
	}
	// The operator's token names no account, so the tenant route refuses it: exit 2.
	r = runCLI(t, operatorEnv(tn.base), "", "audit", "verify")
	mustExit(t, r, exitError, "audit verify with the operator's credentials")
}
