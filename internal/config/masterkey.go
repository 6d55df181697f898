package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/keys"
)

// loadMasterKey reads MASTER_KEY or MASTER_KEY_FILE (or the deprecated
// CARD_FINGERPRINT_KEY, which means the same key) into c.MasterKeys. Values are never
// echoed: they are secrets.
func (c *Config) loadMasterKey(getenv func(string) string, bad func(name, format string, args ...any)) {
	inline := strings.TrimSpace(getenv("MASTER_KEY"))
	file := strings.TrimSpace(getenv("MASTER_KEY_FILE"))
	legacy := strings.TrimSpace(getenv("CARD_FINGERPRINT_KEY"))
	versionVar, versionText := "MASTER_KEY_VERSION", strings.TrimSpace(getenv("MASTER_KEY_VERSION"))
	var name, value string
	switch {
	case inline != "" && file != "":
		bad("MASTER_KEY_FILE", "set either MASTER_KEY or MASTER_KEY_FILE, not both")
		return
	case legacy != "" && (inline != "" || file != ""):
		bad("CARD_FINGERPRINT_KEY", "is deprecated and replaced by MASTER_KEY/MASTER_KEY_FILE; set only those")
		return
	case inline != "":
		name, value = "MASTER_KEY", inline
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The path is no secret; the error says whether it is missing or unreadable.
			bad("MASTER_KEY_FILE", "cannot read the key file: %v", err)
			return
		}
		name, value = "MASTER_KEY_FILE", string(b)
		c.MasterKeySource = "MASTER_KEY_FILE " + file
	case legacy != "":
		name, value = "CARD_FINGERPRINT_KEY", legacy
		versionVar, versionText = "CARD_FINGERPRINT_KEY_VERSION", strings.TrimSpace(getenv("CARD_FINGERPRINT_KEY_VERSION"))
		c.Warnings = append(c.Warnings, "CARD_FINGERPRINT_KEY and CARD_FINGERPRINT_KEY_VERSION are deprecated and will be removed in the next version: "+
			"set the same key as MASTER_KEY (or MASTER_KEY_FILE) and its version as MASTER_KEY_VERSION; fingerprints stay the same")
	}
	if getenv("CARD_FINGERPRINT_KEY_VERSION") != "" && legacy == "" {
		bad("CARD_FINGERPRINT_KEY_VERSION", "is only meaningful with CARD_FINGERPRINT_KEY (deprecated: use MASTER_KEY_VERSION)")
	}
	if name == "" {
		if versionText != "" {
			bad("MASTER_KEY_VERSION", "is only meaningful with MASTER_KEY or MASTER_KEY_FILE")
		}
		if c.DatabaseURL != "" {
			bad("MASTER_KEY", "DATABASE_URL is set, so MASTER_KEY or MASTER_KEY_FILE is required: every replica must share the master key, "+
				"and a generated one would not be shared. Generate one with `openssl rand -hex 32`; if an earlier version generated "+
				"the key into the database, export it first with `subaccountd export-master-key --out FILE` and set MASTER_KEY_FILE=FILE")
		}
		return
	}
	version := 1
	if versionText != "" {
		n, err := strconv.Atoi(versionText)
		if err != nil || n < 1 {
			bad(versionVar, "must be a positive integer, got %q", versionText)
			return
		}
		version = n
	}
	masters, err := keys.ParseMasters(value, version)
	if err != nil {
		bad(name, "must be at least 32 bytes, hex or base64 encoded, or VERSION:KEY entries: %v", err)
		return
	}
	if len(masters) > 1 || strings.Contains(value, ":") {
		if versionText != "" {
			bad(versionVar, "must not be set when %s holds VERSION:KEY entries", name)
			return
		}
	}
	if _, err := keys.NewRing(masters[0], masters[1:]...); err != nil {
		bad(name, "%v", err)
		return
	}
	c.MasterKeys = masters
	if c.MasterKeySource == "" {
		c.MasterKeySource = name
	}
}

// masterKeyLog describes the master key without revealing it.
func (c Config) masterKeyLog() string {
	if len(c.MasterKeys) == 0 {
		return "key file in " + keys.DefaultFile(c.DataDir) + " (embedded default)"
	}
	versions := make([]string, len(c.MasterKeys))
	for i, m := range c.MasterKeys {
		versions[i] = strconv.Itoa(m.Version)
	}
	return fmt.Sprintf("%s, current version %d, versions %s", c.MasterKeySource, c.MasterKeys[0].Version, strings.Join(versions, ","))
}
