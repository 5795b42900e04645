package worker

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestGlobMatch(t *testing.T) {
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
		if got := globMatch(c.pattern, id); got != c.want {
			t.Errorf("globMatch(%q) = %v, want %v", c.pattern, got, c.want)
		}
	}
	if !globMatch("a*b*c", "aXXbYYbZc") || globMatch("a*b*c", "aXXbYYbZ") {
		t.Error("backtracking over several stars")
	}
}

func TestAllowed(t *testing.T) {
	a := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	b := "arn:aws:ses:us-east-1:123456789012:identity/bounce.example.com"
	if !allowed(nil, []string{a, b}) {
		t.Error("no patterns must allow all")
	}
	only := []string{"arn:aws:ses:*:123456789012:identity/example.com"}
	if !allowed(only, []string{a}) || allowed(only, []string{a, b}) {
		t.Error("every ARN of the envelope must match")
	}
}

func TestSESClientsOnePerRegion(t *testing.T) {
	c := NewSESClients(aws.Config{Region: "us-east-1"}, 8)
	east, west := c.For("us-east-1"), c.For("eu-west-1")
	if east != c.For("us-east-1") || east == west {
		t.Error("want one reused client per region")
	}
}
