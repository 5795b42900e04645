package main_test

import (
	"encoding/json"
	"go/importer"
	"go/token"
	"go/types"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sesq/sesq/"

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// testOnly: packages only tests may use (internal/testsupport), and the
// emulator launcher, which tests and the demo (a development program) use.
func testOnly(path string) bool {
	return strings.HasPrefix(path, module+"internal/testsupport/") || path == module+"internal/emulator"
}

// devTool: development programs, which may use the emulator launcher but
// no test helper.
func devTool(path string) bool {
	return strings.HasPrefix(path, module+"internal/demo") || strings.HasPrefix(path, module+"internal/benchtools")
}

// Test-only code lives apart from production code: no production package
// depends on a test helper (fakes, test endpoints, the emulator harness,
// the conformance suite) or on package testing.
func TestProductionLinksNoTestCode(t *testing.T) {
	for _, p := range listPackages(t) {
		if testOnly(p.ImportPath) {
			continue
		}
		for _, d := range p.Deps {
			if devTool(p.ImportPath) && d == module+"internal/emulator" {
				continue
			}
			if testOnly(d) || d == "testing" {
				t.Errorf("%s depends on %s, which is test code", p.ImportPath, d)
			}
		}
	}
}

// The data flows one way, and test helpers sit below what they test: none
// of them imports the worker, the decision table, the transports or the
// commands.
func TestTestSupportImportsNothingAbove(t *testing.T) {
	above := []string{"worker", "retry", "deadletter", "cmd/", "idempotency", "internal/config", "transport/"}
	for _, p := range listPackages(t) {
		if !testOnly(p.ImportPath) {
			continue
		}
		for _, d := range p.Deps {
			for _, a := range above {
				if strings.HasPrefix(d, module+a) {
					t.Errorf("%s depends on %s", p.ImportPath, d)
				}
			}
		}
	}
}

// The worker's exported API names no internal type: a program can embed
// the worker with its own store, metrics and transport.
func TestWorkerAPIUsesNoInternalTypes(t *testing.T) {
	fset := token.NewFileSet()
	pkg, err := importer.ForCompiler(fset, "source", nil).Import(module + "worker")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[types.Type]bool{}
	var check func(where string, typ types.Type)
	check = func(where string, typ types.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		switch tt := typ.(type) {
		case *types.Named:
			if p := tt.Obj().Pkg(); p != nil && strings.Contains(p.Path(), "/internal/") {
				t.Errorf("%s uses %s.%s", where, p.Path(), tt.Obj().Name())
			}
			if tt.Obj().Pkg() == pkg {
				check(where, tt.Underlying())
				for i := range tt.NumMethods() {
					if m := tt.Method(i); m.Exported() {
						check(where+"."+m.Name(), m.Type())
					}
				}
			}
		case *types.Pointer:
			check(where, tt.Elem())
		case *types.Slice:
			check(where, tt.Elem())
		case *types.Map:
			check(where, tt.Key())
			check(where, tt.Elem())
		case *types.Chan:
			check(where, tt.Elem())
		case *types.Signature:
			for i := range tt.Params().Len() {
				check(where, tt.Params().At(i).Type())
			}
			for i := range tt.Results().Len() {
				check(where, tt.Results().At(i).Type())
			}
		case *types.Struct:
			for i := range tt.NumFields() {
				if f := tt.Field(i); f.Exported() {
					check(where+"."+f.Name(), f.Type())
				}
			}
		case *types.Interface:
			for i := range tt.NumMethods() {
				check(where+"."+tt.Method(i).Name(), tt.Method(i).Type())
			}
		}
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		if obj := scope.Lookup(name); obj.Exported() {
			check("worker."+name, obj.Type())
		}
	}
}
