package events_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

func ptr[T any](v T) *T { return &v }

// testPAN is the card the tests enrol: it must never reach the stream.
const testPAN = "4111111111111111"

var usa = []policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}

// natsURL is the shared NATS with JetStream the tests publish to (TEST_NATS_URL). A
// NATS that is not there skips the test locally and fails it under CI.
func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	host := strings.TrimPrefix(u, "nats://")
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NATS at %s is unreachable (%v): under CI the stream tests must run", u, err)
		}
		t.Skipf("NATS at %s is unreachable (%v): start it (see .ci/run) to run the stream tests", u, err)
	}
	_ = c.Close()
	return u
}

// testStream is a stream of the test's own, with a subject prefix of its own, so
// parallel tests and runs never see each other's messages; it is deleted at cleanup.
type testStream struct {
	name, prefix string
	js           jetstream.JetStream
}

func newTestStream(t testing.TB, url string) testStream {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ts := testStream{name: "TEST_EVENTS_" + tag, prefix: "test." + tag + ".events", js: js}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, ts.name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", ts.name, err)
		}
		nc.Close()
	})
	return ts
}

// config is a publisher configuration for ts at url that retries quickly.
func (ts testStream) config(url string, log *slog.Logger) events.StreamConfig {
	return events.StreamConfig{
		URL: url, Name: ts.name, Subject: ts.prefix, Poll: 20 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond, AckTimeout: 2 * time.Second, Logger: log,
	}
}

