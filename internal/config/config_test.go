package config_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/config"
)

// env returns a getenv over a fixed map, so tests never read the process environment.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func mustLoad(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	c, err := config.Load(env(vars))
	if err != nil {
		t.Fatalf("Load(%v): %v", vars, err)
	}
	return c
}

// masterHex is a 32-byte master key, hex encoded.
var masterHex = strings.Repeat("ab", 16) + strings.Repeat("01", 16)

// keyFile writes content to a new file and returns its path.
func keyFile(content string) string {
	dir, err := os.MkdirTemp("", "masterkey")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "master.key")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		panic(err)
	}
	return path
}

// wantMasters checks the loaded master key versions, newest first.
func wantMasters(t *testing.T, c config.Config, versions ...int) {
	t.Helper()
	var got []int
	for _, m := range c.MasterKeys {
		got = append(got, m.Version)
		if len(m.Key) < 32 {
			t.Errorf("version %d: key of %d bytes", m.Version, len(m.Key))
		}
	}
	if !reflect.DeepEqual(got, versions) {
		t.Errorf("master key versions %v, want %v", got, versions)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"ListenAddr", c.ListenAddr, "127.0.0.1:8080"},
		{"PublicURL", c.PublicURL, "http://127.0.0.1:8080"},
		{"DatabaseURL", c.DatabaseURL, ""},
		{"DataDir", c.DataDir, "./data"},
		{"OIDCIssuerURL", c.OIDCIssuerURL, ""},
		{"OIDCAudience", c.OIDCAudience, "subaccounts-api"},
		{"AccountClaim", c.AccountClaim, "account_id"},
		{"AdminClientID", c.AdminClientID, ""},
		{"AdminClientSecret", c.AdminClientSecret, ""},
		{"TokenMaxLifetime", c.TokenMaxLifetime, 24 * time.Hour},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"MasterKeys", len(c.MasterKeys), 0},
		{"Warnings", len(c.Warnings), 0},
		{"GroupCommitMaxBatch", c.GroupCommitMaxBatch, 256},
		{"DatabaseMaxConns", c.DatabaseMaxConns, 32},
		{"GroupCommitMaxWait", c.GroupCommitMaxWait, 2 * time.Millisecond},
		{"BuiltInIssuer", c.BuiltInIssuer(), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, c config.Config)
	}{
		{
			name: "public url follows listen addr",
			vars: map[string]string{"LISTEN_ADDR": "0.0.0.0:9000"},
			check: func(t *testing.T, c config.Config) {
				if c.PublicURL != "http://0.0.0.0:9000" {
					t.Errorf("PublicURL = %q", c.PublicURL)
				}
			},
		},
		{
			name: "metrics addr defaults to loopback 9090",
			vars: map[string]string{},
			check: func(t *testing.T, c config.Config) {
				if c.MetricsAddr != "127.0.0.1:9090" {
					t.Errorf("MetricsAddr = %q", c.MetricsAddr)
				}
			},
		},
		{
			name: "metrics off",
			vars: map[string]string{"METRICS_ADDR": "off"},
			check: func(t *testing.T, c config.Config) {
				if c.MetricsAddr != "" {
					t.Errorf("MetricsAddr = %q, want empty (off)", c.MetricsAddr)
				}
			},
		},
		{
			name: "public url trailing slash trimmed",
			vars: map[string]string{"PUBLIC_URL": "https://api.example.com/"},
			check: func(t *testing.T, c config.Config) {
				if c.PublicURL != "https://api.example.com" {
					t.Errorf("PublicURL = %q", c.PublicURL)
				}
			},
		},
		{
			name: "values are trimmed",
			vars: map[string]string{"OIDC_AUDIENCE": "  aud  ", "DATA_DIR": " /var/lib/x "},
			check: func(t *testing.T, c config.Config) {
				if c.OIDCAudience != "aud" || c.DataDir != "/var/lib/x" {
					t.Errorf("OIDCAudience = %q, DataDir = %q", c.OIDCAudience, c.DataDir)
				}
			},
		},
		{
			name: "external issuer",
			vars: map[string]string{"OIDC_ISSUER_URL": "https://idp.example.com/realms/x"},
			check: func(t *testing.T, c config.Config) {
				if c.BuiltInIssuer() {
					t.Error("BuiltInIssuer() = true with OIDC_ISSUER_URL set")
				}
			},
		},
		{
			name: "postgres and postgresql schemes",
			vars: map[string]string{"DATABASE_URL": "postgresql://u:p@h:5432/db", "MASTER_KEY": masterHex},
			check: func(t *testing.T, c config.Config) {
				if c.DatabaseURL != "postgresql://u:p@h:5432/db" {
					t.Errorf("DatabaseURL = %q", c.DatabaseURL)
				}
			},
		},
		{
			name: "admin credentials together",
			vars: map[string]string{"ADMIN_CLIENT_ID": "ops", "ADMIN_CLIENT_SECRET": strings.Repeat("s", 16)},
			check: func(t *testing.T, c config.Config) {
				if c.AdminClientID != "ops" || c.AdminClientSecret != strings.Repeat("s", 16) {
					t.Errorf("AdminClientID = %q, AdminClientSecret = %q", c.AdminClientID, c.AdminClientSecret)
				}
			},
		},
		{
			name: "shortest token lifetime",
			vars: map[string]string{"TOKEN_MAX_LIFETIME": "1m"},
			check: func(t *testing.T, c config.Config) {
				if c.TokenMaxLifetime != time.Minute {
					t.Errorf("TokenMaxLifetime = %v", c.TokenMaxLifetime)
				}
			},
		},
		{
			name: "log level case-insensitive",
			vars: map[string]string{"LOG_LEVEL": "debug"},
			check: func(t *testing.T, c config.Config) {
				if c.LogLevel != slog.LevelDebug {
					t.Errorf("LogLevel = %v", c.LogLevel)
				}
			},
		},
		{
			name: "deprecated fingerprint key is the master key",
			vars: map[string]string{"CARD_FINGERPRINT_KEY": strings.Repeat("ab", 32), "CARD_FINGERPRINT_KEY_VERSION": "3"},
			check: func(t *testing.T, c config.Config) {
				wantMasters(t, c, 3)
				if c.MasterKeys[0].Key[0] != 0xab {
					t.Errorf("key starts %x", c.MasterKeys[0].Key[0])
				}
				if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "deprecated") || !strings.Contains(c.Warnings[0], "MASTER_KEY") {
					t.Errorf("Warnings = %q, want one deprecation naming MASTER_KEY", c.Warnings)
				}
				if strings.Contains(fmt.Sprint(c.LogValue()), "abab") {
					t.Errorf("LogValue leaks the key: %v", c.LogValue())
				}
			},
		},
		{
			name: "master key hex with version",
			vars: map[string]string{"MASTER_KEY": masterHex, "MASTER_KEY_VERSION": "2"},
			check: func(t *testing.T, c config.Config) {
				wantMasters(t, c, 2)
				if len(c.Warnings) != 0 {
					t.Errorf("Warnings = %q", c.Warnings)
				}
				if strings.Contains(fmt.Sprint(c.LogValue()), masterHex[:16]) {
					t.Errorf("LogValue leaks the key: %v", c.LogValue())
				}
			},
		},
		{
			name: "master key base64",
			vars: map[string]string{"MASTER_KEY": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))},
			check: func(t *testing.T, c config.Config) {
				wantMasters(t, c, 1)
				if string(c.MasterKeys[0].Key) != strings.Repeat("k", 32) {
					t.Error("base64 key decoded wrong")
				}
			},
		},
		{
			name: "master key versions, newest current",
			vars: map[string]string{"MASTER_KEY": "1:" + masterHex + ",3:" + strings.Repeat("cd", 32) + ",\n2:" + strings.Repeat("ef", 32)},
			check: func(t *testing.T, c config.Config) {
				wantMasters(t, c, 3, 2, 1)
			},
		},
		{
			name: "master key file with trailing newline",
			vars: map[string]string{"MASTER_KEY_FILE": keyFile(masterHex + "\n")},
			check: func(t *testing.T, c config.Config) {
				wantMasters(t, c, 1)
				if !strings.Contains(fmt.Sprint(c.LogValue()), "MASTER_KEY_FILE") {
					t.Errorf("LogValue does not name the source: %v", c.LogValue())
				}
			},
		},
		{
			name: "master key file with versioned lines",
			vars: map[string]string{"MASTER_KEY_FILE": keyFile("2:" + strings.Repeat("cd", 32) + "\n1:" + masterHex + "\n")},
			check: func(t *testing.T, c config.Config) {
				wantMasters(t, c, 2, 1)
			},
		},
		{
			name: "pool size",
			vars: map[string]string{"DATABASE_MAX_CONNS": "12"},
			check: func(t *testing.T, c config.Config) {
				if c.DatabaseMaxConns != 12 {
					t.Errorf("DatabaseMaxConns = %d, want 12", c.DatabaseMaxConns)
				}
			},
		},
		{
			name: "group commit tuning",
			vars: map[string]string{"GROUP_COMMIT_MAX_BATCH": "64", "GROUP_COMMIT_MAX_WAIT": "500us"},
			check: func(t *testing.T, c config.Config) {
				if c.GroupCommitMaxBatch != 64 || c.GroupCommitMaxWait != 500*time.Microsecond {
					t.Errorf("batch %d wait %v", c.GroupCommitMaxBatch, c.GroupCommitMaxWait)
				}
			},
		},
		{
			name: "timeouts default",
			vars: map[string]string{},
			check: func(t *testing.T, c config.Config) {
				if c.RequestTimeout != 10*time.Second || c.ShutdownTimeout != 15*time.Second {
					t.Errorf("request %v shutdown %v, want 10s and 15s", c.RequestTimeout, c.ShutdownTimeout)
				}
			},
		},
		{
			name: "timeouts set",
			vars: map[string]string{"REQUEST_TIMEOUT": "1500ms", "SHUTDOWN_TIMEOUT": "1m"},
			check: func(t *testing.T, c config.Config) {
				if c.RequestTimeout != 1500*time.Millisecond || c.ShutdownTimeout != time.Minute {
					t.Errorf("request %v shutdown %v, want 1.5s and 1m", c.RequestTimeout, c.ShutdownTimeout)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, mustLoad(t, tt.vars))
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	okSecret := strings.Repeat("s", 16)
	tests := []struct {
		name    string
		vars    map[string]string
		naming  string
		secrets []string // must not appear in the error
	}{
		{name: "listen addr without port", vars: map[string]string{"LISTEN_ADDR": "nope"}, naming: "LISTEN_ADDR"},
		{name: "metrics addr without port", vars: map[string]string{"METRICS_ADDR": "127.0.0.1"}, naming: "METRICS_ADDR"},
		{name: "metrics on the public port", vars: map[string]string{"LISTEN_ADDR": "0.0.0.0:8080", "METRICS_ADDR": "0.0.0.0:8080"}, naming: "METRICS_ADDR"},
		{name: "public url ftp", vars: map[string]string{"PUBLIC_URL": "ftp://x"}, naming: "PUBLIC_URL"},
		{name: "public url relative", vars: map[string]string{"PUBLIC_URL": "/api"}, naming: "PUBLIC_URL"},
		{
			name:    "database url mysql",
			vars:    map[string]string{"DATABASE_URL": "mysql://u:secret@h/db"},
			naming:  "DATABASE_URL",
			secrets: []string{"secret", "mysql://"},
		},
		{name: "issuer not a url", vars: map[string]string{"OIDC_ISSUER_URL": "not a url"}, naming: "OIDC_ISSUER_URL"},
		{name: "account claim sub", vars: map[string]string{"AUTH_ACCOUNT_CLAIM": "sub"}, naming: "AUTH_ACCOUNT_CLAIM"},
		{name: "admin id without secret", vars: map[string]string{"ADMIN_CLIENT_ID": "ops"}, naming: "ADMIN_CLIENT_ID"},
		{
			name:    "admin secret without id",
			vars:    map[string]string{"ADMIN_CLIENT_SECRET": "topsecretvalue-123"},
			naming:  "ADMIN_CLIENT_SECRET",
			secrets: []string{"topsecretvalue-123"},
		},
		{
			name:    "admin secret too short",
			vars:    map[string]string{"ADMIN_CLIENT_ID": "ops", "ADMIN_CLIENT_SECRET": "short-pw"},
			naming:  "ADMIN_CLIENT_SECRET",
			secrets: []string{"short-pw"},
		},
		{
			name:   "admin secret too long",
			vars:   map[string]string{"ADMIN_CLIENT_ID": "ops", "ADMIN_CLIENT_SECRET": strings.Repeat("x", 73)},
			naming: "ADMIN_CLIENT_SECRET",
		},
		{
			name:   "admin id with colon",
			vars:   map[string]string{"ADMIN_CLIENT_ID": "a:b", "ADMIN_CLIENT_SECRET": okSecret},
			naming: "ADMIN_CLIENT_ID",
		},
		{name: "lifetime not a duration", vars: map[string]string{"TOKEN_MAX_LIFETIME": "abc"}, naming: "TOKEN_MAX_LIFETIME"},
		{name: "lifetime too short", vars: map[string]string{"TOKEN_MAX_LIFETIME": "10s"}, naming: "TOKEN_MAX_LIFETIME"},
		{name: "lifetime just under a minute", vars: map[string]string{"TOKEN_MAX_LIFETIME": "59s"}, naming: "TOKEN_MAX_LIFETIME"},
		{name: "log level unknown", vars: map[string]string{"LOG_LEVEL": "LOUD"}, naming: "LOG_LEVEL"},
		{
			name:    "fingerprint key too short",
			vars:    map[string]string{"CARD_FINGERPRINT_KEY": "c2hvcnQtc2VjcmV0LWtleQ"},
			naming:  "CARD_FINGERPRINT_KEY",
			secrets: []string{"c2hvcnQtc2VjcmV0LWtleQ"},
		},
		{
			name:   "postgres without master key",
			vars:   map[string]string{"DATABASE_URL": "postgres://h/db"},
			naming: "MASTER_KEY_FILE",
		},
		{
			name:    "master key and file",
			vars:    map[string]string{"MASTER_KEY": masterHex, "MASTER_KEY_FILE": "/run/secrets/master_key"},
			naming:  "MASTER_KEY_FILE",
			secrets: []string{masterHex[:16]},
		},
		{
			name:    "master key and deprecated fingerprint key",
			vars:    map[string]string{"MASTER_KEY": masterHex, "CARD_FINGERPRINT_KEY": masterHex},
			naming:  "CARD_FINGERPRINT_KEY",
			secrets: []string{masterHex[:16]},
		},
		{
			name:    "master key too short",
			vars:    map[string]string{"MASTER_KEY": "c2hvcnQtc2VjcmV0LWtleQ"},
			naming:  "MASTER_KEY",
			secrets: []string{"c2hvcnQtc2VjcmV0LWtleQ"},
		},
		{
			name:    "master key entry malformed",
			vars:    map[string]string{"MASTER_KEY": "x:" + masterHex},
			naming:  "MASTER_KEY",
			secrets: []string{masterHex[:16]},
		},
		{
			name:    "master key version twice",
			vars:    map[string]string{"MASTER_KEY": "1:" + masterHex + ",1:" + strings.Repeat("cd", 32)},
			naming:  "MASTER_KEY",
			secrets: []string{masterHex[:16]},
		},
		{name: "master key version with entries", vars: map[string]string{"MASTER_KEY": "1:" + masterHex, "MASTER_KEY_VERSION": "2"}, naming: "MASTER_KEY_VERSION"},
		{name: "master key version without key", vars: map[string]string{"MASTER_KEY_VERSION": "2"}, naming: "MASTER_KEY_VERSION"},
		{name: "master key version zero", vars: map[string]string{"MASTER_KEY": masterHex, "MASTER_KEY_VERSION": "0"}, naming: "MASTER_KEY_VERSION"},
		{name: "master key file missing", vars: map[string]string{"MASTER_KEY_FILE": "/nonexistent/master.key"}, naming: "MASTER_KEY_FILE"},
		{name: "fingerprint version without key", vars: map[string]string{"CARD_FINGERPRINT_KEY_VERSION": "2"}, naming: "CARD_FINGERPRINT_KEY_VERSION"},
		{name: "fingerprint version zero", vars: map[string]string{"CARD_FINGERPRINT_KEY": strings.Repeat("ab", 32), "CARD_FINGERPRINT_KEY_VERSION": "0"}, naming: "CARD_FINGERPRINT_KEY_VERSION"},
		{name: "pool of one", vars: map[string]string{"DATABASE_MAX_CONNS": "1"}, naming: "DATABASE_MAX_CONNS"},
		{name: "pool not a number", vars: map[string]string{"DATABASE_MAX_CONNS": "lots"}, naming: "DATABASE_MAX_CONNS"},
		{name: "group batch too big", vars: map[string]string{"GROUP_COMMIT_MAX_BATCH": "5000"}, naming: "GROUP_COMMIT_MAX_BATCH"},
		{name: "group wait not a duration", vars: map[string]string{"GROUP_COMMIT_MAX_WAIT": "soon"}, naming: "GROUP_COMMIT_MAX_WAIT"},
		{name: "request timeout not a duration", vars: map[string]string{"REQUEST_TIMEOUT": "10"}, naming: "REQUEST_TIMEOUT"},
		{name: "request timeout too short", vars: map[string]string{"REQUEST_TIMEOUT": "1ms"}, naming: "REQUEST_TIMEOUT"},
		{name: "shutdown timeout zero", vars: map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, naming: "SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(env(tt.vars))
			if err == nil {
				t.Fatalf("Load succeeded with %+v", c)
			}
			if !strings.Contains(err.Error(), tt.naming) {
				t.Errorf("error %q does not name %s", err, tt.naming)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks %q", err, s)
				}
			}
			if !reflect.DeepEqual(c, config.Config{}) {
				t.Errorf("Load returned a non-zero Config alongside its error: %+v", c)
			}
		})
	}
}

