package envelope

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Go's decoder matches field names case-insensitively, Unicode folding
// included ("ſource" is source, "SourceArn" is sourceArn), keeps the last of
// duplicated keys, reads null as "leave alone" and names a wrong type by its
// Go type. The producers' contract is stricter and must be the same in every
// language (schema.json says it for JSON Schema): each object takes exactly
// its field names, once each; null means absent; every error names the field
// by its full path. checkFields walks the JSON once more to hold the decoder
// to that contract.

// kind is what a field's value must be (null is always allowed: absent).
type kind uint8

const (
	kindString  kind = iota // a string
	kindInt                 // an integer, no fraction or exponent
	kindTime                // an RFC 3339 time, as a string
	kindStrings             // an array of strings
	kindObject              // an object of the field's shape
	kindObjects             // an array of objects of the field's shape
)

type fieldSpec struct {
	name     string
	kind     kind
	shape    *shape // of kindObject and kindObjects
	required bool   // must be given and not null (checked here, not in validate)
}

// shape is the fields of one JSON object of the envelope: its Go struct's
// JSON names (TestShapesMatchGoTypes keeps them in step).
type shape struct{ fields []fieldSpec }

var (
	contentShape = shape{[]fieldSpec{
		{name: "data", kind: kindString, required: true},
		{name: "charset", kind: kindString},
	}}
	bodyShape = shape{[]fieldSpec{
		{name: "text", kind: kindObject, shape: &contentShape},
		{name: "html", kind: kindObject, shape: &contentShape},
	}}
	messageShape = shape{[]fieldSpec{
		{name: "subject", kind: kindObject, shape: &contentShape},
		{name: "body", kind: kindObject, shape: &bodyShape},
	}}
	destinationShape = shape{[]fieldSpec{
		{name: "to", kind: kindStrings},
		{name: "cc", kind: kindStrings},
		{name: "bcc", kind: kindStrings},
	}}
	tagShape = shape{[]fieldSpec{
		{name: "name", kind: kindString},
		{name: "value", kind: kindString},
	}}
	envelopeShape = shape{[]fieldSpec{
		{name: "version", kind: kindInt},
		{name: "id", kind: kindString},
		{name: "action", kind: kindString},
		{name: "sourceArn", kind: kindString},
		{name: "fromArn", kind: kindString},
		{name: "returnPathArn", kind: kindString},
		{name: "source", kind: kindString},
		{name: "returnPath", kind: kindString},
		{name: "destination", kind: kindObject, shape: &destinationShape},
		{name: "replyTo", kind: kindStrings},
		{name: "message", kind: kindObject, shape: &messageShape},
		{name: "template", kind: kindString},
		{name: "templateData", kind: kindString},
		{name: "raw", kind: kindString}, // base64: the decoder checks it
		{name: "destinations", kind: kindStrings},
		{name: "configurationSetName", kind: kindString},
		{name: "tags", kind: kindObjects, shape: &tagShape},
		{name: "notAfter", kind: kindTime},
		{name: "tenantName", kind: kindString},
		{name: "tenant", kind: kindString},
		{name: "group", kind: kindString},
	}}
)

// lookup returns the index of the field named exactly key, or -1.
func (s *shape) lookup(key []byte) int {
	for i := range s.fields {
		if string(key) == s.fields[i].name {
			return i
		}
	}
	return -1
}

// maxDepth bounds the path: envelope, message, body, text, data is the
// deepest an envelope goes.
const maxDepth = 8

type pathElem struct {
	name  string // a field name, or "" for an array element
	index int
}

// fieldWalker reads the first JSON value of b, which the decoder has found
// well formed. It allocates only for notAfter, for keys written with
// escapes, and to build an error.
type fieldWalker struct {
	b     []byte
	i     int
	path  [maxDepth]pathElem
	depth int
}

