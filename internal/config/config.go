// Package config reads the service's configuration from the environment, validates it
// and fails fast with a message naming the offending variable.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cardseg/subaccounts/internal/keys"
)

// Config is the whole configuration of subaccountd.
type Config struct {
	ListenAddr string
	// MetricsAddr is where the private metrics and profiles listener binds; empty when
	// METRICS_ADDR is "off".
	MetricsAddr       string
	PublicURL         string
	DatabaseURL       string
	DataDir           string
	OIDCIssuerURL     string
	OIDCAudience      string
	AccountClaim      string
	AdminClientID     string
	AdminClientSecret string
	TokenMaxLifetime  time.Duration
	LogLevel          slog.Level
	// MasterKeys are the configured versions of the master secret, newest (current) first
	// (MASTER_KEY, MASTER_KEY_FILE, or the deprecated CARD_FINGERPRINT_KEY). Nil means
	// the embedded default's key file in DATA_DIR/keys, generated on first start.
	MasterKeys []keys.Master
	// MasterKeySource names where MasterKeys came from, for the start-up log.
	MasterKeySource string
	// Warnings are deprecations found while loading, for the caller to log.
	Warnings []string
	// GroupCommitMaxBatch and GroupCommitMaxWait bound one group of the transaction
	// ingestion group commit.
	GroupCommitMaxBatch int
	GroupCommitMaxWait  time.Duration
	// WebhookAllowPrivateNetworks lets webhook endpoints use http and private, loopback
	// and link-local addresses: for local development and tests only.
	WebhookAllowPrivateNetworks bool
	// DatabaseMaxConns bounds the PostgreSQL connections of this replica's pool.
	DatabaseMaxConns int
	// WebhookRetrySchedule is the wait before each retry of a failed delivery.
	WebhookRetrySchedule []time.Duration
	// WebhookRetention is how long deliveries and events are kept.
	WebhookRetention time.Duration
	// EventsNATSURL, when set, publishes every event to NATS JetStream.
	EventsNATSURL string

	// RequestTimeout is every request's deadline: past it a request still waiting on the
	// database is answered 503. ShutdownTimeout bounds the whole shutdown.
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	// Rate limits (Part 4 §3). ClientRateLimit is each client's default limit on /v1 in
	// requests per second (0: none); TokenFailureLimit the failed token requests a minute
	// per client id and per source address (0: none); RedisURL, when set, shares the
	// limits between replicas; TrustForwardedFor takes the token endpoint's source
	// address from X-Forwarded-For.
	ClientRateLimit   int
	TokenFailureLimit int
	RedisURL          string
	TrustForwardedFor bool
}

// BuiltInIssuer reports whether the server is its own OAuth2 issuer.
func (c Config) BuiltInIssuer() bool { return c.OIDCIssuerURL == "" }

