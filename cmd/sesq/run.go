package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/worker"
)

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 {
		return &usageError{"run takes no arguments"}
	}
	cfg, err := loadConfig(config.ForRun)
	if err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("service", "sesq", "version", versionString())
	w := worker.New(cfg, newSQS(awsCfg), worker.NewSESClients(awsCfg, cfg.Concurrency), worker.Options{Logger: log})
	return w.Run(ctx)
}
