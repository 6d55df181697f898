//go:build !race

package main

// timeScale stretches the failure tests' deadlines; 1 without the race detector.
const timeScale = 1