// Load reads the configuration through getenv.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		ListenAddr:        get("LISTEN_ADDR", "127.0.0.1:8080"),
		MetricsAddr:       get("METRICS_ADDR", "127.0.0.1:9090"),
		DatabaseURL:       get("DATABASE_URL", ""),
		DataDir:           get("DATA_DIR", "./data"),
		OIDCIssuerURL:     get("OIDC_ISSUER_URL", ""),
		OIDCAudience:      get("OIDC_AUDIENCE", "subaccounts-api"),
		AccountClaim:      get("AUTH_ACCOUNT_CLAIM", "account_id"),
		AdminClientID:     get("ADMIN_CLIENT_ID", ""),
		AdminClientSecret: getenv("ADMIN_CLIENT_SECRET"),
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil || port == "" {
		bad("LISTEN_ADDR", "must be host:port, got %q", c.ListenAddr)
	}
	switch _, port, err := net.SplitHostPort(c.MetricsAddr); {
	case c.MetricsAddr == "off":
		c.MetricsAddr = ""
	case err != nil || port == "":
		bad("METRICS_ADDR", "must be host:port or off, got %q", c.MetricsAddr)
	case c.MetricsAddr == c.ListenAddr && port != "0":
		bad("METRICS_ADDR", "must differ from LISTEN_ADDR: metrics and profiles are never on the public port")
	}
	c.PublicURL = strings.TrimRight(get("PUBLIC_URL", "http://"+c.ListenAddr), "/")
	if !isHTTPURL(c.PublicURL) {
		bad("PUBLIC_URL", "must be an absolute http(s) URL, got %q", c.PublicURL)
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// The value may hold a password: never echo it.
			bad("DATABASE_URL", "must be a postgres:// or postgresql:// URL")
		}
	}
	if c.OIDCIssuerURL != "" && !isHTTPURL(c.OIDCIssuerURL) {
		bad("OIDC_ISSUER_URL", "must be an absolute http(s) URL, got %q", c.OIDCIssuerURL)
	}
	if c.AccountClaim == "sub" || strings.ContainsAny(c.AccountClaim, " \t") {
		bad("AUTH_ACCOUNT_CLAIM", "must be a claim name other than sub, got %q", c.AccountClaim)
	}
	switch {
	case (c.AdminClientID == "") != (c.AdminClientSecret == ""):
		bad("ADMIN_CLIENT_SECRET", "ADMIN_CLIENT_ID and ADMIN_CLIENT_SECRET must be set together")
	case c.AdminClientSecret != "" && (len(c.AdminClientSecret) < 16 || len(c.AdminClientSecret) > 72):
		bad("ADMIN_CLIENT_SECRET", "must be 16 to 72 bytes long")
	case c.AdminClientID != "" && (len(c.AdminClientID) > 200 || strings.ContainsAny(c.AdminClientID, " \t:")):
		bad("ADMIN_CLIENT_ID", "must be at most 200 characters without spaces or colons")
	}
	lifetime := get("TOKEN_MAX_LIFETIME", "24h")
	d, err := time.ParseDuration(lifetime)
	if err != nil || d < time.Minute {
		bad("TOKEN_MAX_LIFETIME", "must be a duration of at least 1m such as 24h, got %q", lifetime)
	}
	c.TokenMaxLifetime = d
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "INFO"))); err != nil {
		bad("LOG_LEVEL", "must be DEBUG, INFO, WARN or ERROR, got %q", getenv("LOG_LEVEL"))
	}
	c.loadMasterKey(getenv, bad)
	batch := get("GROUP_COMMIT_MAX_BATCH", "256")
	if n, err := strconv.Atoi(batch); err != nil || n < 1 || n > 1000 {
		bad("GROUP_COMMIT_MAX_BATCH", "must be an integer from 1 to 1000, got %q", batch)
	} else {
		c.GroupCommitMaxBatch = n
	}
	wait := get("GROUP_COMMIT_MAX_WAIT", "2ms")
	if w, err := time.ParseDuration(wait); err != nil || w < 0 || w > time.Second {
		bad("GROUP_COMMIT_MAX_WAIT", "must be a duration from 0 to 1s such as 2ms, got %q", wait)
	} else {
		c.GroupCommitMaxWait = w
	}
	switch v := get("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false"); v {
	case "true", "false":
		c.WebhookAllowPrivateNetworks = v == "true"
	default:
		bad("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "must be true or false, got %q", v)
	}
	conns := get("DATABASE_MAX_CONNS", "32")
	if n, err := strconv.Atoi(conns); err != nil || n < 2 || n > 1000 {
		bad("DATABASE_MAX_CONNS", "must be an integer from 2 to 1000, got %q", conns)
	} else {
		c.DatabaseMaxConns = n
	}
	c.WebhookRetrySchedule = scheduleVar(get, bad, "WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h")
	c.WebhookRetention = durationVar(get, bad, "WEBHOOK_RETENTION", "720h", time.Hour, 10*365*24*time.Hour)
	if c.EventsNATSURL = getenv("EVENTS_NATS_URL"); c.EventsNATSURL != "" && !strings.HasPrefix(c.EventsNATSURL, "nats://") && !strings.HasPrefix(c.EventsNATSURL, "tls://") {
		bad("EVENTS_NATS_URL", "must be a nats:// or tls:// URL, got %q", redactURL(c.EventsNATSURL))
	}
	c.RequestTimeout = durationVar(get, bad, "REQUEST_TIMEOUT", "10s", 100*time.Millisecond, 10*time.Minute)
	c.ShutdownTimeout = durationVar(get, bad, "SHUTDOWN_TIMEOUT", "15s", time.Second, 10*time.Minute)
	loadLimits(&c, get, bad)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// scheduleVar reads a comma-separated list of 1 to 20 positive durations.
func scheduleVar(get func(name, def string) string, bad func(name, format string, args ...any), name, def string) []time.Duration {
	v := get(name, def)
	parts := strings.Split(v, ",")
	if len(parts) > 20 {
		bad(name, "must list at most 20 durations, got %d", len(parts))
		return nil
	}
	out := make([]time.Duration, 0, len(parts))
	for _, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > 7*24*time.Hour {
			bad(name, "must be comma-separated durations up to 168h such as %s, got %q", def, v)
			return nil
		}
		out = append(out, d)
	}
	return out
}

