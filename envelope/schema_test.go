package envelope_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sesq/sesq/envelope"
)

// schemaNode is the part of JSON Schema that schema.json uses and this test
// reads; the rest (patterns, formats, lengths) is for a validator, and
// internal/testsupport/schemacheck runs one.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 schemaTypes            `json:"type"`
	Enum                 []any                  `json:"enum"`
	Const                any                    `json:"const"`
	Required             []string               `json:"required"`
	AdditionalProperties *bool                  `json:"additionalProperties"`
	Properties           map[string]*schemaNode `json:"properties"`
	Items                *schemaNode            `json:"items"`
	AnyOf                []*schemaNode          `json:"anyOf"`
	AllOf                []*schemaNode          `json:"allOf"`
	If                   *schemaNode            `json:"if"`
	Then                 *schemaNode            `json:"then"`
	Else                 *schemaNode            `json:"else"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

// schemaTypes is "type": one name or a list of them.
type schemaTypes []string

func (t *schemaTypes) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*t = schemaTypes{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(t))
}

func (t schemaTypes) has(name string) bool { return slices.Contains(t, name) }

// schema.json must describe exactly the fields of the Go types: every JSON
// field of Envelope (and the types it holds) is a property of the matching
// schema object, and no more; objects refuse unknown properties, as Parse
// does; an optional field may be null (absent), a required one may not;
// and the per-action rules (allOf, if, then) and anyOf alternatives name
// only fields of the object they are in.
func TestSchemaMatchesGoTypes(t *testing.T) {
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	deref := func(n *schemaNode) *schemaNode {
		for n != nil && n.Ref != "" {
			n = root.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
		}
		return n
	}
	// absent: a branch that only says "not given" (null, or null and "").
	absent := func(n *schemaNode) bool {
		n = deref(n)
		if slices.Equal(n.Type, schemaTypes{"null"}) {
			return true
		}
		return len(n.Enum) > 0 && !slices.ContainsFunc(n.Enum, func(v any) bool { return v != nil && v != "" })
	}
	// resolve follows $ref and, for {"anyOf": [absent, X]}, goes to X.
	resolve := func(n *schemaNode) (_ *schemaNode, nullable bool) {
		n = deref(n)
		if n != nil && len(n.AnyOf) > 0 && n.Type == nil {
			var rest []*schemaNode
			for _, b := range n.AnyOf {
				if absent(b) {
					nullable = true
				} else {
					rest = append(rest, b)
				}
			}
			if len(rest) == 1 {
				n = deref(rest[0])
			}
		}
		if n != nil && n.Type.has("null") {
			nullable = true
		}
		return n, nullable
	}
	// names checks that the subschemas applying to one object mention only
	// its fields.
	var names func(path string, n *schemaNode, fields []string)
	names = func(path string, n *schemaNode, fields []string) {
		if n == nil {
			return
		}
		for _, k := range n.Required {
			if !slices.Contains(fields, k) {
				t.Errorf("%s: a rule requires %q, which is no field", path, k)
			}
		}
		for k := range n.Properties {
			if !slices.Contains(fields, k) {
				t.Errorf("%s: a rule constrains %q, which is no field", path, k)
			}
		}
		for _, s := range slices.Concat(n.AnyOf, n.AllOf, []*schemaNode{n.If, n.Then, n.Else}) {
			names(path, s, fields)
		}
	}
	var check func(path string, typ reflect.Type, n *schemaNode, optional bool)
	check = func(path string, typ reflect.Type, n *schemaNode, optional bool) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		n, nullable := resolve(n)
		if n == nil {
			t.Errorf("%s: no schema", path)
			return
		}
		if optional != nullable {
			t.Errorf("%s: optional %v, may be null %v (null means absent: an optional field may be null, a required one may not)", path, optional, nullable)
		}
		switch typ.Kind() {
		case reflect.Struct:
			if typ.String() == "time.Time" {
				if !n.Type.has("string") {
					t.Errorf("%s: time must be a string in the schema", path)
				}
				return
			}
			if !n.Type.has("object") || n.AdditionalProperties == nil || *n.AdditionalProperties {
				t.Errorf("%s: must be an object with additionalProperties false", path)
			}
			var goFields []string
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if !f.IsExported() || name == "-" || name == "" {
					continue
				}
				goFields = append(goFields, name)
				check(path+"."+name, f.Type, n.Properties[name], !slices.Contains(n.Required, name))
			}
			var schemaFields []string
			for k := range n.Properties {
				schemaFields = append(schemaFields, k)
			}
			sort.Strings(goFields)
			sort.Strings(schemaFields)
			if !slices.Equal(goFields, schemaFields) {
				t.Errorf("%s: Go fields %v, schema properties %v", path, goFields, schemaFields)
			}
			for _, s := range slices.Concat(n.AnyOf, n.AllOf, []*schemaNode{n.If, n.Then, n.Else}) {
				names(path, s, goFields)
			}
		case reflect.Slice:
			if typ.Elem().Kind() == reflect.Uint8 { // []byte: base64 string
				if !n.Type.has("string") {
					t.Errorf("%s: bytes must be a base64 string", path)
				}
				return
			}
			if !n.Type.has("array") || n.Items == nil {
				t.Errorf("%s: must be an array with items", path)
				return
			}
			check(path+"[]", typ.Elem(), n.Items, false)
		case reflect.String:
			if !n.Type.has("string") && n.Enum == nil {
				t.Errorf("%s: must be a string", path)
			}
		case reflect.Int:
			if n.Const == nil && !n.Type.has("integer") {
				t.Errorf("%s: must be an integer", path)
			}
		default:
			t.Errorf("%s: kind %s not handled by this test", path, typ.Kind())
		}
	}
	check("envelope", reflect.TypeOf(envelope.Envelope{}), &root, false)

	var actions []string
	for _, a := range root.Properties["action"].Enum {
		s, _ := a.(string)
		actions = append(actions, s)
	}
	if want := []string{envelope.SendEmail, envelope.SendTemplatedEmail, envelope.SendRawEmail}; !slices.Equal(actions, want) {
		t.Errorf("action enum %v, want %v", actions, want)
	}
	if v, ok := root.Properties["version"].Const.(float64); !ok || int(v) != envelope.Version {
		t.Errorf("version const %v, want %d", root.Properties["version"].Const, envelope.Version)
	}
	if !slices.Equal(root.Required, []string{"version", "action"}) {
		t.Errorf("required %v", root.Required)
	}
	// One rule per action, each keyed on the action.
	var ruled []string
	for _, r := range root.AllOf {
		if r.If == nil || r.Then == nil || r.If.Properties["action"] == nil {
			t.Errorf("allOf: a rule that is not if action then")
			continue
		}
		s, _ := r.If.Properties["action"].Const.(string)
		ruled = append(ruled, s)
	}
	if !slices.Equal(ruled, actions) {
		t.Errorf("rules for actions %v, want one for each of %v", ruled, actions)
	}
}
