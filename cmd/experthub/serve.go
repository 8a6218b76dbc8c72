package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	experthub "github.com/experthub/experthub"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crmsync"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "interface to listen on (0.0.0.0 for all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if !cfg.HasTwilio() {
		sb, err := startSandbox(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer sb.Close()
	}
	a, err := experthub.Instance(ctx)
	if err != nil {
		return err
	}
	if syncer := a.NewSyncer(func(p crmsync.Progress) { printProgress(stderr, p) }); syncer != nil {
		go func() {
			if _, err := syncer.Full(ctx); err != nil {
				fmt.Fprintln(stderr, "experthub: start-up sync failed, serving the cache as it is:", err)
			}
		}()
	}
	fmt.Fprintf(stderr, "experthub: serving %s on http://%s\n", experthub.EntryPoints,
		net.JoinHostPort(*host, cfg.Port))
	// The framework's server takes no context; stop with the process on a
	// signal instead of swallowing it.
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort(*host, cfg.Port) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		fmt.Fprintln(stderr, "experthub: stopping")
		return nil
	}
}
