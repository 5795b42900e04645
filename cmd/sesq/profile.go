//go:build profile

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to $SESQ_CPUPROFILE until the returned
// stop runs, and an allocation profile to $SESQ_MEMPROFILE then. Only in
// binaries built with -tags profile (make bench-profile).
func startProfile() (stop func()) {
	mem := func() {
		if path := os.Getenv("SESQ_MEMPROFILE"); path != "" {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}
	path := os.Getenv("SESQ_CPUPROFILE")
	if path == "" {
		return mem
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sesq: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "sesq: cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		mem()
	}
}
