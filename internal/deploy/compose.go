package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

var pinnedTag = regexp.MustCompile(`^[^:\s]+:[0-9]+\.[0-9]+\.[0-9]+$`)

// InitStatus is where the LocalStack ready hook writes its result: "ready"
// or "failed" on the first line, what it skipped after.
const InitStatus = "/tmp/sesq-init.status"

// CheckCompose lists what is wrong with the LocalStack compose file: it must
// parse, pin LocalStack to a release, build sesq from the repository's
// Dockerfile, mount the init hook, report the hook's result in LocalStack's
// health check, and give sesq only variables it reads, the required ones
// among them, and a send rate (LocalStack's GetSendQuota says 1/s).
func CheckCompose(src string, configVars, required []string) []string {
	var c composeFile
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		return []string{fmt.Sprintf("docker-compose.yml does not parse: %v", err)}
	}
	var probs []string
	ls, ok := c.Services["localstack"]
	switch {
	case !ok:
		probs = append(probs, "no localstack service")
	case !strings.HasPrefix(ls.Image, "localstack/localstack:") || !pinnedTag.MatchString(ls.Image):
		probs = append(probs, fmt.Sprintf("localstack image %q is not pinned to a release tag", ls.Image))
	case !slices.ContainsFunc(ls.Volumes, func(v string) bool { return strings.Contains(v, "/etc/localstack/init/ready.d") }):
		probs = append(probs, "the init hook is not mounted into /etc/localstack/init/ready.d")
	case ls.Healthcheck == nil || !strings.Contains(strings.Join(ls.Healthcheck.Test, " "), InitStatus):
		probs = append(probs, "localstack's health check does not read the init hook's status ("+InitStatus+")")
	}
	s, ok := c.Services["sesq"]
	if !ok {
		return append(probs, "no sesq service")
	}
	if s.Build == nil || s.Build.Context != ".." || s.Build.Dockerfile != "Dockerfile" {
		probs = append(probs, "sesq is not built from the repository's Dockerfile")
	}
	for k := range s.Environment {
		if strings.HasPrefix(k, "SESQ_") && !slices.Contains(configVars, k) {
			probs = append(probs, fmt.Sprintf("sesq gets %s, which it does not read", k))
		}
	}
	for _, k := range required {
		if s.Environment[k] == "" {
			probs = append(probs, fmt.Sprintf("sesq does not get %s", k))
		}
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SES", "AWS_REGION", "SESQ_SEND_RATE"} {
		if s.Environment[k] == "" {
			probs = append(probs, fmt.Sprintf("sesq does not get %s", k))
		}
	}
	return probs
}
