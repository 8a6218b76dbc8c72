package flexauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/flexauth"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

const (
	flexSID   = "ACf1e0000000000000000000000000f1e0"
	flexToken = "f1e00000000000000000000000000f1e"
)

// clock is a test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setup returns the Flex account of a fake Twilio, a Checker asking it
// through the real client, and the Checker's clock.
func setup(t *testing.T) (*twiliotest.Fake, *twiliotest.Fake, *flexauth.Checker, *clock) {
	t.Helper()
	frontline := twiliotest.New(twiliotest.Config{})
	srv := httptest.NewServer(frontline)
	t.Cleanup(srv.Close)
	flex := frontline.AddAccount(twiliotest.AccountConfig{AccountSID: flexSID, AuthToken: flexToken})
	client := twilio.New(twilio.Config{AccountSID: flexSID, AuthToken: flexToken, BaseURL: srv.URL})
	c := &clock{t: time.Now()}
	return frontline, flex, flexauth.NewChecker(client, c.now), c
}

func validations(f *twiliotest.Fake) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/Tokens/validate") {
			n++
		}
	}
	return n
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestCheck: each kind of token, as Twilio answers about it.
func TestCheck(t *testing.T) {
	frontline, flex, c, _ := setup(t)
	agent := flex.MintFlexToken("agent@example.com", []string{"agent"}, time.Hour)
	for _, tt := range []struct {
		name  string
		token string
		want  error
		login string
	}{
		{"agent", agent, nil, "agent@example.com"},
		{"supervisor", flex.MintFlexToken("sup@example.com", []string{"supervisor"}, time.Hour), nil, "sup@example.com"},
		{"admin among others", flex.MintFlexToken("adm@example.com", []string{"wfo.full_access", "admin"}, time.Hour), nil, "adm@example.com"},
		{"expired", flex.MintFlexToken("agent@example.com", []string{"agent"}, -time.Second), flexauth.ErrInvalid, ""},
		{"another account's", frontline.MintFlexToken("agent@example.com", []string{"agent"}, time.Hour), flexauth.ErrInvalid, ""},
		{"tampered", agent[:len(agent)-3] + "abc", flexauth.ErrInvalid, ""},
		{"empty", "", flexauth.ErrInvalid, ""},
		{"guest", flex.MintFlexToken("guest@example.com", []string{"guest"}, time.Hour), flexauth.ErrNotAgent, "guest@example.com"},
		{"no role", flex.MintFlexToken("none@example.com", nil, time.Hour), flexauth.ErrNotAgent, "none@example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.Check(ctx(t), tt.token)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Check = %+v, %v; want %v", u, err, tt.want)
			}
			if u.Name() != tt.login {
				t.Errorf("user %+v, want %q", u, tt.login)
			}
		})
	}
}

// TestCache: a valid answer serves until the token expires, one Twilio
// call for many requests; then Twilio is asked again. Invalid answers and
// Twilio's failures are never kept.
func TestCache(t *testing.T) {
	_, flex, c, clk := setup(t)
	agent := flex.MintFlexToken("agent@example.com", []string{"agent"}, time.Hour)
	for range 10 {
		if _, err := c.Check(ctx(t), agent); err != nil {
			t.Fatal(err)
		}
	}
	if n := validations(flex); n != 1 {
		t.Errorf("%d validations for 10 checks of one token, want 1", n)
	}
	clk.advance(59 * time.Minute)
	if _, err := c.Check(ctx(t), agent); err != nil || validations(flex) != 1 {
		t.Errorf("before the expiration: %v, %d validations; want the cached answer", err, validations(flex))
	}
	clk.advance(2 * time.Minute)
	// The fake's own clock has not moved: Twilio still says valid, and
	// is asked again.
	if _, err := c.Check(ctx(t), agent); err != nil || validations(flex) != 2 {
		t.Errorf("after the expiration: %v, %d validations; want a second one", err, validations(flex))
	}
	// Twilio's answer gave the expiration passed by the Checker's
	// clock: it is not kept, and the next check asks again.
	if _, err := c.Check(ctx(t), agent); err != nil || validations(flex) != 3 || c.Len() != 0 {
		t.Errorf("with an expiration passed: %v, %d validations, %d cached; want 3, none cached", err, validations(flex), c.Len())
	}

	bogus := agent[:len(agent)-3] + "abc"
	before := validations(flex)
	for range 3 {
		if _, err := c.Check(ctx(t), bogus); !errors.Is(err, flexauth.ErrInvalid) {
			t.Fatalf("bogus token: %v", err)
		}
	}
	if n := validations(flex) - before; n != 3 {
		t.Errorf("%d validations for 3 checks of an invalid token, want 3 (never cached)", n)
	}

	other := flex.MintFlexToken("other@example.com", []string{"agent"}, time.Hour)
	flex.SetOutage(http.StatusServiceUnavailable)
	_, err := c.Check(ctx(t), other)
	flex.SetOutage(0)
	if err == nil || errors.Is(err, flexauth.ErrInvalid) || strings.Contains(err.Error(), other) {
		t.Errorf("Twilio down: %v; want an error that is no refusal and holds no token", err)
	}
	if _, err := c.Check(ctx(t), other); err != nil {
		t.Errorf("Twilio back: %v", err)
	}
}

// TestCacheBounded: the cache never holds more than its bound; the
// answers expiring first make room.
func TestCacheBounded(t *testing.T) {
	_, flex, c, _ := setup(t)
	const n = 4096 + 20
	for i := range n {
		tok := flex.MintFlexToken("agent@example.com", []string{"agent"}, time.Hour+time.Duration(i)*time.Second)
		if _, err := c.Check(ctx(t), tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Len(); got > 4096 || got < 4000 {
		t.Errorf("%d cached answers after %d tokens, want at most 4096", got, n)
	}
}

// TestConcurrentChecks: requests arriving together with a new token wait
// for one validation.
func TestConcurrentChecks(t *testing.T) {
	_, flex, c, _ := setup(t)
	agent := flex.MintFlexToken("agent@example.com", []string{"agent"}, time.Hour)
	flex.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := c.Check(ctx(t), agent)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := validations(flex); n != 1 {
		t.Errorf("%d validations for 10 concurrent checks of one token, want 1", n)
	}
}
