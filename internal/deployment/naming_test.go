package deployment

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidEnvironment(t *testing.T) {
	d := description(t)
	cases := map[string]bool{
		"staging": true, "production": true, "prod": true, "a": true, "dev-2": true,
		"abcdefghijkl":  true, // 12: eh-abcdefghijkl-scheduler is 25 of 30
		"abcdefghijklm": false,
		"":              false, "Staging": false, "2nd": false, "dev-": false, "dev_2": false, "-dev": false,
	}
	for env, ok := range cases {
		err := d.ValidEnvironment(env)
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrEnvironment) {
			t.Errorf("ValidEnvironment(%q) = %v, want ok %v", env, err, ok)
		}
	}
}

func TestForEnvironmentNames(t *testing.T) {
	d, err := description(t).ForEnvironment("staging")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range d.UniqueNames() {
		if fields := strings.Fields(name); !strings.HasPrefix(fields[len(fields)-1], "eh-staging-") {
			t.Errorf("%s does not start with eh-staging-", name)
		}
	}
	if got := d.ServiceAccounts["run"].ID; got != "eh-staging-run" {
		t.Errorf("run account %q", got)
	}
	if f, _ := d.Function("pre-event"); f.Deployed != "eh-staging-pre-event" || f.Name != "pre-event" {
		t.Errorf("pre-event = %+v", f)
	}
	if got := d.Labels("staging"); got["environment"] != "staging" || got["app"] != "expert-hub" {
		t.Errorf("labels %v", got)
	}
	// The description as written is left alone, and is named once only.
	if orig := description(t); orig.ServiceAccounts["run"].ID != "run" || orig.Environment != "" {
		t.Errorf("ForEnvironment changed the description: %+v", orig.ServiceAccounts)
	}
	if _, err := d.ForEnvironment("production"); err == nil {
		t.Error("a named description was named again")
	}
	if _, err := description(t).ForEnvironment("Prod"); !errors.Is(err, ErrEnvironment) {
		t.Errorf("ForEnvironment(Prod) = %v, want ErrEnvironment", err)
	}
}

// Two environments in one project collide on no name: staging's and
// production's unique names from the shared description are disjoint.
func TestNamedEnvironmentsDisjoint(t *testing.T) {
	var all [][]string
	for _, env := range []string{"staging", "production"} {
		d, err := description(t).ForEnvironment(env)
		if err != nil {
			t.Fatal(err)
		}
		names := d.UniqueNames()
		want := len(d.ServiceAccounts) + len(d.Secrets) + len(d.Queues) + len(d.Functions) + 2 // the scheduler jobs
		if len(names) != want || len(slices.Compact(slices.Clone(names))) != want {
			t.Errorf("%s: %d unique names %v, want %d", env, len(names), names, want)
		}
		all = append(all, names)
	}
	for _, name := range all[0] {
		if slices.Contains(all[1], name) {
			t.Errorf("staging and production both have %s", name)
		}
	}
}

func TestDescriptionRejectsNaming(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"long environments", `{0,10}`, `{0,20}`, "admits names longer than 12"},
		{"short environments", `{0,10}`, `{0,5}`, "naming.environment_pattern"},
		{"bad pattern", `{0,10}`, `{0,10`, "naming.environment_pattern"},
		{"long account", `"id": "scheduler"`, `"id": "scheduler-of-the-full-sync"`, "is not a service account id"},
		{"bad prefix", `"prefix": "eh"`, `"prefix": "EH"`, "naming.prefix"},
		{"environment label", `"app": "expert-hub"`, `"environment": "x"`, "naming.labels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := string(descriptionJSON)
			if !strings.Contains(src, c.old) {
				t.Fatalf("%s does not contain %q", DescriptionFile, c.old)
			}
			_, err := ParseDescription([]byte(strings.Replace(src, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