// checkFields holds the first JSON value of body (well formed: the decoder
// has read it) to the envelope's shape: exact field names, each at most
// once, values of the field's JSON type or null, required fields present,
// version an integer, notAfter an RFC 3339 time as the schema has it. Every
// error names the field by its path (destination.to[2]); an unknown key is
// echoed only when validName says it is safe.
func checkFields(body []byte) *Error {
	w := fieldWalker{b: body}
	w.space()
	switch w.peek() {
	case '{':
		return w.object(&envelopeShape)
	case 'n': // null: an envelope without fields, refused for its version
		return nil
	}
	return &Error{Reason: "not a JSON envelope: the body must be a JSON object"}
}

func (w *fieldWalker) peek() byte {
	if w.i < len(w.b) {
		return w.b[w.i]
	}
	return 0
}

func (w *fieldWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

// expect consumes c after optional white space.
func (w *fieldWalker) expect(c byte) bool {
	w.space()
	if w.peek() != c {
		return false
	}
	w.i++
	return true
}

// str reads the string at w.i and returns its bytes as written between the
// quotes, and whether it holds escapes.
func (w *fieldWalker) str() (raw []byte, escaped, ok bool) {
	if w.peek() != '"' {
		return nil, false, false
	}
	start := w.i + 1
	for j := start; j < len(w.b); j++ {
		switch w.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			w.i = j + 1
			return w.b[start:j], escaped, true
		}
	}
	return nil, false, false
}

// strValue reads a string and returns its value.
func (w *fieldWalker) strValue() (string, bool) {
	start := w.i
	raw, escaped, ok := w.str()
	if !ok || !escaped {
		return string(raw), ok
	}
	var s string
	if json.Unmarshal(w.b[start:w.i], &s) != nil {
		return "", false
	}
	return s, true
}

func (w *fieldWalker) push(e pathElem) bool {
	if w.depth == maxDepth {
		return false
	}
	w.path[w.depth] = e
	w.depth++
	return true
}

func (w *fieldWalker) pop() { w.depth-- }

