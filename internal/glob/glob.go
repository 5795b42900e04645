// Package glob matches identity ARNs against the patterns operators write in
// SESQ_ALLOWED_IDENTITIES and dead-letter filters.
package glob

// Match matches s against pattern, where * stands for any run of characters
// (colons and slashes included) and ? for exactly one; everything else
// matches itself, case-sensitively.
func Match(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Any tells whether s matches at least one of the patterns.
func Any(patterns []string, s string) bool {
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}