func TestLoadReportsEveryBadVariable(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(map[string]string{
		"LISTEN_ADDR":        "nope",
		"PUBLIC_URL":         "ftp://x",
		"DATABASE_URL":       "mysql://u:secret@h/db",
		"OIDC_ISSUER_URL":    "not a url",
		"TOKEN_MAX_LIFETIME": "abc",
		"LOG_LEVEL":          "LOUD",
	}))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, name := range []string{"LISTEN_ADDR", "PUBLIC_URL", "DATABASE_URL", "OIDC_ISSUER_URL", "TOKEN_MAX_LIFETIME", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the database password: %v", err)
	}
}

// logged renders c through slog's JSON handler, the way the server logs it at start-up.
func logged(t *testing.T, c config.Config) (string, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	var rec struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("decode log line %q: %v", buf.String(), err)
	}
	return buf.String(), rec.Config
}

func TestLogValueMasksSecrets(t *testing.T) {
	t.Parallel()
	const adminSecret = "admin-secret-value-0123456789"
	tests := []struct {
		name     string
		dbURL    string
		wantDB   string
		mustNot  []string
		wantSubs []string
	}{
		{
			name:     "password in userinfo",
			dbURL:    "postgres://svc:dbpass-4242@db.internal:5432/subaccounts?sslmode=require",
			wantSubs: []string{"svc@db.internal:5432/subaccounts", "sslmode=require"},
			mustNot:  []string{"dbpass-4242"},
		},
		{
			name:     "password in query",
			dbURL:    "postgres://db.internal/subaccounts?user=svc&password=dbpass-4242",
			wantSubs: []string{"db.internal/subaccounts", "user=svc"},
			mustNot:  []string{"dbpass-4242"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, map[string]string{
				"DATABASE_URL":        tt.dbURL,
				"MASTER_KEY":          masterHex,
				"ADMIN_CLIENT_ID":     "ops",
				"ADMIN_CLIENT_SECRET": adminSecret,
			})
			line, fields := logged(t, c)
			for _, s := range append(tt.mustNot, adminSecret) {
				if strings.Contains(line, s) {
					t.Errorf("log line leaks %q: %s", s, line)
				}
			}
			db, _ := fields["database"].(string)
			for _, s := range tt.wantSubs {
				if !strings.Contains(db, s) {
					t.Errorf("database = %q, want it to contain %q", db, s)
				}
			}
			if fields["admin_client_id"] != "ops" {
				t.Errorf("admin_client_id = %v, want ops", fields["admin_client_id"])
			}
			if fields["admin_client_secret_set"] != true {
				t.Errorf("admin_client_secret_set = %v, want true", fields["admin_client_secret_set"])
			}
		})
	}
}

func TestLogValueEmbedded(t *testing.T) {
	t.Parallel()
	_, fields := logged(t, mustLoad(t, map[string]string{"DATA_DIR": "/srv/data"}))
	if got, want := fields["database"], "embedded sqlite in /srv/data"; got != want {
		t.Errorf("database = %v, want %q", got, want)
	}
	if got, want := fields["oidc_issuer"], "built-in at http://127.0.0.1:8080"; got != want {
		t.Errorf("oidc_issuer = %v, want %q", got, want)
	}
	if fields["admin_client_secret_set"] != false {
		t.Errorf("admin_client_secret_set = %v, want false", fields["admin_client_secret_set"])
	}
}
