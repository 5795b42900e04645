package envelope

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The shapes checkFields walks are the Go types' JSON fields, in order, with
// the kind each Go type decodes from.
func TestShapesMatchGoTypes(t *testing.T) {
	var check func(path string, typ reflect.Type, s *shape)
	check = func(path string, typ reflect.Type, s *shape) {
		var names []string
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			names = append(names, name)
			j := s.lookup([]byte(name))
			if j < 0 {
				continue
			}
			spec := s.fields[j]
			ft := f.Type
			var want kind
			switch {
			case ft == reflect.TypeFor[*time.Time]():
				want = kindTime
			case ft.Kind() == reflect.String, ft == reflect.TypeFor[[]byte]():
				want = kindString
			case ft.Kind() == reflect.Int:
				want = kindInt
			case ft == reflect.TypeFor[[]string]():
				want = kindStrings
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
				want = kindObject
				ft = ft.Elem()
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				want = kindObjects
				ft = ft.Elem()
			default:
				t.Errorf("%s.%s: Go type %s not handled by this test", path, name, ft)
				continue
			}
			if spec.kind != want {
				t.Errorf("%s.%s: kind %d, want %d for Go type %s", path, name, spec.kind, want, f.Type)
			}
			if want == kindObject || want == kindObjects {
				check(path+"."+name, ft, spec.shape)
			}
		}
		var specs []string
		for _, f := range s.fields {
			specs = append(specs, f.name)
		}
		if !slices.Equal(names, specs) {
			t.Errorf("%s: Go fields %v, shape %v", path, names, specs)
		}
		if len(specs) > 32 {
			t.Errorf("%s: %d fields do not fit checkFields' bit sets", path, len(specs))
		}
	}
	check("envelope", reflect.TypeFor[Envelope](), &envelopeShape)
}

// Each error checkFields gives, exactly.
func TestCheckFields(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{}`, ""},
		{`null`, ""},
		{` {"version":1} `, ""},
		{`{"version":1,"destination":{"to":["a"],"cc":null,"bcc":[]},"tags":[{"name":"a","value":"b"}],"notAfter":"2030-01-01T00:00:00Z"}`, ""},
		{`{"message":{"subject":{"data":""},"body":{"text":null,"html":{"data":"x","charset":null}}}}`, ""},
		{`{"sourc\u0065Arn":"x"}`, ""}, // an escape spells the same name
		{`{"version":1,"action":"a"} trailing data is the decoder's to refuse`, ""},

		{`[1]`, "not a JSON envelope: the body must be a JSON object"},
		{`"envelope"`, "not a JSON envelope: the body must be a JSON object"},
		{`{"SourceArn":"x"}`, "unknown field SourceArn (did you mean sourceArn?)"},
		{`{"ACTION":"x"}`, "unknown field ACTION (did you mean action?)"},
		{`{"\u017fource":"x"}`, "unknown field (did you mean source?)"},
		{`{"sourceIdentity":"x"}`, "unknown field sourceIdentity"},
		{`{"source-arn":"x"}`, "unknown field"},
		{`{"` + strings.Repeat("a", 65) + `":1}`, "unknown field"},
		{`{"destination":{"To":[]}}`, "destination: unknown field To (did you mean to?)"},
		{`{"message":{"body":{"TEXT":{}}}}`, "message.body: unknown field TEXT (did you mean text?)"},
		{`{"message":{"subject":{"data":"x","Charset":"y"}}}`, "message.subject: unknown field Charset (did you mean charset?)"},
		{`{"tags":[{"name":"a","value":"b"},{"Name":"a"}]}`, "tags[1]: unknown field Name (did you mean name?)"},
		{`{"version":1,"version":1}`, "duplicate field version"},
		{`{"source":"a","sourc\u0065":"b"}`, "duplicate field source"},
		{`{"destination":{"to":[],"to":[]}}`, "destination: duplicate field to"},
		{`{"tags":[{"name":"a","name":"b"}]}`, "tags[0]: duplicate field name"},
		{`{"version":"1"}`, "version: must be an integer"},
		{`{"version":1.0}`, "version: must be an integer"},
		{`{"version":1e0}`, "version: must be an integer"},
		{`{"version":true}`, "version: must be an integer"},
		{`{"version":12345678901234567890}`, "version: unsupported version (this worker reads version 1)"},
		{`{"id":7}`, "id: must be a string"},
		{`{"raw":["a"]}`, "raw: must be a string"},
		{`{"destination":[]}`, "destination: must be an object"},
		{`{"destination":{"to":"a@b.c"}}`, "destination.to: must be an array of strings"},
		{`{"destination":{"bcc":["a@b.c",1]}}`, "destination.bcc[1]: must be a string"},
		{`{"destination":{"cc":[null]}}`, "destination.cc[0]: must be a string"},
		{`{"replyTo":{}}`, "replyTo: must be an array of strings"},
		{`{"message":{"subject":"x"}}`, "message.subject: must be an object"},
		{`{"message":{"subject":{"charset":"UTF-8"}}}`, "message.subject.data: required"},
		{`{"message":{"subject":{"data":null}}}`, "message.subject.data: required"},
		{`{"message":{"body":{"html":{}}}}`, "message.body.html.data: required"},
		{`{"message":{"body":{"text":{"data":1}}}}`, "message.body.text.data: must be a string"},
		{`{"tags":{}}`, "tags: must be an array of objects"},
		{`{"tags":[null]}`, "tags[0]: must be an object"},
		{`{"tags":[{"name":"a","value":false}]}`, "tags[0].value: must be a string"},
		{`{"notAfter":"tomorrow"}`, "notAfter: not an RFC 3339 time (like 2026-11-27T12:00:00Z)"},
		{`{"notAfter":1893456000}`, "notAfter: must be a string (an RFC 3339 time)"},
		{`{"notAfter":"2030-01-01T00:00:00\u005a"}`, ""},
		{`{"tenantName":["a"]}`, "tenantName: must be a string"},
	}
	for _, c := range cases {
		if !json.Valid([]byte(c.body)) && !strings.Contains(c.body, "trailing") {
			t.Errorf("%s: the test body is not JSON", c.body)
			continue
		}
		got := ""
		if err := checkFields([]byte(c.body)); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.body, got, c.want)
		}
	}
}

