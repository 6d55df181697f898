package httpapi_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBodyReadFailures: a client that sends its body too slowly, malformed chunked
// framing, or goes away mid-body is answered 4xx (408, 400) and logged at INFO or WARN,
// never as a server error. A raw TCP client talks to a real server with a short read
// timeout.
func TestBodyReadFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	tok := e.tenantToken(e.newAccount("Acme", usaCanContract(10)))
	ts := httptest.NewUnstartedServer(e.handler)
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	head := func(path, framing string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + tok +
			"\r\nContent-Type: application/json\r\n" + framing + "\r\n"
	}
	tests := []struct {
		name, request string
		pause         time.Duration // before closing the connection for writing
		want          int           // 0: the client is gone and reads nothing
		logged        string
	}{
		{"too slow", head("/v1/subaccounts", "Content-Length: 100\r\n") + `{"name":`, time.Second, 408, "request body too slow to arrive"},
		{"too slow, idempotent", head("/v1/subaccounts", "Content-Length: 100\r\nIdempotency-Key: k1\r\n") + `{"na`, time.Second, 408, "request body too slow to arrive"},
		{"malformed chunks", head("/v1/subaccounts", "Transfer-Encoding: chunked\r\n") + "zz\r\n{}\r\n0\r\n\r\n", 0, 400, "request body could not be read"},
		{"gone mid-body", head("/v1/subaccounts", "Content-Length: 100\r\n") + `{"name":`, 0, 0, "request body could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := strings.Count(e.logs.String(), tt.logged)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(tt.request)); err != nil {
				t.Fatal(err)
			}
			if tt.want == 0 {
				_ = conn.Close()
			} else {
				time.Sleep(tt.pause)
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(e.logs.String(), tt.logged) == before {
				if time.Now().After(deadline) {
					t.Fatalf("no %q line logged:\n%s", tt.logged, e.logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("logged as an error: %s", line)
		}
	}
	// Nothing was created by any of those requests.
	if got := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)["items"].([]any); len(got) != 0 {
		t.Errorf("subaccounts %v", got)
	}
}

// TestWorstBodiesOverHTTP: 1 MiB bodies of the shapes that took the old check minutes and
// gigabytes are refused with 400 naming the pointer, with and without an idempotency key
// (whose middleware reads the body first), and nothing is created.
func TestWorstBodiesOverHTTP(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		tok := e.tenantToken(e.newAccount("Acme", usaCanContract(10)))
		d := (1<<20 - 20) / 2
		deep := `{"name":` + strings.Repeat("[", d) + strings.Repeat("]", d) + `}`
		var keys strings.Builder
		keys.WriteString(`{"name":"x","metadata":{`)
		for i := 0; keys.Len() < 1<<20-32; i++ {
			if i > 0 {
				keys.WriteByte(',')
			}
			keys.WriteString(`"k` + strconv.Itoa(i) + `":""`)
		}
		keys.WriteString(`}}`)
		tests := []struct {
			name, body, pointer string
		}{
			{"deep arrays", deep, "/name" + strings.Repeat("/0", 31)},
			{"many keys", keys.String(), "/metadata"},
		}
		for _, tt := range tests {
			for _, key := range []string{"", "worst-" + strings.ReplaceAll(tt.name, " ", "-")} {
				var headers map[string]string
				if key != "" {
					headers = map[string]string{"Idempotency-Key": key}
				}
				start := time.Now()
				p := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, tt.body, headers), 400).problem(t)
				t.Logf("%s (key %q): %d bytes refused in %v", tt.name, key, len(tt.body), time.Since(start))
				if got := p.pointers(); len(got) != 1 || got[0] != tt.pointer {
					t.Errorf("%s (key %q): pointers %v, want [%s]", tt.name, key, got, tt.pointer)
				}
			}
		}
		if got := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)["items"].([]any); len(got) != 0 {
			t.Errorf("subaccounts %v", got)
		}
	})
}
