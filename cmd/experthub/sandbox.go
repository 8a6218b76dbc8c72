package main

import (
	"context"
	"io"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/sandbox"
)

func startSandbox(ctx context.Context, cfg *config.Config, log io.Writer) (*sandbox.Sandbox, error) {
	return sandbox.Start(ctx, cfg, log)
}

func chat(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	return sandbox.Chat(ctx, args, stdin, stdout)
}
