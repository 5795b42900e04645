//go:build unix

package emulator

import "syscall"

// signalGroup signals the emulator's process group: npm's launcher and the
// node process under it.
func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}
