package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Test-only code lives apart from production code: the binary links none
// of the test helpers (fakes, test endpoints, the emulator harness).
func TestBinaryLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, testOnly := range []string{"internal/sqsfake", "internal/testkit", "internal/sestest", "internal/smtptest", "internal/emulator"} {
			if pkg == "github.com/sesq/sesq/"+testOnly {
				t.Errorf("sesq links %s, which is test code", pkg)
			}
		}
	}
}
