package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesapi"
	"github.com/sesq/sesq/transport/sessmtp"
	"github.com/sesq/sesq/transport/sesv2"
)

// transports are the SESQ_TRANSPORT values and the transport each builds:
// adding a transport is its package and one line here.
func transports() map[string]transport.New {
	return map[string]transport.New{
		"api":    sesapi.New,
		"api-v2": sesv2.New,
		"smtp":   sessmtp.New,
	}
}

// transportNamed returns the constructor of the transport SESQ_TRANSPORT
// names; checked before anything else is set up.
func transportNamed(name string) (transport.New, error) {
	all := transports()
	build, ok := all[name]
	if !ok {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, &usageError{fmt.Sprintf("SESQ_TRANSPORT: must be %s, got %q", strings.Join(names, ", "), name)}
	}
	return build, nil
}

// newTransport builds the transport; it reads and checks settings of its
// own. A problem is a configuration error (exit 2).
func newTransport(ctx context.Context, build transport.New, cfg config.Config, awsCfg aws.Config) (transport.Transport, error) {
	t, err := build(ctx, transport.Setup{AWS: awsCfg, MaxConns: cfg.Concurrency, SendTimeout: cfg.SendTimeout})
	if err != nil {
		return nil, &usageError{fmt.Sprintf("SESQ_TRANSPORT=%s: %v", cfg.Transport, err)}
	}
	return t, nil
}
