package main

import "syscall"

// crashProcAttr makes a watch process die with the test process, even when
// the test binary is killed or times out.
func crashProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
