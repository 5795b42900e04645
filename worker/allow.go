package worker

import "github.com/sesq/sesq/internal/glob"

// allowed tells whether every ARN matches one of the patterns; no patterns
// allow everything.
func allowed(patterns, arns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, a := range arns {
		if !glob.Any(patterns, a) {
			return false
		}
	}
	return true
}
