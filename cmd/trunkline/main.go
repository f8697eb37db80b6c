// Command trunkline is the Trunkline SIP PBX. With no arguments, or "serve", it runs
// the PBX; every other subcommand is a thin client of the running PBX's REST API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/trunkline/trunkline/internal/app"
	"github.com/trunkline/trunkline/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serve(args[1:], stderr)
		case "help", "-h", "--help":
			usage(stdout)
			return 0
		}
		if _, ok := cliCommands[args[0]]; ok {
			return runCLI(args, stdout, stderr)
		}
		if len(args[0]) > 0 && args[0][0] != '-' {
			fmt.Fprintf(stderr, "trunkline: unknown command %q\n", args[0])
			usage(stderr)
			return 2
		}
	}
	return serve(args, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  trunkline [serve] [flags]        run the PBX (trunkline serve -h lists the flags)
  trunkline ext add|list|rm|import extensions (import: many at once from a CSV file)
  trunkline regs                   current registrations
  trunkline calls                  active calls
  trunkline cdr list               call records, newest first
`)
}

// serve runs the PBX. SIGTERM drains: new calls get 503 while active calls may finish
// until --drain-timeout, then it exits. SIGINT (or a second signal) exits at once.
func serve(args []string, stderr io.Writer) int {
	cfg, err := config.Load(args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "trunkline: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "trunkline: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		if s == syscall.SIGTERM {
			go func() { <-sigs; cancel() }()
			dctx, dcancel := context.WithTimeout(ctx, cfg.DrainTimeout)
			a.Drain(dctx)
			dcancel()
		}
		cancel()
	}()
	if err := a.Run(ctx); err != nil {
		log.Error("trunkline stopped", "error", err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
