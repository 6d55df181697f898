package config_test

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cardseg/subaccounts/internal/config"
)

// recorder is a getenv that remembers every name asked for and answers from vars.
type recorder struct {
	mu   sync.Mutex
	vars map[string]string
	read map[string]bool
}

func (r *recorder) getenv(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil {
		r.read = map[string]bool{}
	}
	r.read[name] = true
	return r.vars[name]
}

func tableNames() map[string]bool {
	names := map[string]bool{}
	for _, v := range config.Variables {
		names[v.Name] = true
	}
	return names
}

// TestLoadReadsOnlyListedVariables fails when Load reads a variable config.Variables
// lacks, so --help and the README cannot fall behind the code.
func TestLoadReadsOnlyListedVariables(t *testing.T) {
	t.Parallel()
	everySet := map[string]string{}
	for _, v := range config.Variables {
		everySet[v.Name] = "x"
	}
	envs := []struct {
		name string
		vars map[string]string
	}{
		{"empty environment", nil},
		// Every listed variable set (to nonsense) reaches the reads that depend on
		// another variable being set.
		{"every listed variable set", everySet},
		{"admin and fingerprint key", map[string]string{
			"ADMIN_CLIENT_ID": "ops", "ADMIN_CLIENT_SECRET": strings.Repeat("s", 16),
			"CARD_FINGERPRINT_KEY": strings.Repeat("ab", 32), "DATABASE_URL": "postgres://h/db",
		}},
	}
	known := tableNames()
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{vars: e.vars}
			_, _ = config.Load(r.getenv)
			if len(r.read) == 0 {
				t.Fatal("Load read no variable through getenv")
			}
			for name := range r.read {
				if !known[name] {
					t.Errorf("Load reads %s, which config.Variables does not list", name)
				}
			}
		})
	}
}

func TestVariablesWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, v := range config.Variables {
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		if v.Name == "" || strings.ToUpper(v.Name) != v.Name || v.Default == "" || v.Meaning == "" {
			t.Errorf("row %+v: want an upper-case name, a default and a meaning", v)
		}
	}
}

// TestREADMEListsEveryVariable keeps the README's configuration table in step with
// config.Variables.
func TestREADMEListsEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var table strings.Builder
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "|") {
			table.WriteString(line + "\n")
		}
	}
	for _, v := range config.Variables {
		if !strings.Contains(table.String(), "`"+v.Name+"`") {
			t.Errorf("README.md's configuration table does not list `%s`", v.Name)
		}
	}
}
