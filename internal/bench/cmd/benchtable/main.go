// Command benchtable runs Expert Hub's benchmark suite (internal/bench)
// at full size and writes the results, side by side with the seed's way,
// to docs/benchmarks.md:
//
//	go run ./internal/bench/cmd/benchtable
//
// It needs what the benchmarks need: gcloud's Firestore emulator (started
// by the test binary unless FIRESTORE_EMULATOR_HOST names one) and about
// 15 minutes. Flags:
//
//	-quick               small sizes only, as CI runs them (about a minute)
//	-bench regexp        run only the matching benchmarks
//	-merge               keep the other benchmarks' results from the report
//	-benchtime t         go test's -benchtime (e.g. 3x: three bursts)
//	-strapi-latency d    latency of every Strapi stub request (default 20ms)
//	-twilio-latency d    latency of every fake Twilio request (default 50ms)
//	-o file              where to write the report ("-": nowhere)
//	-from file           render saved `go test -bench` output instead of running
//
// With -merge, a run of some benchmarks (-bench) updates their sections of
// the existing report: the results of the benchmarks it did not run are
// read back from the report's raw output, the report's header gains a row
// naming the run and the sections it measured, and each of those
// sections says so.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	quick := flag.Bool("quick", false, "small sizes only (as CI runs them)")
	bench := flag.String("bench", ".", "run only the benchmarks matching this regexp")
	strapiLatency := flag.Duration("strapi-latency", 20*time.Millisecond, "latency of every Strapi stub request")
	twilioLatency := flag.Duration("twilio-latency", 50*time.Millisecond, "latency of every fake Twilio request")
	out := flag.String("o", "docs/benchmarks.md", `report file, relative to the module root ("-": none)`)
	from := flag.String("from", "", "render this saved `go test -bench` output instead of running")
	merge := flag.Bool("merge", false, "keep the results of the benchmarks not run from the report (-o)")
	benchtime := flag.String("benchtime", "", "go test's -benchtime (default: go test's own, 1s)")
	flag.Parse()
	if err := run(*quick, *bench, *benchtime, *strapiLatency, *twilioLatency, *out, *from, *merge); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(quick bool, bench, benchtime string, strapiLatency, twilioLatency time.Duration, out, from string, merge bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if out != "-" && !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	var prev *earlier
	if merge {
		if out == "-" {
			return fmt.Errorf("-merge needs the report to merge into (-o)")
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return fmt.Errorf("-merge: %w", err)
		}
		if prev, err = readReport(string(b)); err != nil {
			return fmt.Errorf("-merge: %s: %w", out, err)
		}
	}
	m := machine()
	m.started = time.Now().UTC()
	m.loadBefore = loadAverage()

	var raw bytes.Buffer
	var runErr error
	if from != "" {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		raw.Write(b)
	} else {
		args := []string{"test", "-run", "^$", "-bench", bench, "-timeout", "120m"}
		if benchtime != "" {
			args = append(args, "-benchtime", benchtime)
		}
		args = append(args, "./internal/bench")
		cmd := exec.Command(goTool(), args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(),
			"EXPERTHUB_BENCH_STRAPI_LATENCY="+strapiLatency.String(),
			"EXPERTHUB_BENCH_TWILIO_LATENCY="+twilioLatency.String())
		if !quick {
			cmd.Env = append(cmd.Env, "EXPERTHUB_BENCH_FULL=1")
		}
		cmd.Stdout = io.MultiWriter(&raw, os.Stderr)
		cmd.Stderr = cmd.Stdout
		fmt.Fprintf(os.Stderr, "benchtable: go %s\n", strings.Join(args, " "))
		runErr = cmd.Run()
	}
	m.took = time.Since(m.started).Round(time.Second)
	m.loadAfter = loadAverage()

	res := parse(raw.String())
	r := report{
		m: m, res: res, quick: quick, bench: bench, benchtime: benchtime,
		strapiLatency: strapiLatency, twilioLatency: twilioLatency,
		raw: raw.String(),
	}
	if prev != nil {
		r.merge(prev)
	}
	doc := r.render()
	fmt.Print(r.tables)
	if out != "-" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "benchtable: wrote %s\n", out)
	}
	if runErr != nil {
		return fmt.Errorf("go test: %w (the report shows what ran)", runErr)
	}
	return nil
}

// goTool is the go command on PATH: the one benchtable was run with.
func goTool() string { return "go" }

func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run me inside the experthub module")
	}
	return filepath.Dir(gomod), nil
}

// machineInfo describes where and when the benchmarks ran.
type machineInfo struct {
	cpus       int
	cpuModel   string
	memory     string
	goVersion  string
	kernel     string
	started    time.Time
	took       time.Duration
	loadBefore string
	loadAfter  string
}

func machine() machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), cpuModel: "unknown", memory: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if out, err := exec.Command(goTool(), "version").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.kernel = strings.TrimSpace(string(out))
	}
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// results maps a benchmark name (without the -GOMAXPROCS suffix) to its
// metrics by unit ("ns/op", "req/s"…).
type results map[string]map[string]float64

// parse reads `go test -bench` output.
func parse(out string) results {
	res := results{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		metrics := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			metrics[f[i+1]] = v
		}
		res[name] = metrics
	}
	return res
}

// get returns a metric and whether it was measured.
func (r results) get(name, unit string) (float64, bool) {
	m, ok := r[name]
	if !ok {
		return 0, false
	}
	v, ok := m[unit]
	return v, ok
}
