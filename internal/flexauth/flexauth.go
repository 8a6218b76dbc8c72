// Package flexauth lets the Flex UI, a browser, call Expert Hub's
// contact-center functions (handoff, experts) without a secret: it checks
// the Flex user's own token with Twilio, caching the answers, and answers
// the browser's CORS checks for the Flex UI's origins.
package flexauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/twilio"
)

// Validator asks Twilio whether a token is one of the Flex account's
// users' (twilio.Client.ValidateFlexToken).
type Validator interface {
	ValidateFlexToken(ctx context.Context, token string) (twilio.FlexToken, error)
}

// Why a token is refused.
var (
	// ErrInvalid: Twilio does not know the token, or it expired.
	ErrInvalid = errors.New("invalid or expired Flex token")
	// ErrNotAgent: the token is valid but its user has none of the
	// roles that may hand a customer over (AgentRoles).
	ErrNotAgent = errors.New("the Flex user is not an agent, supervisor or admin")
)

// AgentRoles are the Flex roles that may hand a customer over; any one
// is enough. A guest or a custom role without them is refused.
var AgentRoles = []string{"agent", "supervisor", "admin"}

// User is the Flex user a valid token belongs to.
type User struct {
	// Login is the user's login (realm_user_id: an e-mail for SSO
	// users); Identity Flex's encoded form of it.
	Login, Identity string
	Roles           []string
}

// Name is how the user is logged and recorded: the login, else the
// identity.
func (u User) Name() string {
	if u.Login != "" {
		return u.Login
	}
	return u.Identity
}

// maxCached bounds the cache: far more agents than a contact center has
// signed in at once (each holds one token, renewed hourly).
const maxCached = 4096

// Checker checks Flex tokens. Twilio's valid answers are kept until the
// token's expiration, so an agent's panel costs one validation per token,
// not one per request; invalid answers are never kept, so a token Twilio
// did not know a moment ago is asked about again. The zero value is not
// usable: use NewChecker.
type Checker struct {
	v   Validator
	now func() time.Time

	mu sync.Mutex
	// cache holds valid answers by the SHA-256 of their token: the
	// tokens themselves, credentials, are not kept.
	cache map[[sha256.Size]byte]cached
	// asking are the validations under way: requests arriving with a
	// token being validated wait for that answer instead of asking too
	// (the panel's first requests come together).
	asking map[[sha256.Size]byte]*asked
}

// asked is a validation under way; done is closed when t and err are set.
type asked struct {
	done chan struct{}
	t    twilio.FlexToken
	err  error
}

type cached struct {
	user    User
	expires time.Time
}

// NewChecker returns a Checker asking v; now is the clock (nil:
// time.Now).
func NewChecker(v Validator, now func() time.Time) *Checker {
	if now == nil {
		now = time.Now
	}
	return &Checker{v: v, now: now, cache: map[[sha256.Size]byte]cached{}, asking: map[[sha256.Size]byte]*asked{}}
}

// Check returns the user of token if it may hand a customer over. The
// error is ErrInvalid or ErrNotAgent for a refused token; any other error
// means Twilio could not tell (the caller may retry).
func (c *Checker) Check(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, ErrInvalid
	}
	key := sha256.Sum256([]byte(token))
	u, ok := c.lookup(key)
	if !ok {
		t, err := c.validate(ctx, key, token)
		if err != nil {
			return User{}, err
		}
		if !t.Valid {
			return User{}, ErrInvalid
		}
		u = userOf(t)
	}
	for _, r := range u.Roles {
		if slices.Contains(AgentRoles, r) {
			return u, nil
		}
	}
	return u, ErrNotAgent
}

// validate asks Twilio about token, or waits for the answer to the same
// question under way, and caches a valid answer.
func (c *Checker) validate(ctx context.Context, key [sha256.Size]byte, token string) (twilio.FlexToken, error) {
	c.mu.Lock()
	if a, ok := c.asking[key]; ok {
		c.mu.Unlock()
		select {
		case <-a.done:
			return a.t, a.err
		case <-ctx.Done():
			return twilio.FlexToken{}, ctx.Err()
		}
	}
	a := &asked{done: make(chan struct{})}
	c.asking[key] = a
	c.mu.Unlock()

	a.t, a.err = c.v.ValidateFlexToken(ctx, token)
	if a.err == nil && a.t.Valid {
		c.keep(key, userOf(a.t), a.t.Expiration)
	}
	c.mu.Lock()
	delete(c.asking, key)
	c.mu.Unlock()
	close(a.done)
	return a.t, a.err
}

// lookup returns the cached user of key, dropping an expired entry.
func (c *Checker) lookup(key [sha256.Size]byte) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok {
		return User{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.cache, key)
		return User{}, false
	}
	return e.user, true
}

// keep caches u until expires; an answer without a future expiration is
// not kept.
func (c *Checker) keep(key [sha256.Size]byte, u User, expires time.Time) {
	now := c.now()
	if !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= maxCached {
		c.evict(now)
	}
	c.cache[key] = cached{user: u, expires: expires}
}

// evict drops the expired entries, or, when none is, the one expiring
// first. Callers hold c.mu.
func (c *Checker) evict(now time.Time) {
	var (
		first    [sha256.Size]byte
		firstExp time.Time
	)
	dropped := false
	for k, e := range c.cache {
		if !now.Before(e.expires) {
			delete(c.cache, k)
			dropped = true
			continue
		}
		if firstExp.IsZero() || e.expires.Before(firstExp) {
			first, firstExp = k, e.expires
		}
	}
	if !dropped {
		delete(c.cache, first)
	}
}

// Len is how many answers are cached.
func (c *Checker) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cache)
}

// userOf is the user a valid token names.
func userOf(t twilio.FlexToken) User {
	return User{Login: t.RealmUserID, Identity: t.Identity, Roles: t.Roles}
}
