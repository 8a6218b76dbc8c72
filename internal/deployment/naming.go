package deployment

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// ErrEnvironment is returned when an environment name does not match the
// description's naming.environment_pattern.
var ErrEnvironment = errors.New("deployment: not an environment name")

// longestEnvironment is the longest name environment_pattern admits: the
// description's names must stay valid ids with it (a service account id
// has at most 30 characters).
const longestEnvironment = "abcdefghijkl"

// ValidEnvironment reports whether env may name an environment.
func (d *Description) ValidEnvironment(env string) error {
	re, err := regexp.Compile(d.Naming.EnvironmentPattern)
	if err != nil {
		return fmt.Errorf("deployment: %s: naming.environment_pattern: %w", DescriptionFile, err)
	}
	if !re.MatchString(env) {
		return fmt.Errorf("%w: %q must match %s (lower-case letters, digits and dashes, at most %d characters)",
			ErrEnvironment, env, d.Naming.EnvironmentPattern, len(longestEnvironment))
	}
	return nil
}

// Prefix is what every unique name of environment env starts with, e.g.
// "eh-staging".
func (d *Description) Prefix(env string) string { return d.Naming.Prefix + "-" + env }

// Labels returns the labels of everything environment env creates that
// takes labels.
func (d *Description) Labels(env string) map[string]string {
	labels := maps.Clone(d.Naming.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["environment"] = env
	return labels
}

// ForEnvironment returns a copy of d whose unique names are those of
// environment env: service account ids, secrets, queues and the scheduler
// job become <prefix>-<env>-<name>, and every function gets its Deployed
// name. Keys (of accounts, queues) and function names, by which the
// description refers to them, stay as written.
func (d *Description) ForEnvironment(env string) (*Description, error) {
	if d.Environment != "" {
		return nil, fmt.Errorf("deployment: the description already has the names of %s", d.Environment)
	}
	if err := d.ValidEnvironment(env); err != nil {
		return nil, err
	}
	n := *d
	n.Environment = env
	name := func(s string) string { return d.Prefix(env) + "-" + s }
	n.ServiceAccounts = map[string]ServiceAccount{}
	for key, sa := range d.ServiceAccounts {
		sa.ID = name(sa.ID)
		sa.DisplayName += " (" + env + ")"
		n.ServiceAccounts[key] = sa
	}
	n.Queues = map[string]Queue{}
	for key, q := range d.Queues {
		q.Name = name(q.Name)
		q.Enqueuers = slices.Clone(q.Enqueuers)
		n.Queues[key] = q
	}
	n.Secrets = slices.Clone(d.Secrets)
	for i := range n.Secrets {
		n.Secrets[i].Secret = name(n.Secrets[i].Secret)
	}
	n.Functions = slices.Clone(d.Functions)
	for i := range n.Functions {
		n.Functions[i].Deployed = name(string(n.Functions[i].Name))
		n.Functions[i].Invokers = slices.Clone(n.Functions[i].Invokers)
	}
	n.FullSync.Job = name(d.FullSync.Job)
	n.LineSweep.Job = name(d.LineSweep.Job)
	return &n, nil
}

// UniqueNames returns every name of d that must be unique in a project,
// as "kind name" (e.g. "function eh-staging-crm"). d must have the names
// of an environment (ForEnvironment).
func (d *Description) UniqueNames() []string {
	var names []string
	for _, sa := range d.ServiceAccounts {
		names = append(names, "service account "+sa.ID)
	}
	for _, s := range d.Secrets {
		names = append(names, "secret "+s.Secret)
	}
	for _, q := range d.Queues {
		names = append(names, "queue "+q.Name)
	}
	for _, f := range d.Functions {
		names = append(names, "function "+f.Deployed)
	}
	names = append(names, "scheduler job "+d.FullSync.Job, "scheduler job "+d.LineSweep.Job)
	slices.Sort(names)
	return names
}

// naming checks the naming member and that every name stays a valid id
// for the longest environment name.
func (c *checker) naming() {
	n := c.d.Naming
	if !resourceID.MatchString(n.Prefix) {
		c.fail("naming.prefix: %q is not like eh", n.Prefix)
	}
	if err := c.d.ValidEnvironment(longestEnvironment); err != nil {
		c.fail("naming.environment_pattern: %v", err)
		return
	}
	if err := c.d.ValidEnvironment(longestEnvironment + "m"); err == nil {
		c.fail("naming.environment_pattern admits names longer than %d characters", len(longestEnvironment))
	}
	for k, v := range n.Labels {
		if !labelText.MatchString(k) || !labelText.MatchString(v) || k == "environment" {
			c.fail("naming.labels: %s=%s is not a label (and environment is added)", k, v)
		}
	}
	longest := c.d.Prefix(longestEnvironment) + "-"
	for key, sa := range c.d.ServiceAccounts {
		if !accountID.MatchString(longest + sa.ID) {
			c.fail("service_accounts.%s: %q is not a service account id", key, longest+sa.ID)
		}
	}
	for _, f := range c.d.Functions {
		if !functionName.MatchString(longest + string(f.Name)) {
			c.fail("functions: %q is too long a function name", longest+string(f.Name))
		}
	}
}

var labelText = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
