package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The `tofu fmt -check` that `make test` runs refuses a misformatted file.
// SESQ_TOFU names the OpenTofu binary (`make test` builds it and sets it).
func TestTofuFmtRefusesMisformattedFile(t *testing.T) {
	tofu := os.Getenv("SESQ_TOFU")
	if tofu == "" {
		t.Skip("SESQ_TOFU is not set: run through `make test`, which builds OpenTofu")
	}
	dir := t.TempDir()
	fmtCheck := func() error {
		cmd := exec.Command(tofu, "fmt", "-check", "-recursive", dir)
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null")
		return cmd.Run()
	}
	good := read(t, "terraform/modules/sesq/alarms.tf")
	if err := os.WriteFile(filepath.Join(dir, "alarms.tf"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fmtCheck(); err != nil {
		t.Fatalf("the module's own file fails tofu fmt -check: %v", err)
	}
	bad := strings.Replace(good, "  period              = 60", "  period = 60", 1)
	if err := os.WriteFile(filepath.Join(dir, "alarms.tf"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fmtCheck(); err == nil {
		t.Error("tofu fmt -check accepted a misformatted file")
	}
}
