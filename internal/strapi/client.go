// Package strapi is Expert Hub's CRM, a Strapi CMS, v3, v4 or v5: it
// reads the customers and message templates (authentication, version
// detection, the three response shapes, keyset paging over the whole
// collection, single lookups), authenticates and decodes Strapi's webhook
// calls into crm.Change values for the sync, checks Strapi for
// experthub doctor (Check), and reads and documents its own STRAPI_*
// settings (Settings). A Client is a crm.Source and a crm.TemplateSource.
package strapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config says where Strapi is and how to sign in. With APIToken set,
// Identifier and Password are not used.
type Config struct {
	BaseURL    string
	APIToken   string
	Identifier string
	Password   string
	// Version is "3", "4" or "5"; anything else ("auto", "") detects it
	// on first use.
	Version string
	// Collection is the plural API id of the customer type; default "customers".
	Collection string
	// Model is its singular API id, which names it in webhook payloads;
	// default "customer".
	Model string
	// TemplatesCollection is the plural API id of the message template
	// type; default "templates". Its singular, TemplatesModel, names it in
	// webhook payloads; default "template".
	TemplatesCollection string
	TemplatesModel      string
	// DefaultRegion, an ISO 3166 code ("FR"), turns channel values stored
	// as national numbers ("06 79 50 00 98") into E.164 as they are read,
	// and lets lookups by number find them (crm.Localize).
	DefaultRegion string
	// WebhookSecret is what Strapi's webhook calls carry as
	// "Authorization: Bearer <secret>" (Authenticate); empty refuses
	// every call.
	WebhookSecret string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Client is a Strapi client. It is safe for concurrent use; it detects the
// version and logs in at most once, and logs in again only when Strapi
// rejects the session.
type Client struct {
	base          string
	collection    string
	model         string
	templates     string
	templateModel string
	region        string
	token         string
	identifier    string
	password      string
	hc            *http.Client
	fixed         int // version from Config; 0 = detect
	// secret is the webhook secret's SHA-256 (see Authenticate); hasSecret
	// says there is one.
	secret    [sha256.Size]byte
	hasSecret bool

	// Lock order: detectMu, then loginMu, then mu.
	detectMu sync.Mutex // one detection at a time
	loginMu  sync.Mutex // one login at a time: auth routes are rate limited
	mu       sync.Mutex // guards the fields below
	detected int        // detected version, 0 until known for sure
	jwt      string     // session from /auth/local
}

const (
	// pageSize is Strapi's default rest.maxLimit; a bigger value would be
	// capped silently.
	pageSize = 100
	// maxResponse bounds a response body: a page of 100 customers is a few
	// hundred KB at most.
	maxResponse = 32 << 20
	retryDelay  = 300 * time.Millisecond
)

// New returns a client for cfg. It does not contact Strapi.
func New(cfg Config) *Client {
	c := &Client{
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		collection: cfg.Collection,
		model:      cfg.Model,
		token:      cfg.APIToken,
		identifier: cfg.Identifier,
		password:   cfg.Password,
		hc:         cfg.HTTPClient,
	}
	if c.collection == "" {
		c.collection = "customers"
	}
	if c.model == "" {
		c.model = "customer"
	}
	c.templates, c.templateModel, c.region = cfg.TemplatesCollection, cfg.TemplatesModel, strings.ToUpper(strings.TrimSpace(cfg.DefaultRegion))
	if c.templates == "" {
		c.templates = "templates"
	}
	if c.templateModel == "" {
		c.templateModel = "template"
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.WebhookSecret != "" {
		c.secret, c.hasSecret = sha256.Sum256([]byte(cfg.WebhookSecret)), true
	}
	switch strings.TrimSpace(cfg.Version) {
	case "3":
		c.fixed = 3
	case "4":
		c.fixed = 4
	case "5":
		c.fixed = 5
	}
	return c
}

// Error is a non-2xx answer from Strapi.
type Error struct {
	Method     string
	Path       string // without the query
	StatusCode int
	// Name is Strapi's error name (ValidationError, UnauthorizedError…)
	// or, in v3, the HTTP reason.
	Name    string
	Message string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("strapi: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if e.Name != "" {
		s += " " + e.Name
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// newError reads Strapi's error body: v4/v5 {"error":{"status","name",
// "message"}}, v3 {"statusCode","error","message"} where message may be a
// nested array. The message is Strapi's own text and never holds
// credentials.
func newError(method, path string, status int, body []byte) *Error {
	e := &Error{Method: method, Path: path, StatusCode: status}
	var v45 struct {
		Error struct {
			Name    flexString `json:"name"`
			Message flexString `json:"message"`
		} `json:"error"`
	}
	var v3 struct {
		Error   flexString `json:"error"`
		Message flexString `json:"message"`
	}
	if json.Unmarshal(body, &v45) == nil && v45.Error.Name != "" {
		e.Name, e.Message = string(v45.Error.Name), string(v45.Error.Message)
	} else if json.Unmarshal(body, &v3) == nil {
		e.Name, e.Message = string(v3.Error), string(v3.Message)
	}
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "…"
	}
	return e
}

func (c *Client) usesLogin() bool {
	return c.token == "" && c.identifier != "" && c.password != ""
}

// listPath is the collection's list route.
func (c *Client) listPath(v int) string {
	if v == 3 {
		return "/" + url.PathEscape(c.collection)
	}
	return "/api/" + url.PathEscape(c.collection)
}

func loginPath(v int) string {
	if v == 3 {
		return "/auth/local"
	}
	return "/api/auth/local"
}

// send makes one request and reads the whole (bounded) answer.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte, bearer string) (int, []byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("strapi: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("strapi: %s %s: %w", method, path, redactQuery(err, u))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, nil, fmt.Errorf("strapi: %s %s: read answer: %w", method, path, err)
	}
	if len(b) > maxResponse {
		return 0, nil, fmt.Errorf("strapi: %s %s: answer larger than %d bytes", method, path, maxResponse)
	}
	return resp.StatusCode, b, nil
}

// get makes an authenticated GET. It logs in again once when Strapi
// rejects the session (an expired JWT) and retries once after a network
// error or a 502/503/504, which a sync of a thousand pages will meet.
func (c *Client) get(ctx context.Context, v int, path string, q url.Values) ([]byte, error) {
	relogged, retried := false, false
	for {
		bearer, err := c.bearer(ctx, v)
		if err != nil {
			return nil, err
		}
		status, body, err := c.send(ctx, http.MethodGet, path, q, nil, bearer)
		switch {
		case err == nil && status == http.StatusOK:
			return body, nil
		case err == nil && status == http.StatusUnauthorized && c.usesLogin() && !relogged:
			c.forget(bearer)
			relogged = true
			continue
		case err == nil && !transient(status):
			return nil, newError(http.MethodGet, path, status, body)
		case retried || ctx.Err() != nil:
			if err != nil {
				return nil, err
			}
			return nil, newError(http.MethodGet, path, status, body)
		}
		retried = true
		t := time.NewTimer(retryDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("strapi: %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// redactQuery drops the query string from an error naming the request
// URL, as net/http's *url.Error does: the query of a lookup holds the
// customer's phone number or id, which must not reach the logs.
func redactQuery(err error, rawURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.URL, "?") {
		base, _, _ := strings.Cut(ue.URL, "?")
		err = &url.Error{Op: ue.Op, URL: base, Err: ue.Err}
	}
	if base, _, ok := strings.Cut(rawURL, "?"); ok && strings.Contains(err.Error(), rawURL) {
		return redactedError{msg: strings.ReplaceAll(err.Error(), rawURL, base), err: err}
	}
	return err
}

// redactedError is an error whose text no longer holds a request's query.
// errors.Is still sees its causes (a deadline, say); errors.As does not,
// as it would hand out the text redactedError hides.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string        { return e.msg }
func (e redactedError) Is(target error) bool { return errors.Is(e.err, target) }

func transient(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// bearer returns the credential to send: the API token, the cached JWT
// (logging in first if there is none), or "" for public access.
func (c *Client) bearer(ctx context.Context, v int) (string, error) {
	if c.token != "" {
		return c.token, nil
	}
	if !c.usesLogin() {
		return "", nil
	}
	if jwt := c.session(); jwt != "" {
		return jwt, nil
	}
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if jwt := c.session(); jwt != "" {
		return jwt, nil // another goroutine logged in while we waited
	}
	jwt, err := c.login(ctx, loginPath(v))
	if err != nil {
		return "", err
	}
	c.setSession(jwt)
	return jwt, nil
}

func (c *Client) session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jwt
}

func (c *Client) setSession(jwt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jwt = jwt
}

// forget drops a rejected JWT, unless another goroutine has already
// replaced it, so many concurrent 401s cause one login.
func (c *Client) forget(jwt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jwt == jwt {
		c.jwt = ""
	}
}

// login posts the user's credentials and returns the JWT. Callers hold
// loginMu.
func (c *Client) login(ctx context.Context, path string) (string, error) {
	body, err := json.Marshal(struct {
		Identifier string `json:"identifier"`
		Password   string `json:"password"`
	}{c.identifier, c.password})
	if err != nil {
		return "", fmt.Errorf("strapi: login: %w", err)
	}
	status, resp, err := c.send(ctx, http.MethodPost, path, nil, body, "")
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", newError(http.MethodPost, path, status, resp)
	}
	var r struct {
		JWT string `json:"jwt"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || r.JWT == "" {
		return "", fmt.Errorf("strapi: POST %s: answer has no jwt", path)
	}
	return r.JWT, nil
}

// Version returns the Strapi major version, detecting it on first use.
func (c *Client) Version(ctx context.Context) (int, error) {
	if c.fixed != 0 {
		return c.fixed, nil
	}
	c.mu.Lock()
	v := c.detected
	c.mu.Unlock()
	if v != 0 {
		return v, nil
	}
	c.detectMu.Lock()
	defer c.detectMu.Unlock()
	c.mu.Lock()
	v = c.detected
	c.mu.Unlock()
	if v != 0 {
		return v, nil
	}
	v, sure, err := c.detect(ctx)
	if err != nil {
		return 0, fmt.Errorf("strapi: detect version: %w", err)
	}
	if sure {
		c.learn(v)
	}
	return v, nil
}

// learn records a version seen for sure.
func (c *Client) learn(v int) {
	if c.fixed != 0 || v == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.detected = v
}

// keyField is the field that identifies a record for the pass over
// records without a customer_id: v5's documentId, since its id changes on
// every publish, or id. Before the version is certain, id works in both.
func (c *Client) keyField() string {
	v := c.fixed
	if v == 0 {
		c.mu.Lock()
		v = c.detected
		c.mu.Unlock()
	}
	if v == 5 {
		return "documentId"
	}
	return "id"
}

// detect asks Strapi which version it is. It reports sure=false when it
// could only tell "v4 or v5" (an empty collection looks the same in both);
// the list shapes are then decoded alike and the next call asks again.
func (c *Client) detect(ctx context.Context) (v int, sure bool, err error) {
	if c.usesLogin() && c.session() == "" {
		// The login route tells v3 from v4/v5, and we need the JWT anyway.
		c.loginMu.Lock()
		jwt, err := c.login(ctx, loginPath(5))
		var se *Error
		if errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusMethodNotAllowed) {
			if jwt, err = c.login(ctx, loginPath(3)); err == nil {
				c.setSession(jwt)
				c.loginMu.Unlock()
				return 3, true, nil
			}
		}
		if err != nil {
			c.loginMu.Unlock()
			return 0, false, err
		}
		c.setSession(jwt)
		c.loginMu.Unlock()
	}
	bearer, err := c.bearer(ctx, 5)
	if err != nil {
		return 0, false, err
	}
	path := c.listPath(5)
	status, body, err := c.send(ctx, http.MethodGet, path, url.Values{"pagination[pageSize]": {"1"}}, nil, bearer)
	if err != nil {
		return 0, false, err
	}
	switch status {
	case http.StatusOK:
		p, err := decodeList(body)
		if err != nil {
			return 0, false, fmt.Errorf("GET %s: %w", path, err)
		}
		if len(p.entries) > 0 && p.entries[0].shape != 0 {
			return p.entries[0].shape, true, nil
		}
		return 5, false, nil
	case http.StatusNotFound:
		// v3 serves collections without the /api prefix.
		path3 := c.listPath(3)
		status, body, err := c.send(ctx, http.MethodGet, path3, url.Values{"_limit": {"1"}}, nil, bearer)
		if err != nil {
			return 0, false, err
		}
		if status == http.StatusOK && bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			return 3, true, nil
		}
		if status == http.StatusOK || status == http.StatusNotFound {
			return 0, false, fmt.Errorf("no collection %q at %s or %s", c.collection, path, path3)
		}
		return 0, false, newError(http.MethodGet, path3, status, body)
	default:
		return 0, false, newError(http.MethodGet, path, status, body)
	}
}
