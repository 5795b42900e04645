package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Module is a Terraform module's top-level blocks, parsed with HCL.
type Module struct {
	blocks []*hclsyntax.Block
}

// ReadModule reads every .tf file of dir.
func ReadModule(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	src := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		src[filepath.Base(f)] = string(b)
	}
	return src, nil
}

// ParseModule parses the files of one module.
func ParseModule(files map[string]string) (*Module, error) {
	m := &Module{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, diags := hclsyntax.ParseConfig([]byte(files[n]), n, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %s", n, diags.Error())
		}
		m.blocks = append(m.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return m, nil
}

// Block finds a top-level block by type and labels (resource "T" "N").
func (m *Module) Block(typ string, labels ...string) *hclsyntax.Block {
	for _, b := range m.blocks {
		if b.Type == typ && strings.Join(b.Labels, ".") == strings.Join(labels, ".") {
			return b
		}
	}
	return nil
}

// Blocks finds the top-level blocks of a type whose first label is kind.
func (m *Module) Blocks(typ, kind string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && len(b.Labels) > 0 && b.Labels[0] == kind {
			out = append(out, b)
		}
	}
	return out
}

// ResourceTypes lists the module's resource types, sorted, each once.
func (m *Module) ResourceTypes() []string {
	var out []string
	for _, b := range m.blocks {
		if b.Type == "resource" && len(b.Labels) == 2 && !slices.Contains(out, b.Labels[0]) {
			out = append(out, b.Labels[0])
		}
	}
	sort.Strings(out)
	return out
}

// Local finds a local value's expression.
func (m *Module) Local(name string) hclsyntax.Expression {
	for _, b := range m.blocks {
		if b.Type == "locals" {
			if a, ok := b.Body.Attributes[name]; ok {
				return a.Expr
			}
		}
	}
	return nil
}

// attr returns an attribute of a block, or of the nested block path.
func attr(b *hclsyntax.Block, path ...string) hclsyntax.Expression {
	if b == nil {
		return nil
	}
	for _, p := range path[:len(path)-1] {
		b = child(b, p)
		if b == nil {
			return nil
		}
	}
	if a, ok := b.Body.Attributes[path[len(path)-1]]; ok {
		return a.Expr
	}
	return nil
}

func child(b *hclsyntax.Block, typ string) *hclsyntax.Block {
	if b == nil {
		return nil
	}
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

func children(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	if b == nil {
		return nil
	}
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// refs renders the references an expression makes, e.g. aws_sqs_queue.dlq.arn.
// An attribute of an instance picked by a key that is not a constant
// (aws_sqs_queue.lane_dlq[each.key].arn) is rendered both as the resource
// (aws_sqs_queue.lane_dlq) and as that attribute of it
// (aws_sqs_queue.lane_dlq.arn).
func refs(e hclsyntax.Expression) []string {
	if e == nil {
		return nil
	}
	var out []string
	for _, t := range e.Variables() {
		out = append(out, traversalName(t))
	}
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		rt, ok := n.(*hclsyntax.RelativeTraversalExpr)
		if !ok {
			return nil
		}
		ix, ok := rt.Source.(*hclsyntax.IndexExpr)
		if !ok {
			return nil
		}
		if col, ok := ix.Collection.(*hclsyntax.ScopeTraversalExpr); ok {
			out = append(out, traversalName(col.Traversal)+"."+traversalName(rt.Traversal))
		}
		return nil
	})
	return out
}

// traversalName renders a traversal's names, without its indexes.
func traversalName(t hcl.Traversal) string {
	var parts []string
	for _, s := range t {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		}
	}
	return strings.Join(parts, ".")
}

// refersTo tells whether e is (or mentions) the reference want.
func refersTo(e hclsyntax.Expression, want string) bool {
	for _, r := range refs(e) {
		if r == want {
			return true
		}
	}
	return false
}

