package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	if probs := CheckDockerfile(read(t, "Dockerfile"), read(t, "Makefile")); len(probs) > 0 {
		t.Errorf("Dockerfile:\n  %s", strings.Join(probs, "\n  "))
	}
}

// Each broken variant of the real Dockerfile is refused with the right reason.
func TestDockerfileCheckRefusesBrokenFixtures(t *testing.T) {
	good, makefile := read(t, "Dockerfile"), read(t, "Makefile")
	cases := []struct {
		name    string
		broken  func(string) string
		wantMsg string
	}{
		{"runs as root", func(s string) string { return strings.Replace(s, "USER 65532:65532", "USER root", 1) }, "runs as root"},
		{"runs as uid 0", func(s string) string { return strings.Replace(s, "USER 65532:65532", "USER 0:0", 1) }, "runs as root"},
		{"no USER", func(s string) string { return strings.Replace(s, "USER 65532:65532\n", "", 1) }, "sets no USER"},
		{"unpinned builder", func(s string) string {
			return strings.Replace(s, "golang:1.26.4-alpine@sha256:3ad57304ad93bbec8548a0437ad9e06a455660655d9af011d58b993f6f615648", "golang:1.26-alpine", 1)
		}, "not pinned"},
		{"digest without tag", func(s string) string {
			return strings.Replace(s, "gcr.io/distroless/static-debian12:nonroot@", "gcr.io/distroless/static-debian12@", 1)
		}, "not pinned"},
		{"build drifts", func(s string) string { return strings.Replace(s, "-trimpath ", "", 1) }, "the Dockerfile builds with"},
		{"cgo on", func(s string) string { return strings.Replace(s, "CGO_ENABLED=0 go build", "go build", 1) }, "the Dockerfile builds with"},
		{"no entrypoint", func(s string) string { return strings.Replace(s, `ENTRYPOINT ["/sesq"]`, `ENTRYPOINT ["/bin/sh"]`, 1) }, "ENTRYPOINT"},
		{"no health check", func(s string) string { return strings.Replace(s, `CMD ["/sesq", "health"]`, `NONE`, 1) }, "HEALTHCHECK"},
	}
	for _, c := range cases {
		broken := c.broken(good)
		if broken == good {
			t.Fatalf("%s: the fixture did not change the Dockerfile", c.name)
		}
		probs := CheckDockerfile(broken, makefile)
		if !strings.Contains(strings.Join(probs, "\n"), c.wantMsg) {
			t.Errorf("%s: problems %q, want one saying %q", c.name, probs, c.wantMsg)
		}
	}
	if probs := CheckDockerfile(good, strings.Replace(makefile, "-trimpath ", "", 1)); len(probs) == 0 {
		t.Error("a Makefile that drifted from the Dockerfile was accepted")
	}
}

// The Dockerfile's build command, run here: a broken image build shows up
// without Docker. The binary is static and stamped with its version.
func TestDockerfileBuildCommandBuilds(t *testing.T) {
	var run string
	for _, in := range ParseDockerfile(read(t, "Dockerfile")) {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			run = in.Args
		}
	}
	out := filepath.Join(t.TempDir(), "sesq")
	cmd := exec.Command("sh", "-c", strings.Replace(run, "/out/sesq", out, 1))
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked")
		}
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "sesq v0.0.0-test" {
		t.Errorf("version: %q, %v", v, err)
	}
}
