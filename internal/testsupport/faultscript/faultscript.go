// Package faultscript is what the SES test endpoints (sestest, sesv2test)
// answer sends with, scripted by a test: per identity ARN a queue of faults,
// then a fault always or every n-th send, and a latency; per recipient a
// refusal. F is the endpoint's own fault type. It also reads a message's
// first headers, as SES does, independently of sesq's own scanner (for the
// SMTP test server too).
package faultscript

import (
	"bufio"
	"bytes"
	"strings"
	"sync"
	"time"
)

// Script is the faults scripted for one endpoint. Its zero value is ready.
type Script[F any] struct {
	mu      sync.Mutex
	scripts map[string]*script[F]
	latency time.Duration
	refused map[string]F
}

type script[F any] struct {
	faults  []F // answered in order, then success
	always  *F
	every   int // with always: only every n-th send fails
	count   int
	latency time.Duration
}

func (s *Script[F]) script(identity string) *script[F] {
	if s.scripts == nil {
		s.scripts = map[string]*script[F]{}
	}
	sc, ok := s.scripts[identity]
	if !ok {
		sc = &script[F]{}
		s.scripts[identity] = sc
	}
	return sc
}

// Fail answers the next sends for identity with faults, in order; later
// sends succeed.
func (s *Script[F]) Fail(identity string, faults ...F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.script(identity)
	sc.faults = append(sc.faults, faults...)
}

// FailAlways answers every send for identity with f.
func (s *Script[F]) FailAlways(identity string, f F) { s.FailEvery(identity, 1, f) }

// FailEvery answers every n-th send for identity with f; the others succeed.
func (s *Script[F]) FailEvery(identity string, n int, f F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.script(identity)
	sc.always, sc.every = &f, n
}

// Recover clears every fault scripted for identity.
func (s *Script[F]) Recover(identity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.scripts, identity)
}

// RefuseRecipient answers every send with addr among its recipients with f.
func (s *Script[F]) RefuseRecipient(addr string, f F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]F{}
	}
	s.refused[addr] = f
}

// Latency delays every answer for identity ("" for all identities).
func (s *Script[F]) Latency(identity string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if identity == "" {
		s.latency = d
		return
	}
	s.script(identity).latency = d
}

// Next is what a send for identity to recipients meets: the scripted fault
// (nil: none) and how long to wait before answering. It uses up a queued
// fault.
func (s *Script[F]) Next(identity string, recipients []string) (fault *F, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	latency = s.latency
	if sc := s.scripts[identity]; sc != nil {
		if sc.latency > 0 {
			latency = sc.latency
		}
		switch {
		case len(sc.faults) > 0:
			f := sc.faults[0]
			sc.faults = sc.faults[1:]
			fault = &f
		case sc.always != nil:
			sc.count++
			if sc.every <= 1 || sc.count%sc.every == 0 {
				fault = sc.always
			}
		}
	}
	for _, rcpt := range recipients {
		if f, ok := s.refused[rcpt]; ok && fault == nil {
			fault = &f
		}
	}
	return fault, latency
}

// FirstHeaders returns the first instance of each header of a raw message,
// by lowercase name, unfolded. It is deliberately independent of sesq's own
// header scanner.
func FirstHeaders(raw []byte) map[string]string {
	out := map[string]string{}
	if len(raw) == 0 {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, len(raw)+1)
	var name, value string
	flush := func() {
		if name != "" {
			if _, ok := out[name]; !ok {
				out[name] = strings.TrimSpace(value)
			}
		}
		name, value = "", ""
	}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			value += line
			continue
		}
		flush()
		if k, v, ok := strings.Cut(line, ":"); ok {
			name, value = strings.ToLower(k), v
		}
	}
	flush()
	return out
}
