package webhooks_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/webhooks"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict, open := webhooks.Guard{}, webhooks.Guard{AllowPrivate: true}
	tests := []struct {
		url            string
		strict, allows bool // accepted by the strict guard, by the lenient one
	}{
		{"https://hooks.example.com/cardseg", true, true},
		{"https://hooks.example.com:8443/x?y=1", true, true},
		{"https://93.184.215.14/hook", true, true},
		{"http://hooks.example.com/hook", false, true},
		{"ftp://hooks.example.com/hook", false, false},
		{"https://user:pass@hooks.example.com/hook", false, false},
		{"https://hooks.example.com/hook#frag", false, false},
		{"hooks.example.com/hook", false, false},
		{"https:///nohost", false, false},
		{"", false, false},
		{"https://" + strings.Repeat("a", 2050) + ".example", false, false},
		{"https://127.0.0.1/hook", false, true},
		{"https://localhost/hook", false, true},
		{"https://api.localhost/hook", false, true},
		{"https://10.1.2.3/hook", false, true},
		{"https://172.16.0.1/hook", false, true},
		{"https://192.168.1.1/hook", false, true},
		{"https://169.254.169.254/latest/meta-data", false, true},
		{"https://100.64.0.1/hook", false, true},
		{"https://224.0.0.1/hook", false, true},
		{"https://0.0.0.0/hook", false, true},
		{"https://[::1]/hook", false, true},
		{"https://[fd00::1]/hook", false, true},
		{"https://[fe80::1]/hook", false, true},
		{"https://[::ffff:127.0.0.1]/hook", false, true},
		{"https://[2606:4700::1111]/hook", true, true},
	}
	for _, tc := range tests {
		if err := strict.CheckURL(tc.url); (err == nil) != tc.strict {
			t.Errorf("strict CheckURL(%.60q) = %v, want accepted %v", tc.url, err, tc.strict)
		}
		if err := open.CheckURL(tc.url); (err == nil) != tc.allows {
			t.Errorf("AllowPrivate CheckURL(%.60q) = %v, want accepted %v", tc.url, err, tc.allows)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.31.255.255": false, "192.168.0.1": false,
		"169.254.169.254": false, "100.127.255.255": false, "100.128.0.1": true, "255.255.255.255": false,
		"::1": false, "::": false, "fc00::1": false, "fdff::1": false, "fe80::abcd": false, "ff02::1": false,
		"::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
	} {
		if got := webhooks.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestClientRefusesPrivateAddresses: the delivery client refuses loopback at connect
// time, by address and by a name resolving to it, without reaching the receiver; with
// AllowPrivate it reaches it, and a redirect is answered as it is, never followed.
func TestClientRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv, hits := receiver(t)
	port := srv.Listener.Addr().(interface{ String() string }).String()
	_, port, _ = strings.Cut(port, ":")
	for _, url := range []string{srv.URL + "/hook", "http://localhost:" + port + "/hook"} {
		resp, err := webhooks.Guard{}.Client().Post(url, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("POST %s reached the receiver: %d", url, resp.StatusCode)
		}
		if !errors.Is(err, webhooks.ErrPrivateAddress) {
			t.Errorf("POST %s: %v, want ErrPrivateAddress", url, err)
		}
	}
	if *hits != 0 {
		t.Fatalf("the receiver was reached %d times", *hits)
	}
	open := webhooks.Guard{AllowPrivate: true}.Client()
	resp, err := open.Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || *hits != 1 {
		t.Fatalf("allowed POST: status %d, %d hits", resp.StatusCode, *hits)
	}
	resp, err = open.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || *hits != 2 {
		t.Fatalf("redirect: status %d, %d hits; want the 302 itself and no follow-up request", resp.StatusCode, *hits)
	}
}
