package config_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/config"
)

func TestLoadLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		vars                 map[string]string
		wantClient, wantFail int
		wantRedis            string
		wantXFF              bool
	}{
		{name: "defaults", wantClient: 500, wantFail: 10},
		{name: "off", vars: map[string]string{"CLIENT_RATE_LIMIT": "0", "TOKEN_FAILURE_LIMIT": "0"}},
		{
			name:       "set",
			vars:       map[string]string{"CLIENT_RATE_LIMIT": "50", "TOKEN_FAILURE_LIMIT": "3", "REDIS_URL": "redis://:pw@cache:6379/2", "TRUST_FORWARDED_FOR": "true"},
			wantClient: 50, wantFail: 3, wantRedis: "redis://:pw@cache:6379/2", wantXFF: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, tt.vars)
			if c.ClientRateLimit != tt.wantClient || c.TokenFailureLimit != tt.wantFail || c.RedisURL != tt.wantRedis || c.TrustForwardedFor != tt.wantXFF {
				t.Errorf("limits %d, %d, %q, %v", c.ClientRateLimit, c.TokenFailureLimit, c.RedisURL, c.TrustForwardedFor)
			}
		})
	}
}

func TestLoadLimitsInvalid(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"CLIENT_RATE_LIMIT":   "-1",
		"TOKEN_FAILURE_LIMIT": "ten",
		"REDIS_URL":           "http://cache:6379",
		"TRUST_FORWARDED_FOR": "1",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(env(map[string]string{name: value}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v", name, value, err)
			}
		})
	}
}

func TestLogValueMasksRedisPassword(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, map[string]string{"REDIS_URL": "redis://default:redispass-77@cache:6379/0"})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", slog.Any("config", c))
	if strings.Contains(buf.String(), "redispass-77") || !strings.Contains(buf.String(), "cache:6379") {
		t.Errorf("logged %s", buf.String())
	}
}
