//go:build !profile

package main

// startProfile does nothing in a normal build; see profile.go.
func startProfile() (stop func()) { return func() {} }
