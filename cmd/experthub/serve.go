package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	experthub "github.com/experthub/experthub"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	host := fs.String("host", "127.0.0.1", "interface to listen on (0.0.0.0 for all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	trustQueueFake(cfg)
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
			if _, err := a.NewTemplateSyncer().Full(ctx); err != nil {
				fmt.Fprintln(stderr, "experthub: start-up template sync did not complete (the templates callback serves the cache, or its built-in templates):", err)
			}
		}()
	}
	addr := net.JoinHostPort(*host, cfg.Port)
	srv := newServer(addr, a.Handler, function.All(), defaultLimits, logging.New(stderr, cfg.LogLevel))
	fmt.Fprintf(stderr, "experthub: serving %s on http://%s\n", function.All(), addr)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		fmt.Fprintln(stderr, "experthub: stopping")
		stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop) // requests still running after 5 s are cut
		return nil
	}
}
