//go:build !linux

package main

import "os/exec"

// killWithParent does nothing where the kernel offers no parent-death signal; TestMain
// still kills the server at the end of a normal run.
func killWithParent(*exec.Cmd) {}
