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
	// A build has the functions' plain settings and the Twilio and
	// contact-center secrets only (terraform output doctor_secrets):
	// a CRM without its credentials is reported as not checked rather
	// than refused by config.
	crmUnchecked := config.CRM{}.Unchecked(env)
	flexUnchecked := flexUnchecked(env)
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
	if flexUnchecked != "" {
		d.Flex, d.FlexUnchecked = nil, flexUnchecked
	}
	if d.Run(ctx, stdout) {
		return errDoctorFailed
	}
	return nil
}

// flexUnchecked returns FLEX_ACCOUNT_SID when the contact center is
// configured but its secrets are not in env (a build reads only the
// Twilio token), and removes its settings from env so that the rest of
// the configuration still reads; the doctor then reports it as not
// checked. Otherwise it returns "" and leaves env alone.
func flexUnchecked(env config.Env) string {
	sid := env["FLEX_ACCOUNT_SID"]
	credentials := env["FLEX_AUTH_TOKEN"] != "" || env["FLEX_API_KEY"] != "" && env["FLEX_API_SECRET"] != ""
	if sid == "" || credentials && env["HANDOFF_SECRET"] != "" {
		return ""
	}
	for _, name := range []string{"FLEX_ACCOUNT_SID", "FLEX_AUTH_TOKEN", "FLEX_API_KEY", "FLEX_API_SECRET", "FLEX_WORKSPACE", "FLEX_WORKFLOW",
		"HANDOFF_SECRET", "CONTACT_CENTER_AFTER"} {
		delete(env, name)
	}
	return sid
}
