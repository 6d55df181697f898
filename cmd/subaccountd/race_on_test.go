//go:build race

package main

// timeScale stretches the failure tests' deadlines under the race detector, which makes
// bcrypt (client creation, token requests) several times slower than a 1 s deadline.
const timeScale = 4
