package glob

import "testing"

func TestMatch(t *testing.T) {
	const id = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	cases := []struct {
		pattern string
		want    bool
	}{
		{id, true},
		{"*", true},
		{"arn:aws:ses:*:123456789012:identity/example.com", true},
		{"arn:aws:ses:*:123456789012:identity/*", true},
		{"arn:aws:ses:us-east-?:123456789012:identity/example.com", true},
		{"arn:*:identity/example.com", true}, // * crosses colons
		{"arn:aws:ses:*example.com", true},   // and slashes
		{"arn:aws:ses:*:123456789012:identity/example.co", false},
		{"arn:aws:ses:*:123456789012:identity/example.com.evil", false},
		{"arn:aws:ses:*:123456789012:identity/*.example.com", false}, // the bare domain is not a subdomain
		{"arn:aws:ses:*:999999999999:identity/*", false},
		{"arn:aws:ses:us-east-1:123456789012:identity/Example.com", false}, // case-sensitive
		{"arn:aws:ses:us-east-1:123456789012:identity/example.com*", true},
		{"arn:aws:ses:us-east-1:123456789012:identity/example.com?", false},
		{"arn:aws:ses:us-east-1:123456789012:identity/**", true},
		{"", false},
		{"arn:aws:ses:eu-*:123456789012:identity/*", false},
	}
	for _, c := range cases {
		if got := Match(c.pattern, id); got != c.want {
			t.Errorf("Match(%q) = %v, want %v", c.pattern, got, c.want)
		}
	}
	if !Match("a*b*c", "aXXbYYbZc") || Match("a*b*c", "aXXbYYbZ") {
		t.Error("backtracking over several stars")
	}
}
