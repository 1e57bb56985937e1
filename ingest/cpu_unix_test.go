//go:build unix

package ingest_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) the process has used so far. On a machine
// shared with other work it moves far less from one run to the next than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
