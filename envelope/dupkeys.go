package envelope

import (
	"bytes"
	"encoding/json"
	"strings"
)

// checkDuplicateKeys refuses an object with the same key twice (also in
// nested objects). Go's decoder keeps the last of duplicated keys, and
// matches names case-insensitively, so {"sourceArn": A, "SOURCEARN": B}
// would silently send for B while a producer's checks saw A.
//
// body must already be valid JSON (the decoder has accepted it): this is a
// byte scan that allocates only for keys with escapes.
func checkDuplicateKeys(body []byte) error {
	type frame struct {
		object    bool
		expectKey bool
		keys      [][]byte
	}
	var stack []frame
	var keyBuf [8]frame // most envelopes nest 4 deep at most
	stack = keyBuf[:0]
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', expectKey: c == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '"':
			end, escaped := stringEnd(body, i)
			if n := len(stack); n > 0 && stack[n-1].expectKey {
				f := &stack[n-1]
				key := body[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(body[i:end+1], &s) == nil {
						key = []byte(s)
					}
				}
				for _, k := range f.keys {
					if bytes.EqualFold(k, key) {
						name := string(key)
						if len(name) > 64 || !validName(name) {
							name = ""
						}
						return &Error{Reason: strings.TrimSpace("not a JSON envelope: duplicate field " + name)}
					}
				}
				f.keys = append(f.keys, key)
				f.expectKey = false
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote that closes the string starting
// at body[start], and whether it holds escapes.
func stringEnd(body []byte, start int) (int, bool) {
	escaped := false
	for j := start + 1; j < len(body); j++ {
		switch body[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return len(body) - 1, escaped
}
