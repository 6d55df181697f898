package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Guard keeps deliveries off private networks. CheckURL refuses a URL at creation;
// Client's dialer refuses a private address at connect time, after resolution, so a name
// that resolves (or is re-pointed, DNS rebinding) to a private address is refused too,
// and the client never follows a redirect. AllowPrivate lifts the address rule and allows
// http, for local development and tests (WEBHOOK_ALLOW_PRIVATE_NETWORKS=true).
type Guard struct {
	AllowPrivate bool
}

// ErrPrivateAddress refuses a destination on a private, loopback, link-local or other
// non-public network.
var ErrPrivateAddress = errors.New("the destination is not a public address")

// maxURLLength bounds an endpoint URL.
const maxURLLength = 2048

// CheckURL refuses what an endpoint URL must not be, and says why in words a client can
// act on: not absolute https (http too with AllowPrivate), credentials in it, a fragment,
// no host, or a literal address on a private network.
func (g Guard) CheckURL(raw string) error {
	if len(raw) == 0 || len(raw) > maxURLLength {
		return fmt.Errorf("must be an absolute URL of at most %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.AllowPrivate:
	default:
		return errors.New("must use https")
	}
	if u.User != nil {
		return errors.New("must not carry credentials")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("must name a host")
	}
	if g.AllowPrivate {
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return ErrPrivateAddress
	}
	if ip, err := netip.ParseAddr(host); err == nil && !PublicAddr(ip) {
		return ErrPrivateAddress
	}
	return nil
}

// nonPublic are the prefixes no delivery may reach.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // RFC 1918
		"100.64.0.0/10",   // CGNAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, incl. the cloud metadata address 169.254.169.254
		"172.16.0.0/12",   // RFC 1918
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // TEST-NET-1
		"192.168.0.0/16",  // RFC 1918
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // TEST-NET-2
		"203.0.113.0/24",  // TEST-NET-3
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, incl. broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local (ULA)
		"fe80::/10",       // link-local
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// PublicAddr reports whether ip is a public unicast address a delivery may reach. An
// IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// deliveryTimeout is how long one attempt may take, connection to last byte.
const deliveryTimeout = 15 * time.Second

// Client returns the HTTP client deliveries use: its dialer checks the address each
// connection is about to reach (after DNS, so rebinding cannot get past it), redirects
// are never followed (the 3xx is the attempt's answer), no proxy from the environment is
// used, and an attempt ends after 15 s.
func (g Guard) Client() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: g.control}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   DefaultPerEndpoint,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: deliveryTimeout,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       deliveryTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// control runs for every connection after the name is resolved: address is the IP and
// port about to be dialled.
func (g Guard) control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook destination %q: %w", address, ErrPrivateAddress)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("webhook destination %s: %w", ap.Addr(), ErrPrivateAddress)
	}
	return nil
}
