package awsclient

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const (
	awshttpPath   = "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsConfigPath = "github.com/aws/aws-sdk-go-v2/config"
	servicePrefix = "github.com/aws/aws-sdk-go-v2/service/"
	awsclientPath = "github.com/sesq/sesq/internal/awsclient"
)

// TestEveryClientIsGuarded keeps every AWS SDK client of the program on an
// HTTP client from this package, since one left on the SDK's default can send
// a call twice (docs/smithy-go-request-body-writeto.md). In the non-test Go
// files of the module, outside this package, it reports:
//   - a call to awshttp.NewBuildableClient;
//   - a field named HTTPClient set, in a composite literal or an assignment,
//     to anything but a call into awsclient;
//   - config.WithHTTPClient given anything but a call into awsclient;
//   - config.LoadDefaultConfig, unless the same function sets some
//     .HTTPClient from awsclient (cfg.HTTPClient = awsclient.HTTPClient(n),
//     the way HTTPClient's comment recommends) or passes
//     config.WithHTTPClient(awsclient…): the configuration otherwise carries
//     the SDK's default client to every NewFromConfig;
//   - a service client's Options literal (sqs.Options{…}) without HTTPClient,
//     for which New builds the SDK's default client.
//
// It reads syntax only: a client reached through a variable, or an
// aws.Config literal handed to NewFromConfig, goes unseen.
func TestEveryClientIsGuarded(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var found []finding
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "localstack" || name == "node_modules" || name == "vendor" || name == "testdata" ||
				rel == "internal/awsclient") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			found = append(found, finding{file: rel, msg: "cannot be checked: " + err.Error()})
			return nil
		}
		found = append(found, scanFile(fset, rel, f)...)
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	if len(found) > 0 {
		t.Errorf("AWS clients not on awsclient.HTTPClient or awsclient.Guard:\n\t%s", report(found))
	}
}

type finding struct {
	file string
	line int
	msg  string
}

// report sorts the findings by place and joins those of one line.
func report(found []finding) string {
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].file != found[j].file {
			return found[i].file < found[j].file
		}
		return found[i].line < found[j].line
	})
	var lines []string
	for i, f := range found {
		if i > 0 && f.file == found[i-1].file && f.line == found[i-1].line {
			lines[len(lines)-1] += "; " + f.msg
			continue
		}
		lines = append(lines, f.file+":"+strconv.Itoa(f.line)+": "+f.msg)
	}
	return strings.Join(lines, "\n\t")
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

type fileScan struct {
	fset    *token.FileSet
	rel     string
	imports map[string]string // local name to import path
	found   []finding
}

func scanFile(fset *token.FileSet, rel string, f *ast.File) []finding {
	s := &fileScan{fset: fset, rel: rel, imports: map[string]string{}}
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		local := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			local = imp.Name.Name
		}
		s.imports[local] = path
	}
	for _, decl := range f.Decls {
		guardedFunc := false
		if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
			guardedFunc = s.setsGuardedHTTPClient(fd.Body)
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			s.check(n, guardedFunc)
			return true
		})
	}
	return s.found
}

func (s *fileScan) check(n ast.Node, guardedFunc bool) {
	switch n := n.(type) {
	case *ast.CallExpr:
		switch path, fn := s.qualified(n.Fun); {
		case path == awshttpPath && fn == "NewBuildableClient":
			s.report(n, "awshttp.NewBuildableClient: use awsclient.HTTPClient")
		case path == awsConfigPath && fn == "WithHTTPClient":
			if len(n.Args) != 1 || !s.isAwsclientCall(n.Args[0]) {
				s.report(n, "config.WithHTTPClient with a client not from awsclient")
			}
		case path == awsConfigPath && fn == "LoadDefaultConfig":
			if !guardedFunc && !s.hasGuardedOption(n.Args) {
				s.report(n, "config.LoadDefaultConfig: its service clients get the SDK's default HTTP client unless this function sets cfg.HTTPClient = awsclient.HTTPClient(…)")
			}
		}
	case *ast.KeyValueExpr:
		if key, ok := n.Key.(*ast.Ident); ok && key.Name == "HTTPClient" && !s.isAwsclientCall(n.Value) {
			s.report(n, "HTTPClient set to a client not from awsclient")
		}
	case *ast.AssignStmt:
		for i, lhs := range n.Lhs {
			sel, ok := lhs.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "HTTPClient" {
				continue
			}
			if len(n.Rhs) != len(n.Lhs) || !s.isAwsclientCall(n.Rhs[i]) {
				s.report(n, "HTTPClient set to a client not from awsclient")
			}
		}
	case *ast.CompositeLit:
		path, typ := s.qualified(n.Type)
		if typ != "Options" || !strings.HasPrefix(path, servicePrefix) {
			return
		}
		for _, elt := range n.Elts {
			if kv, ok := elt.(*ast.KeyValueExpr); ok {
				if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "HTTPClient" {
					return
				}
			}
		}
		s.report(n, path[len(servicePrefix):]+".Options without HTTPClient: the client gets the SDK's default HTTP client")
	}
}

