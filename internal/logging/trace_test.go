package logging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestTraceFromHeader(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name   string
		header map[string]string
		want   Trace
		ok     bool
	}{
		{"traceparent sampled", map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-01"},
			Trace{ID: id, SpanID: "00f067aa0ba902b7", Sampled: true}, true},
		{"traceparent not sampled", map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-00"},
			Trace{ID: id, SpanID: "00f067aa0ba902b7"}, true},
		{"traceparent upper case", map[string]string{"traceparent": "00-" + strings.ToUpper(id) + "-00F067AA0BA902B7-01"},
			Trace{ID: id, SpanID: "00f067aa0ba902b7", Sampled: true}, true},
		{"traceparent of a later version with more fields", map[string]string{"traceparent": "01-" + id + "-00f067aa0ba902b7-01-later"},
			Trace{ID: id, SpanID: "00f067aa0ba902b7", Sampled: true}, true},
		{"X-Cloud-Trace-Context: decimal span to hex", map[string]string{"X-Cloud-Trace-Context": id + "/81;o=1"},
			Trace{ID: id, SpanID: "0000000000000051", Sampled: true}, true},
		{"X-Cloud-Trace-Context largest span", map[string]string{"X-Cloud-Trace-Context": id + "/18446744073709551615;o=0"},
			Trace{ID: id, SpanID: "ffffffffffffffff"}, true},
		{"X-Cloud-Trace-Context without span or options", map[string]string{"X-Cloud-Trace-Context": id},
			Trace{ID: id}, true},
		{"X-Cloud-Trace-Context with a bad span keeps the trace", map[string]string{"X-Cloud-Trace-Context": id + "/x1;o=1"},
			Trace{ID: id, Sampled: true}, true},
		{"traceparent wins", map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-01",
			"X-Cloud-Trace-Context": "0af7651916cd43dd8448eb211c80319c/1;o=1"},
			Trace{ID: id, SpanID: "00f067aa0ba902b7", Sampled: true}, true},
		{"bad traceparent falls back", map[string]string{"traceparent": "garbage",
			"X-Cloud-Trace-Context": id + "/1;o=1"},
			Trace{ID: id, SpanID: "0000000000000001", Sampled: true}, true},
		{"none", nil, Trace{}, false},
		{"traceparent version ff", map[string]string{"traceparent": "ff-" + id + "-00f067aa0ba902b7-01"}, Trace{}, false},
		{"traceparent 00 with more fields", map[string]string{"traceparent": "00-" + id + "-00f067aa0ba902b7-01-x"}, Trace{}, false},
		{"traceparent zero trace", map[string]string{"traceparent": "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"}, Trace{}, false},
		{"traceparent zero span", map[string]string{"traceparent": "00-" + id + "-0000000000000000-01"}, Trace{}, false},
		{"traceparent short trace", map[string]string{"traceparent": "00-" + id[:31] + "-00f067aa0ba902b7-01"}, Trace{}, false},
		{"X-Cloud-Trace-Context not hex", map[string]string{"X-Cloud-Trace-Context": strings.Repeat("g", 32) + "/1;o=1"}, Trace{}, false},
		{"X-Cloud-Trace-Context injected", map[string]string{"X-Cloud-Trace-Context": id + `","severity":"ERROR`}, Trace{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, ok := TraceFromHeader(h)
			if got != tt.want || ok != tt.ok {
				t.Errorf("TraceFromHeader = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTraceInLogs: every line logged with a context from WithTrace
// carries Cloud Logging's trace fields, unmasked; none without.
func TestTraceInLogs(t *testing.T) {
	// Seven decimal digits first: what the phone masking would hide.
	const id = "1234567890abcdef1234567890abcdef"
	tests := []struct {
		name    string
		project string
		trace   Trace
		want    map[string]any // nil: no trace field at all
	}{
		{"trace and span", "demo", Trace{ID: id, SpanID: "0000000000000051", Sampled: true},
			map[string]any{TraceKey: "projects/demo/traces/" + id, SpanKey: "0000000000000051", TraceSampledKey: true}},
		{"no span", "demo", Trace{ID: id},
			map[string]any{TraceKey: "projects/demo/traces/" + id, TraceSampledKey: false}},
		{"no project", "", Trace{ID: id, SpanID: "0000000000000051"}, nil},
		{"no trace", "demo", Trace{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, "info")
			ctx := WithTrace(WithFunction(t.Context(), "routing"), tt.project, tt.trace)
			log.InfoContext(ctx, "one")
			log.With("k", "v").WarnContext(ctx, "two", "conversation", "CH00000000000000000000000000000001")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d lines: %s", len(lines), buf.String())
			}
			for _, line := range lines {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{TraceKey, SpanKey, TraceSampledKey} {
					if rec[k] != tt.want[k] {
						t.Errorf("%s = %v, want %v: %s", k, rec[k], tt.want[k], line)
					}
				}
				if rec[FunctionKey] != "routing" {
					t.Errorf("function = %v: %s", rec[FunctionKey], line)
				}
			}
		})
	}
	// Without WithTrace, a line has no trace field.
	var buf bytes.Buffer
	New(&buf, "info").InfoContext(t.Context(), "plain")
	if strings.Contains(buf.String(), "logging.googleapis.com") {
		t.Errorf("line without a trace has trace fields: %s", buf.String())
	}
}
