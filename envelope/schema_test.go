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

type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 string                 `json:"type"`
	Enum                 []string               `json:"enum"`
	Const                any                    `json:"const"`
	Required             []string               `json:"required"`
	AdditionalProperties *bool                  `json:"additionalProperties"`
	Properties           map[string]*schemaNode `json:"properties"`
	Items                *schemaNode            `json:"items"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

// schema.json must describe exactly the fields of the Go types: every JSON
// field of Envelope (and the types it holds) is a property of the matching
// schema object, and no more; objects refuse unknown properties, as Parse
// does.
func TestSchemaMatchesGoTypes(t *testing.T) {
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	resolve := func(n *schemaNode) *schemaNode {
		for n != nil && n.Ref != "" {
			n = root.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
		}
		return n
	}
	var check func(path string, typ reflect.Type, n *schemaNode)
	check = func(path string, typ reflect.Type, n *schemaNode) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		n = resolve(n)
		if n == nil {
			t.Errorf("%s: no schema", path)
			return
		}
		switch typ.Kind() {
		case reflect.Struct:
			if typ.String() == "time.Time" {
				if n.Type != "string" {
					t.Errorf("%s: time must be a string in the schema", path)
				}
				return
			}
			if n.Type != "object" || n.AdditionalProperties == nil || *n.AdditionalProperties {
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
				check(path+"."+name, f.Type, n.Properties[name])
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
		case reflect.Slice:
			if typ.Elem().Kind() == reflect.Uint8 { // []byte: base64 string
				if n.Type != "string" {
					t.Errorf("%s: bytes must be a base64 string", path)
				}
				return
			}
			if n.Type != "array" || n.Items == nil {
				t.Errorf("%s: must be an array with items", path)
				return
			}
			check(path+"[]", typ.Elem(), n.Items)
		case reflect.String:
			if n.Type != "string" && n.Enum == nil {
				t.Errorf("%s: must be a string", path)
			}
		case reflect.Int:
			if n.Const == nil && n.Type != "integer" {
				t.Errorf("%s: must be an integer", path)
			}
		default:
			t.Errorf("%s: kind %s not handled by this test", path, typ.Kind())
		}
	}
	check("envelope", reflect.TypeOf(envelope.Envelope{}), &root)

	if want := []string{envelope.SendEmail, envelope.SendTemplatedEmail, envelope.SendRawEmail}; !slices.Equal(root.Properties["action"].Enum, want) {
		t.Errorf("action enum %v, want %v", root.Properties["action"].Enum, want)
	}
	if v, ok := root.Properties["version"].Const.(float64); !ok || int(v) != envelope.Version {
		t.Errorf("version const %v, want %d", root.Properties["version"].Const, envelope.Version)
	}
	if !slices.Equal(root.Required, []string{"version", "action"}) {
		t.Errorf("required %v", root.Required)
	}
}
