package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// machine describes where the run happened.
type machine struct {
	cpuModel string
	cpus     int
	memory   string
	os       string
	kernel   string
	goVer    string
	revision string
	loadavg  string // when the run began: other work on the machine shares its CPUs
	postgres postgresInfo
}

type postgresInfo struct {
	version  string
	settings [][2]string
}

func describeMachine(ctx context.Context) machine {
	m := machine{cpuModel: "unknown", memory: "unknown", os: "unknown", kernel: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.cpuModel, m.cpus = parseCPUInfo(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.memory = parseMemTotal(string(data))
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		m.os = parseOSRelease(string(data))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			m.loadavg = strings.Join(f[:3], " ")
		}
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.goVer = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.revision = strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.revision += " with uncommitted changes"
		}
	}
	return m
}

// parseCPUInfo returns the first model name and the number of processors.
func parseCPUInfo(s string) (string, int) {
	model, n := "unknown", 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "unknown" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return model, n
}

func parseMemTotal(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

func parseOSRelease(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}

// postgresSettings are the server settings that decide commit and cache behaviour.
var postgresSettings = []string{
	"synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "full_page_writes",
	"shared_buffers", "max_connections", "max_wal_size",
}

func describePostgres(ctx context.Context, url string) (postgresInfo, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return postgresInfo{}, err
	}
	defer conn.Close(context.Background())
	var info postgresInfo
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&info.version); err != nil {
		return info, err
	}
	for _, name := range postgresSettings {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return info, fmt.Errorf("setting %s: %w", name, err)
		}
		info.settings = append(info.settings, [2]string{name, v})
	}
	return info, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// processCPU returns the user and system CPU time pid has used, from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(data))
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat line.
// The command name (field 2) may hold spaces and parentheses, so fields are counted
// from its closing parenthesis.
func parseProcStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat line has %d fields after the command, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat line: utime %q, stime %q", f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU returns the CPU time used so far by each PostgreSQL backend of conn's
// database but conn's own, by pid: client backends (the servers' pools) and autovacuum
// workers there, read from /proc (world-readable, though they run as another user). The
// cluster's shared processes (WAL writer, checkpointer, …) are left out: other
// databases on the server use them too.
func backendCPU(ctx context.Context, conn *pgx.Conn) (map[int]time.Duration, error) {
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		// A backend that ended since the query has no CPU to read.
		if d, err := processCPU(int(pid)); err == nil {
			out[int(pid)] = d
		}
	}
	return out, nil
}

// backendCPUDelta is the CPU the backends used between two readings: the growth of
// those in both, and all of a backend that started in between. A backend that ended in
// between is lost, which a pool's long-lived connections make rare.
func backendCPUDelta(before, after map[int]time.Duration) time.Duration {
	var sum time.Duration
	for pid, d := range after {
		if b, ok := before[pid]; ok && b <= d {
			sum += d - b
		} else {
			sum += d
		}
	}
	return sum
}