// messages returns every message the stream holds, in stream order.
func (ts testStream) messages(t testing.TB) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	st, err := ts.js.Stream(ctx, ts.name)
	if err != nil {
		t.Fatalf("stream %s: %v", ts.name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// msgCount is how many messages the stream holds (0 before it exists).
func (ts testStream) msgCount(t testing.TB) uint64 {
	t.Helper()
	st, err := ts.js.Stream(context.Background(), ts.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// eventually waits up to d for cond, failing with what cond last said.
func eventually(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pending(t testing.TB, db events.StreamStore) []subaccounts.Event {
	t.Helper()
	evs, err := db.StreamPendingEvents(context.Background(), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// allPublished waits until the outbox has nothing pending and the stream holds want
// messages.
func allPublished(t testing.TB, db events.StreamStore, ts testStream, want int) {
	t.Helper()
	eventually(t, 15*time.Second, func() (bool, string) {
		p, n := len(pending(t, db)), ts.msgCount(t)
		if n > uint64(want) {
			t.Fatalf("stream holds %d messages, more than the %d events", n, want)
		}
		return p == 0 && n == uint64(want), fmt.Sprintf("%d events pending, stream holds %d of %d", p, n, want)
	})
}

// wireEvent is what a message's payload says of its event.
type wireEvent struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	AccountID    string  `json:"accountId"`
	SubaccountID *string `json:"subaccountId"`
	Data         struct {
		ID string `json:"id"`
	} `json:"data"`
}

// checkMessage asserts m is a well-formed event message: subject, Nats-Msg-Id and
// payload agree, and the payload holds no card number.
func checkMessage(t testing.TB, prefix string, m *jetstream.RawStreamMsg) wireEvent {
	t.Helper()
	if holdsCardNumber(t, m.Data) {
		t.Fatalf("message %d on %s carries a card number: %s", m.Sequence, m.Subject, m.Data)
	}
	var w wireEvent
	if err := json.Unmarshal(m.Data, &w); err != nil {
		t.Fatalf("message %d: payload is not an event: %v", m.Sequence, err)
	}
	sub := "account"
	if w.SubaccountID != nil {
		sub = *w.SubaccountID
	}
	if want := prefix + "." + w.AccountID + "." + sub + "." + w.Type; m.Subject != want {
		t.Errorf("message %d: subject %q, want %q", m.Sequence, m.Subject, want)
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != w.ID {
		t.Errorf("message %d: Nats-Msg-Id %q, want the event id %q", m.Sequence, got, w.ID)
	}
	return w
}

// holdsCardNumber reports whether any value of the JSON document body may be a card
// number. Ids are left out: a UUID's dash-separated hex groups often read as digit
// groups, and about one in a thousand passes the Luhn check, which would make the canary
// fire on ids rather than on card data.
func holdsCardNumber(t testing.TB, body []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatalf("payload is not JSON: %v", err)
		}
		var text string
		switch v := tok.(type) {
		case string:
			if _, err := uuid.Parse(v); err == nil && len(v) == 36 {
				continue
			}
			text = v
		case json.Number:
			text = v.String()
		}
		if pan.ContainsCardNumber(text) {
			return true
		}
	}
}

// newAccount creates an account through the tenancy service (which records no event).
func newAccount(t testing.TB, svc *app.Services) subaccounts.Account {
	t.Helper()
	a, err := svc.Tenancy.CreateAccount(context.Background(), "Acme", tenancy.ContractInput{Configurations: usa, MaxSubaccounts: ptr(5)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestStreamPublishesRecordedEvents: the changes the services commit reach the stream
// on their subjects, each with its id as Nats-Msg-Id and without a card number, and are
// marked published in the outbox.
func TestStreamPublishesRecordedEvents(t *testing.T) {
	t.Parallel()
	url := natsURL(t)
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := storetest.Open(t, d)
			ring := keystest.Ring(t)
			if _, err := keys.CheckFingerprintKeys(ctx, db, ring); err != nil {
				t.Fatal(err)
			}
			ts := newTestStream(t, url)
			cfg := ts.config(url, nil)
			svc := app.New(db, app.Config{Keys: ring, Events: events.Config{Stream: true}, Stream: &cfg})
			t.Cleanup(svc.Close)

			a := newAccount(t, svc)
			p := subaccounts.Principal{AccountID: a.ID, Scopes: subaccounts.TenantScopes}
			sub, err := svc.Tenancy.CreateSubaccount(ctx, p, tenancy.SubaccountInput{Name: "Shop", Configurations: usa})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Cards.EnrolCard(ctx, p, sub.ID, cards.CardInput{
				Number: ptr(testPAN), ExpMonth: ptr(12), ExpYear: ptr(time.Now().Year() + 1),
				CountryCode: ptr("USA"), TermsOfUse: ptr(true),
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Ledger.TopUp(ctx, a.ID, ptr(int64(5000)), ptr("float")); err != nil {
				t.Fatal(err)
			}
			eventually(t, 15*time.Second, func() (bool, string) {
				n := len(pending(t, db))
				return n == 0, fmt.Sprintf("%d events still pending", n)
			})

			msgs := ts.messages(t)
			seen, ids := map[string]wireEvent{}, map[string]bool{}
			for _, m := range msgs {
				w := checkMessage(t, ts.prefix, m)
				if bytes.Contains(m.Data, []byte(testPAN)) {
					t.Errorf("message %d carries the enrolled card's number: %s", m.Sequence, m.Data)
				}
				if w.AccountID != a.ID.String() {
					t.Errorf("message %d: account %s, want %s", m.Sequence, w.AccountID, a.ID)
				}
				if ids[w.ID] {
					t.Errorf("event %s stored twice", w.ID)
				}
				ids[w.ID] = true
				seen[w.Type] = w
			}
			for _, typ := range []string{"subaccount.created", "card.enrolled", "transfer.created"} {
				if _, ok := seen[typ]; !ok {
					t.Errorf("no %s event on the stream (got %d messages)", typ, len(msgs))
				}
			}
			if w := seen["subaccount.created"]; w.Data.ID != sub.ID.String() || w.SubaccountID == nil || *w.SubaccountID != sub.ID.String() {
				t.Errorf("subaccount.created is about %q (subaccountId %v), want %s", w.Data.ID, w.SubaccountID, sub.ID)
			}
			if w := seen["transfer.created"]; w.SubaccountID != nil {
				t.Errorf("the account's top-up went to subaccount %s, want the account subject", *w.SubaccountID)
			}
		})
	}
}

// crashOnce fails the first MarkEventsStreamed, as a replica dying after JetStream
// acknowledged a batch and before its transaction committed: the batch stays pending and
// is published again.
type crashOnce struct {
	events.StreamStore
	marks atomic.Int32
}

func (c *crashOnce) MarkEventsStreamed(ctx context.Context, evs []subaccounts.Event) error {
	if c.marks.Add(1) == 1 {
		return errors.New("simulated crash between publish and mark")
	}
	return c.StreamStore.MarkEventsStreamed(ctx, evs)
}

// seedEvents writes n stream-pending events of account a into the outbox in one
// transaction, cycling over subs (nil: an account-level event), one millisecond apart
// so the outbox's order is the order written.
func seedEvents(t testing.TB, db *store.DB, a uuid.UUID, subs []*uuid.UUID, n int, start time.Time) []subaccounts.Event {
	t.Helper()
	types := []string{"card.enrolled", "subaccount.updated", "transfer.created"}
	evs := make([]subaccounts.Event, n)
	for i := range evs {
		at := start.Add(time.Duration(i) * time.Millisecond)
		ev, err := events.New(a, types[i%len(types)], subs[i%len(subs)], map[string]any{"seq": i, "last4": "1111"}, at)
		if err != nil {
			t.Fatal(err)
		}
		ev.Stream = true
		evs[i] = ev
	}
	err := db.Transact(context.Background(), func(ctx context.Context) error {
		return db.InsertEvents(ctx, evs, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestStreamRepublishIsDeduplicated: a batch published again after a crash before its
// mark is stored once, every message's payload is the outbox's byte for byte, and all
// events end marked.
func TestStreamRepublishIsDeduplicated(t *testing.T) {
	t.Parallel()
	url := natsURL(t)
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			svc := app.New(db, app.Config{})
			t.Cleanup(svc.Close)
			a := newAccount(t, svc)
			s1, s2 := uuid.New(), uuid.New()
			evs := seedEvents(t, db, a.ID, []*uuid.UUID{&s1, nil, &s2}, 40, time.Now().UTC())

			ts := newTestStream(t, url)
			crash := &crashOnce{StreamStore: db}
			logs := &logBuffer{}
			pub := events.NewStream(crash, ts.config(url, slog.New(slog.NewTextHandler(logs, nil))))
			pub.Start()
			t.Cleanup(func() { pub.Stop(context.Background()) })
			allPublished(t, db, ts, len(evs))
			if n := crash.marks.Load(); n < 2 {
				t.Fatalf("MarkEventsStreamed called %d times: the batch was never published again", n)
			}
			if n := logs.count("level=WARN"); n != 1 {
				t.Errorf("%d warnings for one failed batch, want 1", n)
			}

			msgs := ts.messages(t)
			if len(msgs) != len(evs) {
				t.Fatalf("stream holds %d messages, want each of the %d events once", len(msgs), len(evs))
			}
			for i, m := range msgs {
				checkMessage(t, ts.prefix, m)
				if got := m.Header.Get(jetstream.MsgIDHeader); got != evs[i].ID.String() {
					t.Errorf("message %d is event %s, want %s (the outbox's order)", i, got, evs[i].ID)
				}
				if !bytes.Equal(m.Data, evs[i].Payload) {
					t.Errorf("message %d: payload %s, want the outbox's %s", i, m.Data, evs[i].Payload)
				}
			}
		})
	}
}

// natsServer is a JetStream server of the test's own, which it can stop and start
// again on the same port and store directory.
type natsServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func newNATSServer(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nats-server not found: %v", err)
		}
		t.Skipf("nats-server not found (%v): the outage test needs a server of its own", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &natsServer{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *natsServer) start() {
	s.t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
	}
	s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start nats-server: %v", err)
	}
	eventually(s.t, 10*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond)
		if err != nil {
			return false, "nats-server not listening: " + err.Error()
		}
		_ = c.Close()
		return true, ""
	})
}

// stop kills the server, as a crash would.
func (s *natsServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// logBuffer collects a logger's output for the test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// staysPending asserts that for a while, with the publisher retrying, the outbox keeps
// exactly want events pending.
func staysPending(t *testing.T, db events.StreamStore, want int) {
	t.Helper()
	time.Sleep(time.Second)
	if n := len(pending(t, db)); n != want {
		t.Fatalf("%d events pending while NATS is down, want %d", n, want)
	}
}

// TestStreamOutage: with NATS down at boot and again later, the service starts, events
// stay in the outbox, one warning is logged per outage however many retries it takes,
// and once NATS is back every event is published, in order on each subject.
func TestStreamOutage(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			srv := newNATSServer(t)
			db := storetest.Open(t, d)
			logs := &logBuffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ts := testStream{name: "OUTAGE_EVENTS", prefix: "outage.events"}
			cfg := ts.config(srv.url(), log)
			svc := app.New(db, app.Config{Events: events.Config{Stream: true}, Stream: &cfg})
			t.Cleanup(svc.Close)
			a := newAccount(t, svc)
			s1, s2 := uuid.New(), uuid.New()
			subs := []*uuid.UUID{&s1, &s2, nil}

			// Down at boot.
			first := seedEvents(t, db, a.ID, subs, 30, time.Now().UTC())
			staysPending(t, db, len(first))
			srv.start()
			ts.js = connectJS(t, srv.url())
			allPublished(t, db, ts, len(first))

			// Down while running.
			srv.stop()
			second := seedEvents(t, db, a.ID, subs, 30, time.Now().UTC().Add(time.Second))
			staysPending(t, db, len(second))
			srv.start()
			ts.js = connectJS(t, srv.url())
			allPublished(t, db, ts, len(first)+len(second))

			if n := logs.count("level=WARN"); n != 2 {
				t.Errorf("%d warnings for two outages, want one each:\n%s", n, logs.buf.String())
			}
			if n := logs.count("retry failed"); n < 4 {
				t.Errorf("%d retries logged during two one-second outages: the publisher did not keep trying", n)
			}
			checkOrderPerSubject(t, ts, append(first, second...))
		})
	}
}

func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// checkOrderPerSubject asserts that on every subject the stream holds evs' events of
// that subject, each once, in the order they were written.
func checkOrderPerSubject(t *testing.T, ts testStream, evs []subaccounts.Event) {
	t.Helper()
	want := map[string][]string{}
	for _, ev := range evs {
		sub := "account"
		if ev.SubaccountID != nil {
			sub = ev.SubaccountID.String()
		}
		subject := ts.prefix + "." + ev.AccountID.String() + "." + sub + "." + ev.Type
		want[subject] = append(want[subject], ev.ID.String())
	}
	got := map[string][]string{}
	for _, m := range ts.messages(t) {
		checkMessage(t, ts.prefix, m)
		got[m.Subject] = append(got[m.Subject], m.Header.Get(jetstream.MsgIDHeader))
	}
	if len(got) != len(want) {
		t.Errorf("%d subjects on the stream, want %d", len(got), len(want))
	}
	for subject, ids := range want {
		if !slices.Equal(got[subject], ids) {
			t.Errorf("%s holds %v, want %v in that order", subject, got[subject], ids)
		}
	}
}

// TestHoldsCardNumber: the canary fires on a card number anywhere in a payload, written
// as a string or a number, and not on the ids every payload carries.
func TestHoldsCardNumber(t *testing.T) {
	t.Parallel()
	// luhnID's last groups read as 8567 890123456784, which passes the Luhn check.
	const luhnID = "01234567-8901-7234-8567-890123456784"
	if !pan.ContainsCardNumber(luhnID) {
		t.Fatalf("the free-text guard no longer reads %s as a card number: the id case tests nothing", luhnID)
	}
	cases := []struct {
		name string
		body string
		want bool
	}{
		{"masked", `{"id":"019bf3e1-2345-7123-8456-123456789012","data":{"number":"411111******1111"}}`, false},
		{"id of digit groups", `{"id":"` + luhnID + `"}`, false},
		{"plain", `{"data":{"note":"card 4111111111111111"}}`, true},
		{"grouped", `{"data":{"note":"4111 1111 1111 1111"}}`, true},
		{"number", `{"data":{"ref":4111111111111111}}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := holdsCardNumber(t, []byte(c.body)); got != c.want {
				t.Errorf("holdsCardNumber(%s) = %v, want %v", c.body, got, c.want)
			}
		})
	}
}

// TestEventTypesHaveOneDot: every type in the catalogue has exactly one dot, so every
// subject has the same number of tokens and the documented filters
// (<prefix>.*.*.card.>, <prefix>.<acct>.<sub>.>) select what they say.
func TestEventTypesHaveOneDot(t *testing.T) {
	t.Parallel()
	for _, typ := range events.Types {
		if strings.Count(typ, ".") != 1 || strings.ContainsAny(typ, " *>") {
			t.Errorf("event type %q does not make a subject of six tokens", typ)
		}
	}
}
