package logging

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// The fields Cloud Logging reads from a structured line to link it to a
// trace: Logs Explorer then shows every line of one request together, and
// Cloud Trace shows them under the request's span.
// https://cloud.google.com/logging/docs/structured-logging#structured_logging_special_fields
const (
	TraceKey        = "logging.googleapis.com/trace"
	SpanKey         = "logging.googleapis.com/spanId"
	TraceSampledKey = "logging.googleapis.com/trace_sampled"
)

// Trace is the Cloud Trace context a request arrived with.
type Trace struct {
	// ID is the trace ID: 32 lowercase hexadecimal digits.
	ID string
	// SpanID is the caller's span: 16 lowercase hexadecimal digits, the
	// form Cloud Logging wants, or "" when the header names none.
	SpanID  string
	Sampled bool
}

// TraceFromHeader reads the trace context of an incoming request: the W3C
// traceparent header ("00-TRACEID-SPANID-FLAGS"), else Google's
// X-Cloud-Trace-Context ("TRACEID/SPANID;o=1", its span ID in decimal),
// the order Google recommends (https://cloud.google.com/trace/docs/trace-context).
// It reports false when neither header holds a valid trace ID.
func TraceFromHeader(h http.Header) (Trace, bool) {
	if t, ok := parseTraceparent(h.Get("traceparent")); ok {
		return t, true
	}
	return parseCloudTraceContext(h.Get("X-Cloud-Trace-Context"))
}

// parseTraceparent reads a W3C trace context header:
// https://www.w3.org/TR/trace-context/#traceparent-header
func parseTraceparent(v string) (Trace, bool) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) < 4 || !hexOfLen(parts[0], 2) || parts[0] == "ff" || (parts[0] == "00" && len(parts) != 4) {
		return Trace{}, false
	}
	id, span, flags := strings.ToLower(parts[1]), strings.ToLower(parts[2]), parts[3]
	if !validTraceID(id) || !hexOfLen(span, 16) || span == strings.Repeat("0", 16) || !hexOfLen(flags, 2) {
		return Trace{}, false
	}
	f, _ := strconv.ParseUint(flags, 16, 8)
	return Trace{ID: id, SpanID: span, Sampled: f&1 == 1}, true
}

// parseCloudTraceContext reads Google's legacy X-Cloud-Trace-Context
// header.
func parseCloudTraceContext(v string) (Trace, bool) {
	ids, options, _ := strings.Cut(strings.TrimSpace(v), ";")
	id, span, _ := strings.Cut(ids, "/")
	id = strings.ToLower(id)
	if !validTraceID(id) {
		return Trace{}, false
	}
	t := Trace{ID: id, Sampled: strings.TrimSpace(options) == "o=1"}
	// The span ID is a decimal uint64 here; Cloud Logging wants it as 16
	// hex digits. A malformed span still leaves a usable trace.
	if n, err := strconv.ParseUint(span, 10, 64); err == nil && n != 0 {
		t.SpanID = fmt.Sprintf("%016x", n)
	}
	return t, true
}

func validTraceID(id string) bool {
	return hexOfLen(id, 32) && id != strings.Repeat("0", 32)
}

func hexOfLen(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

type traceContextKey struct{}

// WithTrace returns a copy of ctx whose log lines (from a logger of New)
// carry Cloud Logging's trace fields for t in project: the trace
// "projects/<project>/traces/<ID>", its span and whether it is sampled.
// Without a project the trace's name is unknown and ctx is returned as
// is.
func WithTrace(ctx context.Context, project string, t Trace) context.Context {
	if project == "" || t.ID == "" {
		return ctx
	}
	attrs := []slog.Attr{slog.String(TraceKey, "projects/"+project+"/traces/"+t.ID)}
	if t.SpanID != "" {
		attrs = append(attrs, slog.String(SpanKey, t.SpanID))
	}
	attrs = append(attrs, slog.Bool(TraceSampledKey, t.Sampled))
	return context.WithValue(ctx, traceContextKey{}, attrs)
}

func traceAttrs(ctx context.Context) []slog.Attr {
	attrs, _ := ctx.Value(traceContextKey{}).([]slog.Attr)
	return attrs
}
