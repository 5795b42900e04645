package emulator

import "syscall"

// processGroup starts the emulator in a process group of its own, killed
// when the test process dies (Linux's parent-death signal), so that no
// emulator outlives a test binary that crashed.
func processGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
