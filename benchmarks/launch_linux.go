package main

import (
	"os"
	"syscall"
)

// childProcAttr kills the child when the launcher dies.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// maxRSSBytes returns the peak RSS of an exited process: Maxrss is in KiB
// on Linux.
func maxRSSBytes(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}