// qualified returns the import path and name of pkg.Name, or "" and "".
func (s *fileScan) qualified(e ast.Expr) (path, name string) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", ""
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return "", ""
	}
	return s.imports[x.Name], sel.Sel.Name
}

func (s *fileScan) isAwsclientCall(e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	path, _ := s.qualified(call.Fun)
	return path == awsclientPath
}

func (s *fileScan) hasGuardedOption(args []ast.Expr) bool {
	for _, a := range args {
		call, ok := a.(*ast.CallExpr)
		if !ok {
			continue
		}
		if path, fn := s.qualified(call.Fun); path == awsConfigPath && fn == "WithHTTPClient" &&
			len(call.Args) == 1 && s.isAwsclientCall(call.Args[0]) {
			return true
		}
	}
	return false
}

func (s *fileScan) setsGuardedHTTPClient(body *ast.BlockStmt) bool {
	set := false
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return !set
		}
		for i, lhs := range as.Lhs {
			if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "HTTPClient" && s.isAwsclientCall(as.Rhs[i]) {
				set = true
			}
		}
		return !set
	})
	return set
}

func (s *fileScan) report(n ast.Node, msg string) {
	s.found = append(s.found, finding{file: s.rel, line: s.fset.Position(n.Pos()).Line, msg: msg})
}

func TestScanRules(t *testing.T) {
	const header = `package p
import (
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sesq/sesq/internal/awsclient"
)
`
	for _, tc := range []struct {
		src  string
		want int
	}{
		{`func f() { _ = awshttp.NewBuildableClient() }`, 1},
		{`func f(cfg aws.Config) { cfg.HTTPClient = awshttp.NewBuildableClient() }`, 2},
		{`func f(cfg aws.Config, c aws.HTTPClient) { cfg.HTTPClient = c }`, 1},
		{`func f(cfg aws.Config) { cfg.HTTPClient = awsclient.HTTPClient(8) }`, 0},
		{`func f() { _ = sqs.New(sqs.Options{Region: "r"}) }`, 1},
		{`func f() { _ = sqs.New(sqs.Options{HTTPClient: awsclient.HTTPClient(0)}) }`, 0},
		{`func f(c aws.HTTPClient) { _ = sqs.New(sqs.Options{HTTPClient: c}) }`, 1},
		{`func f() { _ = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.HTTPClient = awsclient.Guard(o.HTTPClient) }) }`, 0},
		{`func f(ctx context.Context) { _, _ = config.LoadDefaultConfig(ctx) }`, 1},
		{`func f(ctx context.Context) { _, _ = config.LoadDefaultConfig(ctx, config.WithHTTPClient(awsclient.HTTPClient(8))) }`, 0},
		{`func f(ctx context.Context, c aws.HTTPClient) { _, _ = config.LoadDefaultConfig(ctx, config.WithHTTPClient(c)) }`, 2},
		{`func f(ctx context.Context) { cfg, _ := config.LoadDefaultConfig(ctx); cfg.HTTPClient = awsclient.Guard(cfg.HTTPClient) }`, 0},
	} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "p.go", header+tc.src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := scanFile(fset, "p.go", f); len(got) != tc.want {
			t.Errorf("%s: %d findings %v, want %d", tc.src, len(got), got, tc.want)
		}
	}
}
