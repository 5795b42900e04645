package envelope

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// dupKeysReference is the plain token-walking check that the byte scan must
// agree with.
func dupKeysReference(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return false
		}
		dup := false
		if d == '{' {
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				key := strings.ToLower(k.(string))
				dup = dup || seen[key]
				seen[key] = true
				dup = walk() || dup
			}
		} else if d == '[' {
			for dec.More() {
				dup = walk() || dup
			}
		}
		dec.Token()
		return dup
	}
	return walk()
}

func TestDuplicateKeyScan(t *testing.T) {
	cases := []string{
		`{"a":1,"b":2}`,
		`{"a":1,"a":2}`,
		`{"a":1,"A":2}`,
		`{"a":{"b":1,"b":2}}`,
		`{"a":{"b":1},"c":{"b":2}}`,
		`{"a":[{"b":1},{"b":2}]}`,
		`{"a":"{\"b\":1,\"b\":2}"}`,
		`{"a\u0062":1,"ab":2}`,
		`{"k":"a,\"b\":1","b":2}`,
		`[{"x":1},{"x":1,"y":{"x":[1,{"z":0,"Z":1}]}}]`,
		`{"tags":[{"name":"a","value":"b"}],"name":"c"}`,
		`"just a string"`,
		`{}`,
	}
	for _, c := range cases {
		got := checkDuplicateKeys([]byte(c)) != nil
		if want := dupKeysReference([]byte(c)); got != want {
			t.Errorf("%s: scan says duplicate %v, reference %v", c, got, want)
		}
	}
}

// The scan agrees with the reference on anything the decoder accepts.
func FuzzDuplicateKeyScan(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"a":2,"A":3}}`))
	f.Add([]byte(`{"a\u0041":1,"aa":[{"x":"\"y\""}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		got := checkDuplicateKeys(body) != nil
		if want := dupKeysReference(body); got != want {
			t.Fatalf("%q: scan says duplicate %v, reference %v", body, got, want)
		}
	})
}
