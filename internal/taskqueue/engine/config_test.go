package engine

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		c    RetryConfig
		want []time.Duration // waits before retries 1, 2, …
	}{
		{
			// The example of Cloud Tasks' RetryConfig reference.
			name: "doc example",
			c:    RetryConfig{MinBackoff: 10 * s, MaxBackoff: 300 * s, MaxDoublings: 3},
			want: []time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 240 * s, 300 * s, 300 * s},
		},
		{
			name: "no doubling is linear",
			c:    RetryConfig{MinBackoff: s, MaxBackoff: 4 * s},
			want: []time.Duration{s, 2 * s, 3 * s, 4 * s, 4 * s},
		},
		{
			name: "capped while doubling",
			c:    RetryConfig{MinBackoff: s, MaxBackoff: 5 * s, MaxDoublings: 10},
			want: []time.Duration{s, 2 * s, 4 * s, 5 * s, 5 * s},
		},
		{
			name: "defaults",
			c:    RetryConfig{MaxDoublings: 16},
			want: []time.Duration{DefaultMinBackoff, 2 * DefaultMinBackoff, 4 * DefaultMinBackoff},
		},
		{
			name: "max below min is raised to min",
			c:    RetryConfig{MinBackoff: 2 * s, MaxBackoff: s, MaxDoublings: 3},
			want: []time.Duration{2 * s, 2 * s},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := tt.c.Backoff(i + 1); got != want {
					t.Errorf("Backoff(%d) = %v, want %v", i+1, got, want)
				}
			}
		})
	}
	// Far retries neither overflow nor pass the cap.
	c := RetryConfig{MinBackoff: time.Millisecond, MaxBackoff: time.Hour, MaxDoublings: 60}
	for _, retry := range []int{0, 1, 40, 64, 1000, 1 << 30} {
		if got := c.Backoff(retry); got <= 0 || got > time.Hour {
			t.Errorf("Backoff(%d) = %v, want in (0, 1h]", retry, got)
		}
	}
}

func TestExhausted(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name     string
		c        RetryConfig
		attempts int
		ago      time.Duration
		want     bool
	}{
		{"attempts left", RetryConfig{MaxAttempts: 3}, 2, time.Hour, false},
		{"attempts spent", RetryConfig{MaxAttempts: 3}, 3, 0, true},
		{"default attempts", RetryConfig{}, DefaultMaxAttempts, 0, true},
		{"default attempts left", RetryConfig{}, DefaultMaxAttempts - 1, 0, false},
		{"both set, only attempts spent", RetryConfig{MaxAttempts: 3, MaxRetryDuration: m}, 5, m - 1, false},
		{"both set, only age spent", RetryConfig{MaxAttempts: 3, MaxRetryDuration: m}, 2, 2 * m, false},
		{"both set, both spent", RetryConfig{MaxAttempts: 3, MaxRetryDuration: m}, 3, m, true},
		{"unlimited attempts, age spent", RetryConfig{MaxAttempts: -1, MaxRetryDuration: m}, 1, m, true},
		{"unlimited attempts, age left", RetryConfig{MaxAttempts: -1, MaxRetryDuration: m}, 1000, m - 1, false},
		{"nothing limits", RetryConfig{MaxAttempts: -1}, 1 << 20, 1000 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Exhausted(tt.attempts, tt.ago); got != tt.want {
				t.Errorf("Exhausted(%d, %v) = %v, want %v", tt.attempts, tt.ago, got, tt.want)
			}
		})
	}
}