// objectItems maps the keys of an object constructor (possibly inside
// jsonencode(...)) to their expressions.
func objectItems(e hclsyntax.Expression) map[string]hclsyntax.Expression {
	if f, ok := e.(*hclsyntax.FunctionCallExpr); ok && len(f.Args) == 1 {
		e = f.Args[0]
	}
	o, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	out := map[string]hclsyntax.Expression{}
	for _, it := range o.Items {
		k, diags := it.KeyExpr.Value(nil)
		if diags.HasErrors() || k.Type() != cty.String {
			if kw := hcl.ExprAsKeyword(it.KeyExpr); kw != "" {
				out[kw] = it.ValueExpr
			}
			continue
		}
		out[k.AsString()] = it.ValueExpr
	}
	return out
}

// literalStrings evaluates a literal list of strings.
func literalStrings(e hclsyntax.Expression) ([]string, bool) {
	if e == nil {
		return nil, false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !(v.Type().IsTupleType() || v.Type().IsListType()) {
		return nil, false
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if el.Type() != cty.String {
			return nil, false
		}
		out = append(out, el.AsString())
	}
	return out, true
}

// evalContext holds the variables' defaults and the functions the module's
// arithmetic uses.
func (m *Module) evalContext() *hcl.EvalContext { return m.evalContextWith(nil, nil) }

// evalContextWith is evalContext with some variables set (vars, over their
// defaults) and more roots (roots, e.g. "aws_sqs_queue" or "local").
func (m *Module) evalContextWith(vars, roots map[string]cty.Value) *hcl.EvalContext {
	all := map[string]cty.Value{}
	for _, b := range m.blocks {
		if b.Type == "variable" && len(b.Labels) == 1 {
			if d := attr(b, "default"); d != nil {
				if val, diags := d.Value(nil); !diags.HasErrors() {
					all[b.Labels[0]] = val
				}
			}
		}
	}
	for k, v := range vars {
		all[k] = v
	}
	variables := map[string]cty.Value{"var": cty.ObjectVal(all)}
	for k, v := range roots {
		variables[k] = v
	}
	return &hcl.EvalContext{
		Variables: variables,
		Functions: map[string]function.Function{
			"min": stdlib.MinFunc, "max": stdlib.MaxFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
			"concat": stdlib.ConcatFunc, "values": stdlib.ValuesFunc,
		},
	}
}

// locals evaluates every local value it can from the variables (vars over
// their defaults), the roots (resources' attributes the caller knows) and
// the other locals so evaluated; a local that needs anything else is left
// out.
func (m *Module) locals(vars, roots map[string]cty.Value) map[string]cty.Value {
	exprs := map[string]hclsyntax.Expression{}
	for _, b := range m.blocks {
		if b.Type == "locals" {
			for n, a := range b.Body.Attributes {
				exprs[n] = a.Expr
			}
		}
	}
	done := map[string]cty.Value{}
	for progress := true; progress; {
		progress = false
		with := map[string]cty.Value{"local": cty.ObjectVal(maps.Clone(done))}
		for k, v := range roots {
			with[k] = v
		}
		ctx := m.evalContextWith(vars, with)
		for n, e := range exprs {
			if _, ok := done[n]; ok {
				continue
			}
			if v, diags := e.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				done[n], progress = v, true
			}
		}
	}
	return done
}

// value evaluates e with the variables' defaults.
func (m *Module) value(e hclsyntax.Expression) (cty.Value, bool) {
	if e == nil {
		return cty.NilVal, false
	}
	v, diags := e.Value(m.evalContext())
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// number evaluates e with the variables' defaults.
func (m *Module) number(e hclsyntax.Expression) (float64, bool) {
	if e == nil {
		return 0, false
	}
	v, diags := e.Value(m.evalContext())
	if diags.HasErrors() || v.Type() != cty.Number {
		return 0, false
	}
	f, _ := v.AsBigFloat().Float64()
	return f, true
}
