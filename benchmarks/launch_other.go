//go:build !linux

package main

import (
	"os"
	"runtime"
	"syscall"
)

func childProcAttr() *syscall.SysProcAttr { return nil }

// maxRSSBytes returns the peak RSS of an exited process: Maxrss is in bytes
// on macOS and in KiB on the BSDs.
func maxRSSBytes(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
