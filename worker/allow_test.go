package worker

import "testing"

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
