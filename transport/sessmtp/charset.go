package sessmtp

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// charset is a charset the transport writes text in: a SendEmail
// envelope's text is UTF-8 (it came as JSON) and is transcoded to the
// charset the producer named, for the body parts and the subject's
// encoded-words alike.
type charset struct {
	name string            // the MIME name the text is labelled with
	enc  encoding.Encoding // nil: UTF-8, written as it is
	// subset, when set, is the part of enc's code space the charset has:
	// GB2312 is written with the GBK encoder (x/text has no GB2312 one;
	// GBK is its superset) and must stay within GB2312's rows.
	subset func(encoded []byte) bool
}

var utf8Charset = charset{name: "UTF-8"}

// Errors of lookupCharset and encode; Validate words them for the field.
var (
	errUnknownCharset     = errors.New("not a charset sesq knows (an IANA name such as UTF-8 or ISO-8859-1)")
	errUnsupportedCharset = errors.New("a charset sesq cannot write (UTF-16, UTF-32 and a few rare IANA charsets are not usable for mail text over SMTP; use UTF-8)")
)

// lookupCharset finds a charset by an IANA name or alias, or else a
// WHATWG label (utf8, x-sjis). An empty name is UTF-8. The text is
// labelled with the charset's MIME name: latin1 becomes ISO-8859-1.
func lookupCharset(name string) (charset, error) {
	if name == "" {
		return utf8Charset, nil
	}
	if isGB2312(name) {
		return charset{name: "GB2312", enc: simplifiedchinese.GBK, subset: inGB2312}, nil
	}
	enc, err := ianaindex.IANA.Encoding(name)
	if err != nil {
		// Not an IANA name: a WHATWG label, which may stand for a wider
		// charset (ascii is windows-1252 there); labelled as what it is.
		enc, err = htmlindex.Get(name)
		if err != nil {
			return charset{}, errUnknownCharset
		}
	}
	if enc == nil {
		return charset{}, errUnsupportedCharset
	}
	mimeName, err := ianaindex.MIME.Name(enc)
	if err != nil || mimeName == "" {
		mimeName, err = ianaindex.IANA.Name(enc)
	}
	if err != nil || mimeName == "" || strings.HasPrefix(strings.ToUpper(mimeName), "UTF-16") || strings.HasPrefix(strings.ToUpper(mimeName), "UTF-32") {
		return charset{}, errUnsupportedCharset
	}
	if strings.EqualFold(mimeName, "UTF-8") {
		return utf8Charset, nil
	}
	return charset{name: mimeName, enc: enc}, nil
}

// unrepresentableError: the text has a character the charset has no code
// for. It says where, never what.
type unrepresentableError struct {
	charset string
	at      int // the character's position, from 1
}

func (e *unrepresentableError) Error() string {
	return "character " + strconv.Itoa(e.at) + " of the text has no code in " + e.charset + " (use UTF-8)"
}

// encode transcodes UTF-8 text to the charset.
func (c charset) encode(s string) ([]byte, error) {
	if c.enc == nil {
		return []byte(s), nil
	}
	b, err := c.enc.NewEncoder().Bytes([]byte(s))
	if err == nil && (c.subset == nil || c.subset(b)) {
		return b, nil
	}
	// Find the character, for the error; one at a time is exact enough
	// even for stateful charsets (ISO-2022-JP), which reset per call.
	at := 0
	for i, r := range s {
		at++
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				break
			}
		}
		if e, err := c.enc.NewEncoder().String(string(r)); err != nil || c.subset != nil && !c.subset([]byte(e)) {
			break
		}
	}
	return nil, &unrepresentableError{charset: c.name, at: at}
}

// isGB2312 tells whether name is GB2312 or one of its IANA aliases (mail
// says GB2312 for its EUC-CN form).
func isGB2312(name string) bool {
	switch strings.ToUpper(name) {
	case "GB2312", "CSGB2312", "EUC-CN", "X-EUC-CN":
		return true
	}
	return false
}

// inGB2312 tells whether GBK-encoded bytes use only GB2312's code space:
// ASCII, and two-byte codes with both bytes in 0xA1-0xFE.
func inGB2312(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] < 0x80 {
			continue
		}
		if i+1 >= len(b) || b[i] < 0xA1 || b[i] > 0xFE || b[i+1] < 0xA1 || b[i+1] > 0xFE {
			return false
		}
		i++
	}
	return true
}