func TestIsRFC3339(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-11-27T12:00:00Z":           true,
		"2026-11-27T12:00:00.5Z":         true,
		"2026-11-27T12:00:00.123456789Z": true,
		"2026-11-27T12:00:00+01:00":      true,
		"2026-11-27T23:59:59-23:59":      true,
		"2024-02-29T00:00:00Z":           true,
		"0000-01-01T00:00:00Z":           true,
		"tomorrow":                       false,
		"":                               false,
		"2026-11-27":                     false,
		"2026-11-27T12:00Z":              false,
		"2026-11-27t12:00:00Z":           false,
		"2026-11-27 12:00:00Z":           false,
		"2026-11-27T12:00:00z":           false,
		"2026-11-27T12:00:00":            false,
		"2026-11-27T12:00:00.Z":          false,
		"2026-11-27T12:00:00,5Z":         false,
		"2026-11-27T12:00:00+0100":       false,
		"2026-11-27T12:00:00+01":         false,
		"2026-11-27T12:00:00+24:00":      false,
		"2026-11-27T12:00:00-00:60":      false,
		"2026-11-27T24:00:00Z":           false,
		"2026-11-27T12:60:00Z":           false,
		"2026-11-27T23:59:60Z":           false,
		"2026-02-29T00:00:00Z":           false,
		"2026-13-01T00:00:00Z":           false,
		"2026-00-01T00:00:00Z":           false,
		"2026-01-00T00:00:00Z":           false,
		"+2026-01-01T00:00:00Z":          false,
		"2026-11-27T12:00:00Z ":          false,
	} {
		if got := isRFC3339(s); got != want {
			t.Errorf("isRFC3339(%q) = %v, want %v", s, got, want)
		}
	}
}

