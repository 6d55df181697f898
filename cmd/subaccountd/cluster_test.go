package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cluster is a PostgreSQL cluster of the test's own, in a temporary directory on a port
// of its own, which the test may stop, start, freeze and thaw without touching the
// shared server.
type cluster struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	// asUser runs the server's commands as this user when the test runs as root
	// (initdb and postgres refuse root); empty otherwise.
	asUser string
}

// pgBinDir finds the PostgreSQL server binaries (Debian keeps them off PATH).
func pgBinDir() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); fileExists(filepath.Join(dir, "pg_ctl")) {
			return dir
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// newCluster initialises and starts a cluster, and removes it when the test ends. Without
// the binaries it skips, except under CI, where these tests must run.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL server binaries (initdb, pg_ctl) not found: under CI the failure tests must run")
		}
		t.Skip("PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql to run the failure tests")
	}
	c := &cluster{t: t, bin: bin, port: freePort(t)}
	// t.TempDir is private to root; the server's user must own its directory.
	dir, err := os.MkdirTemp("", "p4fail-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user to run the cluster as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = "postgres"
	}
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	t.Cleanup(func() {
		c.thaw()
		_ = c.cmd("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").Run()
	})
	c.start()
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the cluster's postgres database.
func (c *cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *cluster) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	var out bytes.Buffer
	cmd := c.cmd(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
}

// start starts the server and waits until it accepts connections.
func (c *cluster) start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", c.port, c.dir)
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "-t", "30", "start")
}

// stop shuts the server down the way an operator restarting it would (fast: sessions are
// terminated, 57P01).
func (c *cluster) stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
}

// pids are the postmaster's and its children's process ids.
func (c *cluster) pids() []int {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		c.t.Fatalf("postmaster.pid: %v", err)
	}
	pm, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		c.t.Fatalf("postmaster.pid: %v", err)
	}
	pids := []int{pm}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the parenthesised command: state, ppid, …
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// freeze stops every process of the cluster (SIGSTOP): connections stay open and new
// ones are accepted by the kernel, but nothing answers — a database hung on I/O.
func (c *cluster) freeze() {
	c.t.Helper()
	for _, pid := range c.pids() {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
}

// thaw resumes a frozen cluster.
func (c *cluster) thaw() {
	if !fileExists(filepath.Join(c.data(), "postmaster.pid")) {
		return
	}
	for _, pid := range c.pids() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	time.Sleep(50 * time.Millisecond)
}
