// Package deploy checks sesq's deployment artifacts where no Docker engine
// or cloud account is at hand: the Dockerfile against the Makefile, the
// Terraform module's wiring, and the LocalStack compose file against sesq's
// configuration.
package deploy

import (
	"fmt"
	"regexp"
	"strings"
)

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	Line int
	Cmd  string // upper case: FROM, RUN, USER, …
	Args string
}

// ParseDockerfile splits a Dockerfile into instructions, skipping comments
// and joining lines that end in a backslash.
func ParseDockerfile(src string) []Instruction {
	var out []Instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		} else if strings.HasPrefix(t, "#") {
			continue
		}
		if c, ok := strings.CutSuffix(t, "\\"); ok {
			cur.WriteString(c + " ")
			continue
		}
		cur.WriteString(t)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, Instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var pinned = regexp.MustCompile(`^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$`)

// BuildCommand is the build command of the Makefile: its BUILD variable and
// the build target's use of it, normalized (see normalizeBuild).
func BuildCommand(makefile string) (string, error) {
	var build, recipe string
	lines := strings.Split(makefile, "\n")
	for i, l := range lines {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "BUILD" {
			build = strings.TrimSpace(v)
		}
		if strings.HasPrefix(l, "build:") && i+1 < len(lines) {
			recipe = strings.TrimSpace(lines[i+1])
		}
	}
	if build == "" || !strings.HasPrefix(recipe, "$(BUILD)") {
		return "", fmt.Errorf("the Makefile has no BUILD variable used by the build target")
	}
	return normalizeBuild(strings.Replace(recipe, "$(BUILD)", build, 1)), nil
}

// normalizeBuild makes the Makefile's and the Dockerfile's spelling of the
// build command comparable: variables of either syntax become their names and
// the output path is dropped.
func normalizeBuild(cmd string) string {
	r := strings.NewReplacer("$(GO)", "go", "$(VERSION)", "VERSION", "${VERSION}", "VERSION", "$VERSION", "VERSION")
	f := strings.Fields(r.Replace(cmd))
	var out []string
	for i := 0; i < len(f); i++ {
		if f[i] == "-o" {
			i++
			continue
		}
		out = append(out, f[i])
	}
	return strings.Join(out, " ")
}

// CheckDockerfile lists what is wrong with the Dockerfile: a base image not
// pinned by tag and digest, a final stage that runs as root or lacks the
// entrypoint, command or health check, and a build command that is not the
// Makefile's.
func CheckDockerfile(dockerfile, makefile string) []string {
	var probs []string
	ins := ParseDockerfile(dockerfile)
	stages := map[string]bool{}
	finalFrom, finalUser := -1, ""
	var buildRun string
	for i, in := range ins {
		switch in.Cmd {
		case "FROM":
			f := strings.Fields(in.Args)
			var image string
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					image = w
					break
				}
			}
			if !stages[strings.ToLower(image)] && !pinned.MatchString(image) {
				probs = append(probs, fmt.Sprintf("line %d: base image %q is not pinned as NAME:TAG@sha256:DIGEST", in.Line, image))
			}
			if len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				stages[strings.ToLower(f[len(f)-1])] = true // later FROMs may name it
			}
			finalFrom, finalUser = i, ""
		case "USER":
			finalUser = in.Args
		case "RUN":
			if strings.Contains(in.Args, "go build") {
				buildRun = in.Args
			}
		}
	}
	if finalFrom < 0 {
		return append(probs, "no FROM")
	}
	user := strings.TrimSpace(strings.SplitN(finalUser, ":", 2)[0])
	switch user {
	case "":
		probs = append(probs, "the final stage sets no USER: it would run as root")
	case "root", "0":
		probs = append(probs, "the final stage runs as root")
	}
	final := ins[finalFrom:]
	has := func(cmd, args string) bool {
		for _, in := range final {
			if in.Cmd == cmd && strings.ReplaceAll(in.Args, " ", "") == strings.ReplaceAll(args, " ", "") {
				return true
			}
		}
		return false
	}
	if !has("ENTRYPOINT", `["/sesq"]`) {
		probs = append(probs, `the final stage's ENTRYPOINT is not ["/sesq"]`)
	}
	if !has("CMD", `["run"]`) {
		probs = append(probs, `the final stage's CMD is not ["run"]`)
	}
	healthy := false
	for _, in := range final {
		healthy = healthy || in.Cmd == "HEALTHCHECK" && strings.Contains(in.Args, `"/sesq", "health"`)
	}
	if !healthy {
		probs = append(probs, "no HEALTHCHECK through sesq health in the final stage")
	}
	want, err := BuildCommand(makefile)
	switch {
	case err != nil:
		probs = append(probs, err.Error())
	case buildRun == "":
		probs = append(probs, "no RUN with go build")
	case normalizeBuild(buildRun) != want:
		probs = append(probs, fmt.Sprintf("the Dockerfile builds with %q but the Makefile with %q", normalizeBuild(buildRun), want))
	}
	return probs
}
