package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"3", 3 * time.Second},
		{"-1", 0},
		{"soon", 0},
		{"Wed, 01 May 2024 12:00:05 GMT", 5 * time.Second},
		{"Wed, 01 May 2024 11:59:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	rest := func(status int) error { return &client.TwilioRestError{Status: status, Code: 20000 + status} }
	transport := &url.Error{Op: "Get", URL: "https://x", Err: errors.New("connection refused")}
	timeout := &url.Error{Op: "Get", URL: "https://x", Err: context.DeadlineExceeded}
	tests := []struct {
		kind   callKind
		status int
		err    error
		want   bool
	}{
		{idempotent, 429, rest(429), true},
		{create, 429, rest(429), true},
		{idempotent, 503, rest(503), true},
		{idempotent, 500, rest(500), true},
		{create, 503, rest(503), false},
		{idempotent, 400, rest(400), false},
		{idempotent, 404, rest(404), false},
		{idempotent, 409, rest(409), false},
		{idempotent, 412, rest(412), false},
		// An error body twilio-go could not decode: only the recorded
		// status tells.
		{idempotent, 502, fmt.Errorf("error decoding the response for an HTTP error code: 502"), true},
		{idempotent, 0, transport, true},
		{idempotent, 0, timeout, true},
		{create, 0, timeout, false},
		{idempotent, 200, errors.New("invalid character"), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.kind, tt.status, tt.err); got != tt.want {
			t.Errorf("retryable(%v, %d, %v) = %v, want %v", tt.kind, tt.status, tt.err, got, tt.want)
		}
	}
}

func TestUnclear(t *testing.T) {
	rest := func(status int) error { return &client.TwilioRestError{Status: status, Code: 20000 + status} }
	tests := []struct {
		name   string
		status int
		err    error
		want   bool
	}{
		{"connection refused", 0, &url.Error{Op: "Post", URL: "https://x", Err: errors.New("connection refused")}, true},
		{"timeout", 0, &url.Error{Op: "Post", URL: "https://x", Err: context.DeadlineExceeded}, true},
		{"500", 500, rest(500), true},
		{"503", 503, rest(503), true},
		{"502 with an unreadable body", 502, errors.New("error decoding the response for an HTTP error code: 502"), true},
		{"201 with an unreadable body", 201, errors.New("unexpected EOF"), true},
		{"400", 400, rest(400), false},
		{"404", 404, rest(404), false},
		{"409", 409, rest(409), false},
		{"429", 429, rest(429), false},
		{"not sent: bad parameters", 0, errors.New("required parameter missing"), false},
	}
	for _, tt := range tests {
		if got := unclear(tt.status, tt.err); got != tt.want {
			t.Errorf("%s: unclear(%d, %v) = %v, want %v", tt.name, tt.status, tt.err, got, tt.want)
		}
	}
}
