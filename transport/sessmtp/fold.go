package sessmtp

import (
	"bytes"
	"encoding/base64"
	"net/mail"
	"strings"
)

// Line lengths of RFC 5322 (2.1.1): a line SHOULD be at most 78 octets and
// MUST be at most 998, without the CRLF. SES refuses a message with a
// longer line. An RFC 2047 encoded-word is at most 75 octets.
const (
	softLineLimit   = 78
	hardLineLimit   = 998
	maxEncodedWord  = 75
	maxPlainWord    = softLineLimit - 1 // a longer word is written as encoded-words, which can be split
	minEncodedBytes = 4                 // base64 payload of an encoded-word worth starting on a line
)

// headerWriter writes one header field, folded: before a word that would
// take the line past 78 octets a CRLF goes in front of the whitespace
// that precedes it, so that unfolding (removing the CRLF) gives the value
// back. Every word it writes is short enough that no line passes 998.
type headerWriter struct {
	b     *bytes.Buffer
	col   int // octets on the current line
	start int // col after "Name:": nothing folds before the first word
}

func writeHeader(b *bytes.Buffer, name string) *headerWriter {
	b.WriteString(name)
	b.WriteByte(':')
	return &headerWriter{b: b, col: len(name) + 1, start: len(name) + 1}
}

// word writes w after the whitespace sep (not empty), folding before sep
// when w would not fit on the line.
func (h *headerWriter) word(sep, w string) {
	if h.col > h.start && h.col+len(sep)+len(w) > softLineLimit {
		h.fold()
	}
	h.b.WriteString(sep)
	h.b.WriteString(w)
	h.col += len(sep) + len(w)
}

func (h *headerWriter) fold() {
	h.b.WriteString("\r\n")
	h.col = 0
}

func (h *headerWriter) end() { h.b.WriteString("\r\n") }

// encoded writes text as B encoded-words in cs after sep, each at most 75
// octets and as long as the line has room for, split between characters
// (the whitespace between encoded-words is not part of the text). A
// stateful charset (ISO-2022-JP) is reset in every word. suffix (a comma)
// is written right after the last word.
func (h *headerWriter) encoded(sep, text string, cs charset, suffix string) error {
	prefix := "=?" + cs.name + "?B?"
	overhead := len(prefix) + len("?=")
	runes := []rune(text)
	for len(runes) > 0 {
		room := softLineLimit - h.col - len(sep)
		if room-overhead < minEncodedBytes && h.col > h.start {
			h.fold()
			room = softLineLimit - len(sep)
		}
		budget := min(maxEncodedWord, room) - overhead
		if budget < minEncodedBytes {
			budget = maxEncodedWord - overhead
		}
		n, payload, err := fitRunes(runes, cs, budget/4*3)
		if err != nil {
			return err
		}
		runes = runes[n:]
		w := prefix + base64.StdEncoding.EncodeToString(payload) + "?="
		if len(runes) == 0 {
			w += suffix
		}
		h.b.WriteString(sep)
		h.b.WriteString(w)
		h.col += len(sep) + len(w)
		sep = " "
	}
	return nil
}

// fitRunes returns how many of the runes, at least one, encode in cs to
// at most limit bytes, and their bytes.
func fitRunes(runes []rune, cs charset, limit int) (int, []byte, error) {
	var best []byte
	n := 0
	for k := 1; k <= len(runes); k++ {
		b, err := cs.encode(string(runes[:k]))
		if err != nil {
			return 0, nil, err
		}
		if len(b) > limit && k > 1 {
			break
		}
		best, n = b, k
		if len(b) >= limit {
			break
		}
	}
	return n, best, nil
}

// span is a word of a header value and the whitespace before it.
type span struct{ sep, word string }

// spans splits a value at runs of spaces, keeping each run with the word
// after it; the first word's run is at least one space.
func spans(s string) []span {
	var out []span
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] == ' ' {
			j++
		}
		k := j
		for k < len(s) && s[k] != ' ' {
			k++
		}
		if k == j { // trailing spaces
			break
		}
		out = append(out, span{sep: s[i:j], word: s[j:k]})
		i = k
	}
	if len(out) > 0 && out[0].sep == "" {
		out[0].sep = " "
	}
	return out
}

// text writes unstructured text (a subject): printable ASCII words as they
// are; each run of words that are not (non-ASCII, a control character,
// longer than a line, or looking like an encoded-word) as encoded-words
// in cs, the spaces inside the run encoded with it.
func (h *headerWriter) text(s string, cs charset) error {
	return h.words(spans(s), cs, plainText, func(w string) string { return w }, "")
}

// words writes spans: those plain allows as quote renders them, runs of
// the others as encoded-words. suffix goes after the last.
func (h *headerWriter) words(ss []span, cs charset, plain func(string) bool, quote func(string) string, suffix string) error {
	// A plain word that cannot fit after the header's name is encoded
	// instead, so that the first line too keeps to 78 octets.
	fits := func(i int) bool {
		return plain(ss[i].word) && (h.col > h.start || h.col+len(ss[i].sep)+len(quote(ss[i].word)) <= softLineLimit)
	}
	for i := 0; i < len(ss); {
		if fits(i) {
			w := quote(ss[i].word)
			if i == len(ss)-1 {
				w += suffix
			}
			h.word(ss[i].sep, w)
			i++
			continue
		}
		run := ss[i].word
		j := i + 1
		for ; j < len(ss) && !plain(ss[j].word); j++ {
			run += ss[j].sep + ss[j].word
		}
		sfx := ""
		if j == len(ss) {
			sfx = suffix
		}
		if err := h.encoded(ss[i].sep, run, cs, sfx); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// plainText: a word unstructured text can carry as it is.
func plainText(w string) bool {
	if len(w) > maxPlainWord || strings.Contains(w, "=?") {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] <= ' ' || w[i] > '~' {
			return false
		}
	}
	return true
}

// plainPhrase: a word of a display name that can go as an atom, or quoted.
func plainPhrase(w string) bool {
	return plainText(w) && len(quotePhraseWord(w)) <= maxPlainWord
}

// quotePhraseWord is w as an atom when it is one, else as a quoted string.
func quotePhraseWord(w string) string {
	atom := true
	for i := 0; i < len(w) && atom; i++ {
		atom = isAtext(w[i])
	}
	if atom {
		return w
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
}

func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// addresses writes an address list, folded between addresses and between
// the words of a display name; a display name that is not ASCII is
// written as UTF-8 encoded-words.
func (h *headerWriter) addresses(list []*mail.Address) error {
	for i, a := range list {
		comma := ""
		if i < len(list)-1 {
			comma = ","
		}
		spec := addrSpec(a)
		if a.Name == "" {
			h.word(" ", spec+comma)
			continue
		}
		if err := h.words(spans(a.Name), utf8Charset, plainPhrase, quotePhraseWord, ""); err != nil {
			return err
		}
		h.word(" ", "<"+spec+">"+comma)
	}
	return nil
}

// addrSpec is the address without a display name, its local part quoted
// when it must be (net/mail gives it unquoted).
func addrSpec(a *mail.Address) string {
	s := (&mail.Address{Address: a.Address}).String()
	return s[1 : len(s)-1]
}
