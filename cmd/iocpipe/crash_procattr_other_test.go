//go:build unix && !linux

package main

import "syscall"

// crashProcAttr: no parent-death signal here; t.Cleanup kills the process.
func crashProcAttr() *syscall.SysProcAttr { return nil }
