package worker

// allowed tells whether every ARN matches one of the patterns; no patterns
// allow everything.
func allowed(patterns, arns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, a := range arns {
		ok := false
		for _, p := range patterns {
			if globMatch(p, a) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern where * stands for any run of
// characters (colons and slashes included) and ? for exactly one; everything
// else matches itself, case-sensitively.
func globMatch(pattern, s string) bool {
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
