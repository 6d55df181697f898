//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill the server if the test binary dies without
// running TestMain's cleanup (a test timeout panics past it).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
