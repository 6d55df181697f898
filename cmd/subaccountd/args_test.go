package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/config"
)

// TestHelpAndVersionTouchNothing runs run with --help, -h and --version: each answers on
// stdout and returns nil, and neither DATA_DIR nor the default ./data gets created.
func TestHelpAndVersionTouchNothing(t *testing.T) {
	t.Parallel()
	_, statErr := os.Stat("data")
	defaultExisted := statErr == nil
	tests := []struct {
		args      []string
		wantUsage bool
	}{
		{[]string{"subaccountd", "--help"}, true},
		{[]string{"subaccountd", "-help"}, true},
		{[]string{"subaccountd", "-h"}, true},
		{[]string{"subaccountd", "--version"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.args[1], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"DATA_DIR": dir + "/data", "LISTEN_ADDR": "127.0.0.1:0"}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(k string) string { return env[k] }, &stdout, &stderr)
			if err != nil {
				t.Fatalf("run(%q) = %v; stderr %q", tt.args, err, stderr.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("run(%q) created %s in DATA_DIR's parent", tt.args, entries[0].Name())
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
			out := stdout.String()
			if !tt.wantUsage {
				if !strings.HasPrefix(out, "subaccountd ") || strings.Count(out, "\n") != 1 {
					t.Errorf("version output %q, want one line naming subaccountd", out)
				}
				return
			}
			if !strings.HasPrefix(out, "Usage: subaccountd") {
				t.Errorf("usage starts %q", out[:min(len(out), 40)])
			}
			checkUsageLists(t, out)
		})
	}
	if _, err := os.Stat("data"); err == nil && !defaultExisted {
		t.Error("--help created ./data")
	}
}

// checkUsageLists checks that usage names every configuration variable with its default.
func checkUsageLists(t *testing.T, usage string) {
	t.Helper()
	for _, v := range config.Variables {
		found := false
		for _, line := range strings.Split(usage, "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && f[0] == v.Name && strings.Contains(line, v.Default) {
				found = true
			}
		}
		if !found {
			t.Errorf("usage has no line for %s with its default %q", v.Name, v.Default)
		}
	}
}

func TestUnknownArgumentsAreUsageErrors(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"subaccountd", "--port=8080"},
		{"subaccountd", "-x"},
		{"subaccountd", "serve"},
		{"subaccountd", "--help=maybe"},
		{"subaccountd", "--version", "extra"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"DATA_DIR": dir + "/data", "LISTEN_ADDR": "127.0.0.1:0"}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
			if !errors.Is(err, errUsage) {
				t.Fatalf("run(%q) = %v, want errUsage (exit 2)", args, err)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), "Usage: subaccountd") {
				t.Errorf("stderr %q has no usage", stderr.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("run(%q) created %s", args, entries[0].Name())
			}
		})
	}
}

// TestMainExitCodes runs main itself, in a copy of the test binary, for the exit codes
// a shell sees: 0 for --help, 2 for an unknown flag, 1 for invalid configuration.
func TestMainExitCodes(t *testing.T) {
	if os.Getenv("SUBACCOUNTD_TEST_MAIN") == "1" {
		os.Args = append([]string{"subaccountd"}, strings.Fields(os.Getenv("SUBACCOUNTD_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	t.Parallel()
	tests := []struct {
		args string
		env  string
		want int
	}{
		{args: "--help", want: 0},
		{args: "--version", want: 0},
		{args: "--no-such-flag", want: 2},
		{args: "extra", want: 2},
		{env: "TOKEN_MAX_LIFETIME=forever", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.args+tt.env, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMainExitCodes$")
			cmd.Env = append(os.Environ(), "SUBACCOUNTD_TEST_MAIN=1", "SUBACCOUNTD_TEST_ARGS="+tt.args, "DATA_DIR="+t.TempDir())
			if tt.env != "" {
				cmd.Env = append(cmd.Env, tt.env)
			}
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.want {
				t.Errorf("exit code %d, want %d; output %q", code, tt.want, out)
			}
		})
	}
}