// pathString is the path to the current value, as validate names fields:
// message.body.text, tags[0].name.
func (w *fieldWalker) pathString() string {
	var sb strings.Builder
	for _, e := range w.path[:w.depth] {
		if e.name == "" {
			sb.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(e.name)
	}
	return sb.String()
}

func (w *fieldWalker) fail(reason string) *Error {
	return &Error{Field: w.pathString(), Reason: reason}
}

// malformed should not happen: the decoder has read the value.
func (w *fieldWalker) malformed() *Error {
	return &Error{Reason: "not a JSON envelope: cannot decode"}
}

// object reads an object of shape s; w.i is at its '{'.
func (w *fieldWalker) object(s *shape) *Error {
	w.i++
	var seen, given uint32
	for first := true; ; first = false {
		w.space()
		if w.peek() == '}' {
			w.i++
			break
		}
		if !first && !w.expect(',') {
			return w.malformed()
		}
		w.space()
		start := w.i
		key, escaped, ok := w.str()
		if !ok {
			return w.malformed()
		}
		if escaped {
			var k string
			if json.Unmarshal(w.b[start:w.i], &k) != nil {
				return w.malformed()
			}
			key = []byte(k)
		}
		f := s.lookup(key)
		if f < 0 {
			return w.unknown(s, key)
		}
		spec := &s.fields[f]
		if seen&(1<<f) != 0 {
			return w.fail("duplicate field " + spec.name)
		}
		seen |= 1 << f
		if !w.expect(':') {
			return w.malformed()
		}
		w.space()
		if !w.push(pathElem{name: spec.name}) {
			return w.malformed()
		}
		null, err := w.value(spec)
		if err != nil {
			return err
		}
		w.pop()
		if !null {
			given |= 1 << f
		}
	}
	for f := range s.fields {
		if s.fields[f].required && given&(1<<f) == 0 {
			w.push(pathElem{name: s.fields[f].name})
			return w.fail("required")
		}
	}
	return nil
}

// unknown names a key that is not a field of s: by itself when it is safe
// to echo, and the field it spells in another case, if any.
func (w *fieldWalker) unknown(s *shape, key []byte) *Error {
	name := string(key)
	reason := "unknown field"
	if len(name) <= 64 && validName(name) {
		reason += " " + name
	}
	for _, f := range s.fields {
		if strings.EqualFold(name, f.name) {
			reason += " (did you mean " + f.name + "?)"
			break
		}
	}
	return w.fail(reason)
}

// value reads the value of field f, at w.i, and tells whether it is null.
func (w *fieldWalker) value(f *fieldSpec) (null bool, err *Error) {
	c := w.peek()
	if c == 'n' {
		if len(w.b)-w.i < 4 || string(w.b[w.i:w.i+4]) != "null" {
			return false, w.malformed()
		}
		w.i += 4
		return true, nil
	}
	switch f.kind {
	case kindString:
		if _, _, ok := w.str(); !ok {
			return false, w.fail("must be a string")
		}
	case kindTime:
		if c != '"' {
			return false, w.fail("must be a string (an RFC 3339 time)")
		}
		s, ok := w.strValue()
		if !ok || !isRFC3339(s) {
			return false, w.fail(notRFC3339)
		}
	case kindInt:
		return false, w.integer()
	case kindStrings:
		return false, w.array("must be an array of strings", func() *Error {
			if _, _, ok := w.str(); !ok {
				return w.fail("must be a string")
			}
			return nil
		})
	case kindObject:
		if c != '{' {
			return false, w.fail("must be an object")
		}
		return false, w.object(f.shape)
	case kindObjects:
		return false, w.array("must be an array of objects", func() *Error {
			if w.peek() != '{' {
				return w.fail("must be an object")
			}
			return w.object(f.shape)
		})
	}
	return false, nil
}

// array reads an array whose elements elem reads; w.i is at its '['.
func (w *fieldWalker) array(notArray string, elem func() *Error) *Error {
	if w.peek() != '[' {
		return w.fail(notArray)
	}
	w.i++
	for n := 0; ; n++ {
		w.space()
		if w.peek() == ']' {
			w.i++
			return nil
		}
		if n > 0 && !w.expect(',') {
			return w.malformed()
		}
		w.space()
		if !w.push(pathElem{index: n}) {
			return w.malformed()
		}
		if err := elem(); err != nil {
			return err
		}
		w.pop()
	}
}

// integer reads a JSON number that must be an integer of at most 9 digits
// (validate says which versions this worker reads).
func (w *fieldWalker) integer() *Error {
	j := w.i
	if j < len(w.b) && w.b[j] == '-' {
		j++
	}
	digits := 0
	for j < len(w.b) && w.b[j] >= '0' && w.b[j] <= '9' {
		j++
		digits++
	}
	if digits == 0 || j < len(w.b) && (w.b[j] == '.' || w.b[j] == 'e' || w.b[j] == 'E') {
		return w.fail("must be an integer")
	}
	if digits > 9 {
		return w.fail("unsupported version (this worker reads version " + strconv.Itoa(Version) + ")")
	}
	w.i = j
	return nil
}

const notRFC3339 = "not an RFC 3339 time (like 2026-11-27T12:00:00Z)"

// isRFC3339 tells whether s is an RFC 3339 date-time in the form the schema
// gives it: an upper-case T, seconds, an optional fraction after a dot, and
// Z or ±hh:mm. Go's parser alone would also take a comma before the
// fraction and offsets past ±23:59, which other languages' parsers refuse.
func isRFC3339(s string) bool {
	num := func(i, n, max int) bool {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return false
			}
			v = v*10 + int(c-'0')
		}
		return v <= max
	}
	if len(s) < len("2006-01-02T15:04:05Z") ||
		!num(0, 4, 9999) || s[4] != '-' || !num(5, 2, 12) || s[7] != '-' || !num(8, 2, 31) || s[10] != 'T' ||
		!num(11, 2, 23) || s[13] != ':' || !num(14, 2, 59) || s[16] != ':' || !num(17, 2, 59) {
		return false
	}
	zone := s[19:]
	if zone[0] == '.' {
		n := 1
		for n < len(zone) && zone[n] >= '0' && zone[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		zone = zone[n:]
	}
	switch {
	case zone == "Z":
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':':
		if !num(len(s)-5, 2, 23) || !num(len(s)-2, 2, 59) {
			return false
		}
	default:
		return false
	}
	_, err := time.Parse(time.RFC3339, s) // the calendar: no February 30
	return err == nil
}
