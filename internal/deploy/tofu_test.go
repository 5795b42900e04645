package deploy

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tofuBinary is the OpenTofu binary SESQ_TOFU names (`make test` builds it
// and sets it); the test is skipped without it.
func tofuBinary(t *testing.T) string {
	t.Helper()
	tofu := os.Getenv("SESQ_TOFU")
	if tofu == "" {
		t.Skip("SESQ_TOFU is not set: run through `make test`, which builds OpenTofu")
	}
	return tofu
}

// The `tofu fmt -check` that `make test` runs refuses a misformatted file.
func TestTofuFmtRefusesMisformattedFile(t *testing.T) {
	tofu := tofuBinary(t)
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

// defaultProviderMirror is where this project's machines keep the AWS
// provider for offline use (registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/,
// the unpacked layout of a filesystem mirror). SESQ_TOFU_PROVIDERS names
// another.
const defaultProviderMirror = "/opt/tf-plugins"

// tofuWorkspace copies terraform/ into a temporary directory (tofu init
// writes .terraform and a lock file beside the configuration) and returns
// it with the environment that makes tofu install providers from the
// mirror only: no registry is reachable here.
func tofuWorkspace(t *testing.T) (string, []string) {
	t.Helper()
	mirror := os.Getenv("SESQ_TOFU_PROVIDERS")
	if mirror == "" {
		mirror = defaultProviderMirror
	}
	aws := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws")
	if _, err := os.Stat(aws); err != nil {
		t.Skipf("no AWS provider in a filesystem mirror at %s (set SESQ_TOFU_PROVIDERS): tofu validate needs the provider's schema, and no registry is reachable", mirror)
	}
	tmp := t.TempDir()
	// OpenTofu looks hashicorp/aws up under its own registry's host name,
	// and the mirror is laid out under Terraform's: a mirror of links has
	// both (links to the files: tofu does not follow a linked directory).
	local := filepath.Join(tmp, "mirror")
	for _, host := range []string{"registry.terraform.io", "registry.opentofu.org"} {
		err := filepath.WalkDir(aws, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(aws, p)
			to := filepath.Join(local, host, "hashicorp", "aws", rel)
			if d.IsDir() {
				return os.MkdirAll(to, 0o755)
			}
			return os.Symlink(p, to)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The plugin cache keeps one copy of the provider for all configurations.
	rc := filepath.Join(tmp, "tofurc")
	conf := `provider_installation {
  filesystem_mirror {
    path = "` + local + `"
  }
}
plugin_cache_dir = "` + filepath.Join(tmp, "plugin-cache") + `"
`
	if err := os.MkdirAll(filepath.Join(tmp, "plugin-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(tmp, "terraform")
	if err := copyTree(filepath.Join("..", "..", "terraform"), work); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	return work, env
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !strings.HasSuffix(p, ".tf") && !strings.HasSuffix(p, ".tftest.hcl") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// tofuRun runs tofu in dir and returns its standard output.
func tofuRun(t *testing.T, tofu, dir string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(tofu, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(err.Error() + ": " + stderr.String())
	}
	return out, nil
}

// The module and every example pass `tofu validate` against the AWS
// provider's schema, without errors or warnings (a deprecated attribute
// is a warning). The configurations that use the module validate it with
// their inputs: the complete example sets every option.
func TestTofuValidate(t *testing.T) {
	tofu := tofuBinary(t)
	work, env := tofuWorkspace(t)
	dirs := []string{filepath.Join("modules", "sesq")}
	examples, err := os.ReadDir(filepath.Join(work, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range examples {
		dirs = append(dirs, filepath.Join("examples", e.Name()))
	}
	for _, d := range dirs {
		dir := filepath.Join(work, d)
		if _, err := tofuRun(t, tofu, dir, env, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
			t.Errorf("%s: tofu init: %v", d, err)
			continue
		}
		out, err := tofuRun(t, tofu, dir, env, "validate", "-json", "-no-color")
		var res struct {
			Valid       bool `json:"valid"`
			Diagnostics []struct {
				Severity string `json:"severity"`
				Summary  string `json:"summary"`
				Detail   string `json:"detail"`
				Range    *struct {
					Filename string `json:"filename"`
					Start    struct {
						Line int `json:"line"`
					} `json:"start"`
				} `json:"range"`
			} `json:"diagnostics"`
		}
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			t.Errorf("%s: tofu validate: %v (%v)", d, err, jerr)
			continue
		}
		if !res.Valid {
			t.Errorf("%s: tofu validate: not valid", d)
		}
		for _, dg := range res.Diagnostics {
			where := ""
			if dg.Range != nil {
				where = dg.Range.Filename + ":" + strconv.Itoa(dg.Range.Start.Line) + ": "
			}
			t.Errorf("%s: %s%s: %s: %s", d, where, dg.Severity, dg.Summary, dg.Detail)
		}
	}

	// The check's list of taggable resource types is the provider's: every
	// resource type of the module whose schema has tags is in it.
	out, err := tofuRun(t, tofu, filepath.Join(work, "modules", "sesq"), env, "providers", "schema", "-json")
	if err != nil {
		t.Fatalf("tofu providers schema: %v", err)
	}
	var schema struct {
		Providers map[string]struct {
			Resources map[string]struct {
				Block struct {
					Attributes map[string]json.RawMessage `json:"attributes"`
				} `json:"block"`
			} `json:"resource_schemas"`
		} `json:"provider_schemas"`
	}
	if err := json.Unmarshal(out, &schema); err != nil {
		t.Fatal(err)
	}
	var resources map[string]struct {
		Block struct {
			Attributes map[string]json.RawMessage `json:"attributes"`
		} `json:"block"`
	}
	for name, p := range schema.Providers {
		if strings.HasSuffix(name, "hashicorp/aws") {
			resources = p.Resources
		}
	}
	if resources == nil {
		t.Fatal("no hashicorp/aws provider in tofu providers schema")
	}
	m, err := ParseModule(moduleFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range m.ResourceTypes() {
		r, ok := resources[typ]
		if !ok {
			t.Errorf("the AWS provider has no resource type %s", typ)
			continue
		}
		_, hasTags := r.Block.Attributes["tags"]
		if hasTags != slices.Contains(TaggableResourceTypes, typ) {
			t.Errorf("%s: the provider's schema says tags %v, TaggableResourceTypes says %v", typ, hasTags, !hasTags)
		}
	}
}

// The module's own `tofu test` files (terraform/modules/sesq/tests) pass:
// they apply the module against a mocked AWS provider, offline, and assert
// on what ECS would get (the containers, the collector's configuration).
func TestTofuTest(t *testing.T) {
	tofu := tofuBinary(t)
	work, env := tofuWorkspace(t)
	dir := filepath.Join(work, "modules", "sesq")
	if _, err := tofuRun(t, tofu, dir, env, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
		t.Fatalf("tofu init: %v", err)
	}
	if out, err := tofuRun(t, tofu, dir, env, "test", "-no-color"); err != nil {
		t.Errorf("tofu test: %v\n%s", err, out)
	}
}
