// Package config reads the service's configuration from the environment, validates it
// and fails fast with a message naming the offending variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cardseg/subaccounts/internal/pan"
)

// Config is the whole configuration of subaccountd.
type Config struct {
	ListenAddr        string
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
	// CardFingerprintKey is the decoded master key of card fingerprints; nil means the key
	// generated and stored at first start is used (the embedded default).
	CardFingerprintKey        []byte
	CardFingerprintKeyVersion int
	// GroupCommitMaxBatch and GroupCommitMaxWait bound one group of the transaction
	// ingestion group commit.
	GroupCommitMaxBatch int
	GroupCommitMaxWait  time.Duration

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
	if k := strings.TrimSpace(getenv("CARD_FINGERPRINT_KEY")); k != "" {
		key, err := pan.ParseKey(k)
		if err != nil {
			// Never echo the value: it is a secret.
			bad("CARD_FINGERPRINT_KEY", "must be at least 32 bytes, hex or base64 encoded")
		}
		c.CardFingerprintKey = key
	}
	version := get("CARD_FINGERPRINT_KEY_VERSION", "1")
	if n, err := strconv.Atoi(version); err != nil || n < 1 {
		bad("CARD_FINGERPRINT_KEY_VERSION", "must be a positive integer, got %q", version)
	} else {
		c.CardFingerprintKeyVersion = n
	}
	if getenv("CARD_FINGERPRINT_KEY_VERSION") != "" && c.CardFingerprintKey == nil {
		bad("CARD_FINGERPRINT_KEY_VERSION", "is only meaningful with CARD_FINGERPRINT_KEY")
	}
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
	loadLimits(&c, get, bad)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
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

// LogValue logs the configuration with secrets masked.
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
		slog.String("public_url", c.PublicURL),
		slog.String("database", db),
		slog.String("oidc_issuer", issuer),
		slog.String("oidc_audience", c.OIDCAudience),
		slog.String("account_claim", c.AccountClaim),
		slog.String("admin_client_id", c.AdminClientID),
		slog.Bool("admin_client_secret_set", c.AdminClientSecret != ""),
		slog.Duration("token_max_lifetime", c.TokenMaxLifetime),
		slog.String("log_level", c.LogLevel.String()),
		slog.Bool("card_fingerprint_key_set", c.CardFingerprintKey != nil),
		slog.Int("card_fingerprint_key_version", c.CardFingerprintKeyVersion),
		slog.Int("group_commit_max_batch", c.GroupCommitMaxBatch),
		slog.Duration("group_commit_max_wait", c.GroupCommitMaxWait),
		slog.Int("client_rate_limit", c.ClientRateLimit),
		slog.Int("token_failure_limit", c.TokenFailureLimit),
		slog.String("redis", redisLog(c.RedisURL)),
		slog.Bool("trust_forwarded_for", c.TrustForwardedFor),
	)
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
