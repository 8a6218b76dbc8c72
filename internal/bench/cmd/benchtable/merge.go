package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// earlier is what a report written before holds: its header rows and the
// results in its raw output.
type earlier struct {
	header []string          // the header table's rows, as written
	order  []string          // the benchmarks of the raw output, in its order
	lines  map[string]string // benchmark name → its raw output line
	res    results
}

// rerunLabel begins the header row of a re-run merged into a report.
const rerunLabel = "| Re-run "

// keptIntro introduces the raw lines a merge kept from earlier runs.
const keptIntro = "Kept from the earlier runs named in the header (the benchmarks the re-run did not measure):"

// readReport reads back a report benchtable wrote.
func readReport(doc string) (*earlier, error) {
	const top = "| | |\n|---|---|\n"
	i := strings.Index(doc, top)
	if i < 0 {
		return nil, errors.New("no header table")
	}
	e := &earlier{lines: map[string]string{}}
	for _, row := range strings.Split(doc[i+len(top):], "\n") {
		if !strings.HasPrefix(row, "| ") {
			break
		}
		e.header = append(e.header, row)
	}
	_, raw, ok := strings.Cut(doc, "\n## Raw output\n")
	if !ok {
		return nil, errors.New("no raw output")
	}
	for _, line := range strings.Split(raw, "\n") {
		if name, ok := benchName(line); ok {
			if _, dup := e.lines[name]; !dup {
				e.order = append(e.order, name)
			}
			e.lines[name] = line
		}
	}
	e.res = parse(raw)
	if len(e.res) == 0 {
		return nil, errors.New("no benchmark results in the raw output")
	}
	return e, nil
}

// benchName returns the name of the benchmark a raw output line reports,
// as parse keys it.
func benchName(line string) (string, bool) {
	res := parse(line)
	for name := range res {
		return name, true
	}
	return "", false
}

// merge adds to r what the earlier report measured and this run did not,
// and notes which sections this run (and earlier re-runs) measured.
func (r *report) merge(e *earlier) {
	sections := map[int]bool{}
	for name := range r.res {
		if n := sectionOf(name); n > 0 {
			sections[n] = true
		}
	}
	r.notes = map[int]string{}
	for _, row := range e.header {
		if !strings.HasPrefix(row, rerunLabel) {
			r.header = append(r.header, row)
			continue
		}
		// An earlier re-run stays named for the sections this run left.
		var left []string
		for _, n := range rowSections(row) {
			if !sections[n] {
				left = append(left, strconv.Itoa(n))
				r.notes[n] = rerunNote(row)
			}
		}
		if left != nil {
			r.header = append(r.header, sectionsPattern.ReplaceAllLiteralString(row, sectionsPhrase(left)))
		}
	}
	for n := range sections {
		r.notes[n] = fmt.Sprintf("Measured by the re-run of %s%s; see the header.", r.m.started.Format(dateLayout), r.m.onBusy())
		r.measured = append(r.measured, n)
	}
	slices.Sort(r.measured)
	for _, name := range e.order {
		if _, ok := r.res[name]; ok {
			continue
		}
		r.res[name] = e.res[name]
		r.kept = append(r.kept, e.lines[name])
	}
	if r.header == nil {
		r.header = []string{}
	}
}

// rerunRow is the header row naming this run, merged into an earlier
// report, and the sections it measured.
func (r *report) rerunRow(cmd string) string {
	var s []string
	for _, n := range r.measured {
		s = append(s, strconv.Itoa(n))
	}
	return fmt.Sprintf("%s| %s (the run took %s): `%s -merge` %s, on %d CPUs (`nproc`), %s; load average before %s, after %s%s |",
		rerunLabel, r.m.started.Format(dateLayout), r.m.took, cmd, sectionsPhrase(s),
		r.m.cpus, r.m.cpuModel, r.m.loadBefore, r.m.loadAfter, r.m.busyNote())
}

var sectionsPattern = regexp.MustCompile(`measured sections? ([0-9, ]+) again`)

// sectionsPhrase names the sections a re-run measured, as sectionsPattern
// reads them back.
func sectionsPhrase(ns []string) string {
	if len(ns) == 1 {
		return "measured section " + ns[0] + " again"
	}
	return "measured sections " + strings.Join(ns, ", ") + " again"
}

// rowSections returns the sections a re-run row names.
func rowSections(row string) []int {
	m := sectionsPattern.FindStringSubmatch(row)
	if m == nil {
		return nil
	}
	var out []int
	for _, f := range strings.Split(m[1], ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// rerunNote is the section note of an earlier re-run's row.
func rerunNote(row string) string {
	date, _, _ := strings.Cut(strings.TrimPrefix(row, rerunLabel+"| "), " (")
	busy := ""
	if strings.Contains(row, busyWords) {
		busy = " on a busy machine"
	}
	return fmt.Sprintf("Measured by the re-run of %s%s; see the header.", date, busy)
}

// sectionOf returns the report section of a benchmark, 0 for none.
func sectionOf(name string) int {
	switch {
	case strings.HasPrefix(name, "BenchmarkCRM/") && strings.Contains(name, "/address/"):
		return 2
	case strings.HasPrefix(name, "BenchmarkCRM/"):
		return 1
	case strings.HasPrefix(name, "BenchmarkBotTurn/"):
		return 3
	case strings.HasPrefix(name, "BenchmarkServer/cold-start/"), strings.HasPrefix(name, "BenchmarkAppNew/"):
		return 4
	case strings.HasPrefix(name, "BenchmarkServer/memory/"):
		return 5
	case strings.HasPrefix(name, "BenchmarkSync/"):
		return 6
	case strings.HasPrefix(name, "BenchmarkServer/throughput/"):
		return 7
	case strings.HasPrefix(name, "BenchmarkEndToEnd/"):
		return 8
	case name == "BenchmarkBurst":
		return 9
	case strings.HasPrefix(name, "BenchmarkFreshness/"):
		return 10
	case name == "BenchmarkBurst400":
		return 11
	case strings.HasPrefix(name, "BenchmarkFlexToken/"), name == "BenchmarkFlexEvents":
		return 12
	}
	return 0
}

// busyWords mark a run on a machine with more runnable processes than
// CPUs.
const busyWords = "a busy machine"

// busy reports whether the 1-minute load average, before or after the
// run, was at least the number of CPUs: the benchmarks shared the CPUs.
func (m machineInfo) busy() bool {
	for _, l := range []string{m.loadBefore, m.loadAfter} {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil && v >= float64(m.cpus) {
			return true
		}
	}
	return false
}

// busyNote is said after the load averages of a busy run.
func (m machineInfo) busyNote() string {
	if !m.busy() {
		return ""
	}
	return fmt.Sprintf(" — %s: more runnable processes than its %d CPUs", busyWords, m.cpus)
}

// onBusy is said of a section a busy run measured.
func (m machineInfo) onBusy() string {
	if !m.busy() {
		return ""
	}
	return " on " + busyWords
}
