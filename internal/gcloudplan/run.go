package gcloudplan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Gcloud runs gcloud with args (without "gcloud"), writing its output to
// stdout and stderr. cmd/experthub runs the real one; tests pass a fake.
type Gcloud func(args []string, stdout, stderr io.Writer) error

// Run runs steps in order with gcloud, echoing each command to w, and
// stops at the first failure. What exists already is skipped or updated,
// as the script WriteScript prints does it.
func Run(steps []Step, gcloud Gcloud, w io.Writer) error {
	for _, st := range steps {
		fmt.Fprintf(w, "\n# %s\n", strings.ReplaceAll(st.Comment, "\n", "\n# "))
		if st.Args == nil {
			continue
		}
		if st.Exists != nil {
			if gcloud(st.Exists, io.Discard, io.Discard) == nil {
				if st.Update == nil {
					fmt.Fprintln(w, "exists already: skipped")
					continue
				}
				if err := call(gcloud, st.Update, w, w); err != nil {
					return err
				}
				continue
			}
		}
		if st.Expect != "" {
			var out bytes.Buffer
			if err := call(gcloud, st.Args, &out, w); err != nil {
				return err
			}
			if strings.TrimSpace(out.String()) == "" {
				return errors.New("gcloudplan: " + st.Expect)
			}
			continue
		}
		var errOut bytes.Buffer
		err := call(gcloud, st.Args, w, io.MultiWriter(w, &errOut))
		if err != nil && st.AlreadyExistsOK && alreadyExists(errOut.String()) {
			fmt.Fprintln(w, "exists already: fine")
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func call(gcloud Gcloud, args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "$ "+command(args))
	if err := gcloud(args, stdout, stderr); err != nil {
		return fmt.Errorf("gcloudplan: gcloud %s: %w", strings.Join(args[:min(3, len(args))], " "), err)
	}
	return nil
}

func alreadyExists(stderr string) bool {
	s := strings.ToLower(stderr)
	return strings.Contains(s, "already_exists") || strings.Contains(s, "already exists")
}