// fieldsReference is checkFields written plainly over the decoder's tokens:
// the walk must agree with it on every JSON value.
func fieldsReference(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var path []string
	fail := func(reason string) string {
		field := ""
		for _, p := range path {
			if field != "" && !strings.HasPrefix(p, "[") {
				field += "."
			}
			field += p
		}
		return (&Error{Field: field, Reason: reason}).Error()
	}
	var object func(s *shape) string
	value := func(f *fieldSpec) (null bool, err string) {
		tok, _ := dec.Token()
		if tok == nil {
			return true, ""
		}
		switch f.kind {
		case kindString:
			if _, ok := tok.(string); !ok {
				return false, fail("must be a string")
			}
		case kindTime:
			s, ok := tok.(string)
			if !ok {
				return false, fail("must be a string (an RFC 3339 time)")
			}
			if !isRFC3339(s) {
				return false, fail(notRFC3339)
			}
		case kindInt:
			n, ok := tok.(json.Number)
			if !ok || strings.ContainsAny(string(n), ".eE") {
				return false, fail("must be an integer")
			}
			if len(strings.TrimPrefix(string(n), "-")) > 9 {
				return false, fail("unsupported version (this worker reads version 1)")
			}
		case kindObject:
			if tok != json.Delim('{') {
				return false, fail("must be an object")
			}
			return false, object(f.shape)
		case kindStrings, kindObjects:
			if tok != json.Delim('[') {
				if f.kind == kindStrings {
					return false, fail("must be an array of strings")
				}
				return false, fail("must be an array of objects")
			}
			for i := 0; dec.More(); i++ {
				path = append(path, "["+strconv.Itoa(i)+"]")
				el, _ := dec.Token()
				if f.kind == kindStrings {
					if _, ok := el.(string); !ok {
						return false, fail("must be a string")
					}
				} else {
					if el != json.Delim('{') {
						return false, fail("must be an object")
					}
					if err := object(f.shape); err != "" {
						return false, err
					}
				}
				path = path[:len(path)-1]
			}
			dec.Token()
		}
		return false, ""
	}
	object = func(s *shape) string {
		given := map[string]bool{}
		seen := map[string]bool{}
		for dec.More() {
			tok, _ := dec.Token()
			key := tok.(string)
			var spec *fieldSpec
			for i := range s.fields {
				if s.fields[i].name == key {
					spec = &s.fields[i]
				}
			}
			if spec == nil {
				reason := "unknown field"
				if len(key) <= 64 && validName(key) {
					reason += " " + key
				}
				for _, f := range s.fields {
					if strings.EqualFold(f.name, key) {
						reason += " (did you mean " + f.name + "?)"
						break
					}
				}
				return fail(reason)
			}
			if seen[key] {
				return fail("duplicate field " + key)
			}
			seen[key] = true
			path = append(path, key)
			null, err := value(spec)
			if err != "" {
				return err
			}
			path = path[:len(path)-1]
			given[key] = !null
		}
		dec.Token()
		for _, f := range s.fields {
			if f.required && !given[f.name] {
				path = append(path, f.name)
				return fail("required")
			}
		}
		return ""
	}
	switch tok, _ := dec.Token(); tok {
	case json.Delim('{'):
		return object(&envelopeShape)
	case nil:
		return ""
	}
	return "not a JSON envelope: the body must be a JSON object"
}

// The walk agrees with the reference on anything the decoder accepts. (The
// name is older than the walk: it began as the duplicate-key scan, and the
// Makefile's fuzz target and the seed corpus are under it.)
func FuzzDuplicateKeyScan(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"a":2,"A":3}}`))
	f.Add([]byte(`{"a\u0041":1,"aa":[{"x":"\"y\""}]}`))
	f.Add([]byte(`{"version":1,"destination":{"to":["a"],"cc":null},"tags":[{"name":"a","value":"b"}]}`))
	f.Add([]byte(`{"message":{"subject":{"data":"x"},"body":{"text":{"charset":"u"}}}}`))
	f.Add([]byte(`{"notAfter":"2030-01-01T00:00:00Z","version":-12}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		got := ""
		if err := checkFields(body); err != nil {
			got = err.Error()
		}
		if want := fieldsReference(body); got != want {
			t.Fatalf("%q: walk says %q, reference %q", body, got, want)
		}
	})
}
