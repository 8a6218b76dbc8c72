package experthub_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/taskqueue"
)

// logMessages returns the messages of the log calls in the module's Go
// code (slog's Debug, Info, Warn, Error and their …Context forms): whole
// literals, and the literal start of a message built with +.
func logMessages(t *testing.T) (whole, prefixes []string) {
	t.Helper()
	levels := map[string]int{"Debug": 0, "Info": 0, "Warn": 0, "Error": 0,
		"DebugContext": 1, "InfoContext": 1, "WarnContext": 1, "ErrorContext": 1}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "terraform") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			i, ok := levels[sel.Sel.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			switch arg := call.Args[i].(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(arg.Value); err == nil {
					whole = append(whole, s)
				}
			case *ast.BinaryExpr:
				if lit, ok := arg.X.(*ast.BasicLit); ok && arg.Op == token.ADD {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						prefixes = append(prefixes, s)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return whole, prefixes
}

// TestMonitoringFiltersMatchCode: every message a log-based metric of
// terraform/monitoring.tf counts is one the code logs — equal for
// jsonPayload.message="…", contained for jsonPayload.message:"…". A
// reworded log line would otherwise silence its alert.
func TestMonitoringFiltersMatchCode(t *testing.T) {
	tf, err := os.ReadFile("terraform/monitoring.tf")
	if err != nil {
		t.Fatal(err)
	}
	whole, prefixes := logMessages(t)
	// The runtime's lines are its client's name and a fixed part.
	prefixes = append(prefixes, taskqueue.LogMessages(conversation.WorkName)...)
	if len(whole) < 20 {
		t.Fatalf("found only %d log messages in the code", len(whole))
	}
	filters := regexp.MustCompile(`jsonPayload\.message([=:])\\"(.*?)\\"`).FindAllStringSubmatch(string(tf), -1)
	if len(filters) < 5 {
		t.Fatalf("found only %d message filters in monitoring.tf", len(filters))
	}
	for _, m := range filters {
		op, msg := m[1], m[2]
		found := false
		for _, w := range whole {
			found = found || w == msg || op == ":" && strings.Contains(w, msg)
		}
		for _, p := range prefixes {
			found = found || op == ":" && strings.Contains(p, msg)
		}
		if !found {
			t.Errorf("monitoring.tf counts jsonPayload.message%s%q, which no log call in the code emits", op, msg)
		}
	}
	// The doctor's probes are left out of the rejections by User-Agent.
	if !strings.Contains(string(tf), `jsonPayload.user_agent=\"experthub-doctor\"`) {
		t.Error("the signature-rejections metric counts the doctor's own probes")
	}
}

// TestMonitoringDashboard: terraform/dashboard.json is valid JSON once
// templated, charts every function, and charts every log-based metric.
func TestMonitoringDashboard(t *testing.T) {
	raw, err := os.ReadFile("terraform/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.ReadFile("terraform/monitoring.tf")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\$\{(\w+)\}`)
	for _, v := range vars.FindAllStringSubmatch(string(raw), -1) {
		if v[1] != "prefix" && v[1] != "service_prefix" {
			t.Errorf("dashboard.json uses ${%s}, which monitoring.tf does not pass", v[1])
		}
	}
	templated := vars.ReplaceAllString(string(raw), "x")
	var d struct {
		DisplayName  string `json:"displayName"`
		MosaicLayout struct {
			Tiles []json.RawMessage `json:"tiles"`
		} `json:"mosaicLayout"`
	}
	if err := json.Unmarshal([]byte(templated), &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.DisplayName == "" || len(d.MosaicLayout.Tiles) == 0 {
		t.Fatal("dashboard.json has no name or no tile")
	}
	for _, f := range function.All() {
		ref := `resource.label.service_name=\"${service_prefix}` + string(f) + `\"`
		if n := strings.Count(string(raw), ref); n < 2 {
			t.Errorf("dashboard.json charts %s %d times, want its requests and its latency", f, n)
		}
	}
	metrics := regexp.MustCompile(`(?m)^\s+"([a-z-]+)" = \{\n\s+description`).FindAllStringSubmatch(string(tf), -1)
	if len(metrics) < 4 {
		t.Fatalf("found %d log-based metrics in monitoring.tf", len(metrics))
	}
	for _, m := range metrics {
		if !strings.Contains(string(raw), "logging.googleapis.com/user/${prefix}-"+m[1]+`\"`) {
			t.Errorf("dashboard.json does not chart the log-based metric %s", m[1])
		}
	}
	if !strings.Contains(string(tf), `templatefile("${path.module}/dashboard.json"`) {
		t.Error("monitoring.tf does not deploy dashboard.json")
	}
}
