// Package twilio wraps twilio-go's REST client with what a webhook handler
// needs and twilio-go lacks: every call honours a context deadline, idempotent
// calls are retried on 429, 5xx and timeouts, Twilio errors map to sentinel
// errors, and requests can be sent to another origin (a fake or a sandbox).
//
// Calls never set X-Twilio-Webhook-Enabled, so our REST actions do not
// trigger our own post-event webhooks (twilio.md §2.5).
package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
)

// DefaultTimeout bounds one HTTP round trip when Config.Timeout is zero.
// twilio-go's own default (10 s) is longer than a webhook may take (5 s).
const DefaultTimeout = 2 * time.Second

// Retry schedule. Four attempts with backoff starting at 100 ms fit in a
// webhook's budget; a deadline cuts it shorter.
const (
	maxAttempts    = 4
	initialBackoff = 100 * time.Millisecond
	maxBackoff     = time.Second
)

// Config configures a Client.
type Config struct {
	AccountSID string
	AuthToken  string
	// APIKey and APISecret, when set, authenticate instead of the auth token.
	APIKey    string
	APISecret string
	// BaseURL, when set, receives every request in place of
	// https://<product>.twilio.com; only its scheme and host are used, the
	// path is kept. Absolute next-page URLs are redirected too.
	BaseURL string
	// Timeout bounds one HTTP round trip (not a whole call with its
	// retries, which the context bounds). Zero means DefaultTimeout.
	Timeout time.Duration
}

// Client calls the Conversations and TaskRouter REST APIs. It is safe for
// concurrent use.
type Client struct {
	accountSID string
	creds      *client.Credentials
	origin     *url.URL // nil: Twilio itself
	originErr  error
	timeout    time.Duration
	transport  http.RoundTripper
}

// New returns a Client. A malformed BaseURL makes every call fail.
func New(cfg Config) *Client {
	c := &Client{
		accountSID: cfg.AccountSID,
		creds:      client.NewCredentials(cfg.AccountSID, cfg.AuthToken),
		timeout:    cfg.Timeout,
		transport:  http.DefaultTransport,
	}
	// A pool of its own, so one client's idle connections are its own.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		c.transport = t.Clone()
	}
	if cfg.APIKey != "" {
		c.creds = client.NewCredentials(cfg.APIKey, cfg.APISecret)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		switch {
		case err != nil:
			c.originErr = fmt.Errorf("twilio base url: %w", err)
		case u.Scheme == "" || u.Host == "":
			c.originErr = fmt.Errorf("twilio base url %q: want scheme://host", cfg.BaseURL)
		default:
			c.origin = &url.URL{Scheme: u.Scheme, Host: u.Host}
		}
	}
	return c
}

// restClient returns a twilio-go RestClient whose requests carry ctx, so a
// cancelled context aborts the request in flight (twilio-go itself always
// uses context.Background). It is cheap enough to build per attempt, and
// keeping it per attempt gives each attempt its own response record.
func (c *Client) restClient(ctx context.Context, rec *responseRecord) *twiliogo.RestClient {
	bc := &client.Client{
		Credentials: c.creds,
		HTTPClient: &http.Client{
			Transport: &roundTripper{ctx: ctx, origin: c.origin, timeout: c.timeout, base: c.transport, rec: rec},
			// As twilio-go's default client: 3xx are answers, not hops.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	bc.SetAccountSid(c.accountSID)
	return twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Client: bc})
}

// roundTripper binds one call's context to each request, bounds each round
// trip by the client timeout, redirects to the configured origin and
// records the response status and Retry-After, which twilio-go drops.
type roundTripper struct {
	ctx     context.Context
	origin  *url.URL
	timeout time.Duration
	base    http.RoundTripper
	rec     *responseRecord
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	out := req.Clone(ctx)
	if t.origin != nil {
		out.URL.Scheme = t.origin.Scheme
		out.URL.Host = t.origin.Host
		out.Host = ""
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	t.rec.record(resp)
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a round trip's timeout once twilio-go has read
// the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// responseRecord keeps what twilio-go hides from its errors: the status of
// the last response and its Retry-After.
type responseRecord struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
}

func (r *responseRecord) record(resp *http.Response) {
	ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = resp.StatusCode
	r.retryAfter = ra
}

func (r *responseRecord) last() (status int, retryAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.retryAfter
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// callKind says whether a call may be repeated after an ambiguous failure.
type callKind int

const (
	// idempotent calls (reads, and updates that set absolute values) are
	// retried on 429, 5xx and transport failures.
	idempotent callKind = iota
	// create calls are retried only on 429, which Twilio documents as "not
	// processed". After a 5xx or a timeout the resource may exist, and a
	// blind retry could add a second message; the caller decides.
	create
)

// call runs fn until it succeeds, fails for good, runs out of attempts or
// would have to wait past ctx's deadline. It returns the last error.
func call[T any](ctx context.Context, c *Client, kind callKind, fn func(*twiliogo.RestClient) (T, error)) (T, error) {
	var zero T
	if c.originErr != nil {
		return zero, c.originErr
	}
	backoff := initialBackoff
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			if lastErr != nil {
				return zero, lastErr
			}
			return zero, err
		}
		rec := &responseRecord{}
		v, err := fn(c.restClient(ctx, rec))
		if err == nil {
			return v, nil
		}
		lastErr = err
		if attempt == maxAttempts || ctx.Err() != nil {
			return zero, err
		}
		status, retryAfter := rec.last()
		if !retryable(kind, status, err) {
			return zero, err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		wait = max(wait, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return zero, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, err
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryable reports whether a failed attempt may be repeated. status is the
// last HTTP status seen (0: no response).
func retryable(kind callKind, status int, err error) bool {
	var te *client.TwilioRestError
	if errors.As(err, &te) && te.Status != 0 {
		status = te.Status
	}
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case kind == create:
		return false
	case status >= 500:
		return true
	case status == 0 || status < 400:
		// No usable response: the request timed out or the connection
		// failed.
		var ue *url.Error
		return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded)
	}
	return false
}
