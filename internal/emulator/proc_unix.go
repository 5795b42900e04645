//go:build unix && !linux

package emulator

import "syscall"

// processGroup starts the emulator in a process group of its own. macOS
// and the BSDs have no parent-death signal: an emulator can outlive a test
// binary that crashed (Stop ends it otherwise).
func processGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
