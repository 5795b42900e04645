package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// checkDuplicateKeys refuses an object with the same key twice (also in
// nested objects). Go's decoder keeps the last of duplicated keys, and
// matches names case-insensitively, so {"sourceArn": A, "SOURCEARN": B}
// would silently send for B while a producer's checks saw A.
func checkDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_, err := walkValue(dec)
	return err
}

// walkValue reads one value; for objects it checks the keys.
func walkValue(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string)
			lower := strings.ToLower(key)
			if seen[lower] {
				name := key
				if len(name) > 64 || !validName(name) {
					name = ""
				}
				return nil, &Error{Reason: strings.TrimSpace("not a JSON envelope: duplicate field " + name)}
			}
			seen[lower] = true
			if _, err := walkValue(dec); err != nil {
				return nil, err
			}
		}
	case '[':
		for dec.More() {
			if _, err := walkValue(dec); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) { // the closing delimiter
		return nil, err
	}
	return tok, nil
}
