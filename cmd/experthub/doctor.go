package main

import (
	"context"
	"errors"
	"io"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/doctor"
	"github.com/experthub/experthub/internal/function"
)

// errDoctorFailed makes the exit status 1 once doctor printed its lines.
var errDoctorFailed = errors.New("doctor: at least one check failed")

// doctorCmd is `experthub doctor [--base-url URL]`: the checks of the
// configuration in the environment (and .env), against the functions at
// --base-url when given (it stands for PUBLIC_BASE_URL; PUBLIC_URL_<FUNCTION>
// settings still apply).
func doctorCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("doctor", stdout)
	base := fs.String("base-url", "", "origin of the deployed functions (default: PUBLIC_BASE_URL)")
	environment := fs.String("environment", "", "the deployment's environment (staging, production): names its secrets")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	env, err := config.LoadEnv()
	if err != nil {
		return err
	}
	return runDoctor(ctx, env, *base, *environment, function.All(), stdout)
}

func runDoctor(ctx context.Context, env config.Env, base, environment string, functions []function.Name, stdout io.Writer) error {
	if base != "" {
		env["PUBLIC_BASE_URL"] = base
	}
	// A build has the functions' plain settings and the Twilio token only:
	// a CRM without its credentials is reported as not checked rather
	// than refused by config.
	crmUnchecked := config.CRM{}.Unchecked(env)
	cfg, err := config.Parse(env)
	if err != nil {
		return err
	}
	d, closeAll, err := doctor.Build(ctx, cfg, functions, environment)
	if err != nil {
		return err
	}
	defer closeAll()
	d.CRMUnchecked = crmUnchecked
	if d.Run(ctx, stdout) {
		return errDoctorFailed
	}
	return nil
}
