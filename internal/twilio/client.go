// Package twilio wraps twilio-go's REST client with what a webhook handler
// needs and twilio-go lacks: every call honours a context deadline, calls
// are retried by one policy (below), Twilio errors map to sentinel errors,
// and requests can be sent to another origin (a fake or a sandbox). No
// twilio-go type leaves the package. The limits Twilio puts on what it is
// sent are in limits.go.
//
// Calls never set X-Twilio-Webhook-Enabled, so our REST actions do not
// trigger our own post-event webhooks (https://www.twilio.com/docs/conversations/conversations-webhooks).
//
// # Retries
//
// The client is the one place that retries a Twilio call; callers do not:
//
//   - Reads, and updates that set absolute values, are retried on 429, on
//     5xx and when no answer came (a timeout, a broken connection).
//   - Creates (PostMessage, AddParticipant) are retried on 429 only, which
//     Twilio documents as not processed. A failure that leaves unclear
//     whether the resource was created (no answer, a 5xx, a success that
//     could not be read) wraps ErrUnclear: Twilio may even carry the
//     request out after the client gave up on it, so it is never simply
//     repeated. The caller leaves it to a later attempt that reads
//     Twilio's state first, once the request must be over.
//   - PostMessageOnce posts a message its caller can recognise: after an
//     unclear failure it lists the conversation's messages once and
//     returns the message if it is there, the error otherwise.
//
// A call makes at most four attempts, waits between them with jittered
// exponential backoff from 100 ms, at least as long as a Retry-After, and
// never waits past its context's deadline.
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

// callKind says how a failed call may be repeated.
type callKind int

const (
	// idempotent calls (reads, updates that set absolute values) are
	// retried on 429, 5xx and failures with no answer.
	idempotent callKind = iota
	// create calls are retried only on 429: after a 5xx or no answer the
	// resource may exist, and their error wraps ErrUnclear.
	create
)

// call runs fn until it succeeds, fails for good, runs out of attempts or
// would have to wait past ctx's deadline. It returns the last error.
func call[T any](ctx context.Context, c *Client, kind callKind, fn func(*twiliogo.RestClient) (T, error)) (T, error) {
	var zero T
	if c.originErr != nil {
		return zero, c.originErr
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	backoff := initialBackoff
	for attempt := 1; ; attempt++ {
		rec := &responseRecord{}
		v, err := fn(c.restClient(ctx, rec))
		if err == nil {
			return v, nil
		}
		status, retryAfter := rec.last()
		if s := restStatus(err); s != 0 {
			status = s
		}
		if kind == create && unclear(status, err) {
			err = fmt.Errorf("%w: %w", ErrUnclear, err)
		}
		if attempt == maxAttempts || ctx.Err() != nil || !retryable(kind, status, err) {
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

// restStatus returns the HTTP status of a Twilio error answer, or 0.
func restStatus(err error) int {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		return te.Status
	}
	return 0
}

// retryable reports whether a failed attempt may be repeated. status is the
// last HTTP status seen (0: no response).
func retryable(kind callKind, status int, err error) bool {
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case kind == create:
		return false
	case status >= 500:
		return true
	case status == 0:
		return noAnswer(err)
	}
	return false
}

// unclear reports whether a failed create may have happened nonetheless:
// no answer came, Twilio answered 5xx, or it answered success in a body
// that could not be read. A 4xx is a clear refusal.
func unclear(status int, err error) bool {
	switch {
	case status == 0:
		return noAnswer(err)
	case status >= 500:
		return true
	}
	return status < 400
}

// noAnswer reports whether err is a request that got no response: it timed
// out or its connection failed, possibly after Twilio acted on it.
func noAnswer(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded)
}