// durationVar reads a duration variable between lo and hi.
func durationVar(get func(name, def string) string, bad func(name, format string, args ...any), name, def string, lo, hi time.Duration) time.Duration {
	v := get(name, def)
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		bad(name, "must be a duration from %s to %s such as %s, got %q", lo, hi, def, v)
	}
	return d
}

// loadLimits reads the rate-limit settings.
func loadLimits(c *Config, get func(name, def string) string, bad func(name, format string, args ...any)) {
	count := func(name, def string, maxN int) int {
		v := get(name, def)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxN {
			bad(name, "must be an integer from 0 (off) to %d, got %q", maxN, v)
		}
		return n
	}
	c.ClientRateLimit = count("CLIENT_RATE_LIMIT", "500", 1_000_000)
	c.TokenFailureLimit = count("TOKEN_FAILURE_LIMIT", "10", 1_000_000)
	c.RedisURL = get("REDIS_URL", "")
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			// The value may hold a password: never echo it.
			bad("REDIS_URL", "must be a redis:// or rediss:// URL")
		}
	}
	switch v := get("TRUST_FORWARDED_FOR", "false"); v {
	case "true", "false":
		c.TrustForwardedFor = v == "true"
	default:
		bad("TRUST_FORWARDED_FOR", "must be true or false, got %q", v)
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// LogValue logs the configuration with secrets masked. Durations are logged as a person
// writes them (24h, 2ms), not as nanoseconds, which is what slog.Duration gives JSON.
func (c Config) LogValue() slog.Value {
	db := "embedded sqlite in " + c.DataDir
	if c.DatabaseURL != "" {
		db = "postgres " + redactURL(c.DatabaseURL)
	}
	issuer := "built-in at " + c.PublicURL
	if c.OIDCIssuerURL != "" {
		issuer = c.OIDCIssuerURL
	}
	return slog.GroupValue(
		slog.String("listen_addr", c.ListenAddr),
		slog.String("metrics_addr", cmp.Or(c.MetricsAddr, "off")),
		slog.String("public_url", c.PublicURL),
		slog.String("database", db),
		slog.String("oidc_issuer", issuer),
		slog.String("oidc_audience", c.OIDCAudience),
		slog.String("account_claim", c.AccountClaim),
		slog.String("admin_client_id", c.AdminClientID),
		slog.Bool("admin_client_secret_set", c.AdminClientSecret != ""),
		slog.String("token_max_lifetime", durationString(c.TokenMaxLifetime)),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("master_key", c.masterKeyLog()),
		slog.Int("group_commit_max_batch", c.GroupCommitMaxBatch),
		slog.String("group_commit_max_wait", durationString(c.GroupCommitMaxWait)),
		slog.Int("database_max_conns", c.DatabaseMaxConns),
		slog.String("webhook_retry_schedule", scheduleString(c.WebhookRetrySchedule)),
		slog.String("webhook_retention", durationString(c.WebhookRetention)),
		slog.String("events_nats", redactURL(c.EventsNATSURL)),
		slog.String("request_timeout", durationString(c.RequestTimeout)),
		slog.String("shutdown_timeout", durationString(c.ShutdownTimeout)),
		slog.Int("client_rate_limit", c.ClientRateLimit),
		slog.Int("token_failure_limit", c.TokenFailureLimit),
		slog.String("redis", redisLog(c.RedisURL)),
		slog.Bool("trust_forwarded_for", c.TrustForwardedFor),
	)
}

// scheduleString is a retry schedule as WEBHOOK_RETRY_SCHEDULE writes it.
func scheduleString(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = durationString(d)
	}
	return strings.Join(parts, ",")
}

// durationString is d.String() without its zero minutes and seconds (24h, not 24h0m0s),
// still a value time.ParseDuration reads back.
func durationString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func redisLog(s string) string {
	if s == "" {
		return "none (limits per replica)"
	}
	return redactURL(s)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
