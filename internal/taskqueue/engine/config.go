// Package engine runs named tasks at their schedule time with the queue
// semantics of Google Cloud Tasks: a name is reserved while its task is
// pending and for a de-duplication window after it finished, attempts are
// capped in rate and concurrency, and a failed attempt is retried with the
// queue's backoff until its retry limits are spent.
//
// It is the engine shared by the in-process queue of local runs
// (taskqueue.LocalQueue) and the Cloud Tasks fake (cloudtaskstest), so both
// behave alike. It delivers nothing itself: the caller's deliver function
// makes each attempt and reports an HTTP status.
package engine

import (
	"time"
)

// Defaults used for the zero value of a field. Cloud Tasks picks its own
// defaults for a queue created without them and does not document them in
// the API reference (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig:
// "If unspecified when the queue is created, Cloud Tasks will pick the
// default"); these are commonly reported values, unverified. Deploy
// queues with explicit settings.
const (
	DefaultMaxAttempts             = 100
	DefaultMinBackoff              = 100 * time.Millisecond
	DefaultMaxBackoff              = time.Hour
	DefaultMaxDispatchesPerSecond  = 500
	DefaultMaxConcurrentDispatches = 1000
	// DefaultDedupeWindow is how long a finished task's name stays
	// reserved: "another task with the same name can't be created for
	// ~1 hour after the original task was deleted or executed"
	// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create).
	DefaultDedupeWindow = time.Hour
	// DefaultDeadline is an HTTP task's default dispatch deadline
	// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#Task.FIELDS.dispatch_deadline).
	DefaultDeadline = 10 * time.Minute
)

// RetryConfig says when a failed attempt is retried, as a Cloud Tasks
// queue's RetryConfig does
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig).
// Unlike Cloud Tasks, durations are not truncated to whole seconds, so
// tests can retry within milliseconds.
type RetryConfig struct {
	// MaxAttempts counts every attempt, the first included; -1 is
	// unlimited and 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxRetryDuration limits retrying, measured from the first attempt;
	// 0 is unlimited.
	MaxRetryDuration time.Duration
	// MinBackoff and MaxBackoff bound the wait before a retry; 0 means
	// DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxDoublings is how many times the wait doubles before it grows
	// linearly; 0 is taken as given (linear from the start).
	MaxDoublings int
}

func (c RetryConfig) withDefaults() RetryConfig {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.MaxDoublings < 0 {
		c.MaxDoublings = 0
	}
	return c
}

// Backoff returns the wait before the retry-th retry (1 for the retry
// after the first attempt). The wait starts at MinBackoff, doubles
// MaxDoublings times, then grows linearly by MinBackoff·2^MaxDoublings,
// and is capped at MaxBackoff: with 10s, 300s and 3 doublings the waits
// are 10, 20, 40, 80, 160, 240, 300, 300 s… (the example of
// https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig.FIELDS.max_doublings).
func (c RetryConfig) Backoff(retry int) time.Duration {
	c = c.withDefaults()
	if retry < 1 {
		retry = 1
	}
	k := retry - 1
	var d time.Duration
	if k <= c.MaxDoublings {
		d = shift(c.MinBackoff, k, c.MaxBackoff)
	} else {
		step := shift(c.MinBackoff, c.MaxDoublings, c.MaxBackoff)
		n := time.Duration(k - c.MaxDoublings + 1)
		if step > c.MaxBackoff/n {
			return c.MaxBackoff
		}
		d = step * n
	}
	return min(d, c.MaxBackoff)
}

// shift returns d·2^k, or limit once that exceeds limit.
func shift(d time.Duration, k int, limit time.Duration) time.Duration {
	for range k {
		if d > limit/2 {
			return limit
		}
		d *= 2
	}
	return d
}

// Exhausted reports whether a task attempted attempts times, the first
// of them since ago, is given up. Cloud Tasks stops retrying "only when
// max_attempts and max_retry_duration are both satisfied"; a limit that
// is not set (unlimited) is read as satisfied, as queue.yaml's
// task_retry_limit and task_age_limit are, so that a queue with only
// max_attempts stops after that many. With neither set a task is retried
// until it succeeds.
func (c RetryConfig) Exhausted(attempts int, ago time.Duration) bool {
	c = c.withDefaults()
	attemptsSet := c.MaxAttempts > 0
	ageSet := c.MaxRetryDuration > 0
	if !attemptsSet && !ageSet {
		return false
	}
	return (!attemptsSet || attempts >= c.MaxAttempts) && (!ageSet || ago >= c.MaxRetryDuration)
}

// RateLimits caps dispatches as a Cloud Tasks queue's RateLimits do
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RateLimits).
// Dispatches are spaced evenly: the burst is one.
type RateLimits struct {
	// MaxDispatchesPerSecond; 0 means DefaultMaxDispatchesPerSecond.
	MaxDispatchesPerSecond float64
	// MaxConcurrentDispatches is how many attempts may be in flight at
	// once; 0 means DefaultMaxConcurrentDispatches.
	MaxConcurrentDispatches int
}

func (r RateLimits) withDefaults() RateLimits {
	if r.MaxDispatchesPerSecond <= 0 {
		r.MaxDispatchesPerSecond = DefaultMaxDispatchesPerSecond
	}
	if r.MaxConcurrentDispatches <= 0 {
		r.MaxConcurrentDispatches = DefaultMaxConcurrentDispatches
	}
	return r
}

func (r RateLimits) interval() time.Duration {
	return time.Duration(float64(time.Second) / r.withDefaults().MaxDispatchesPerSecond)
}
