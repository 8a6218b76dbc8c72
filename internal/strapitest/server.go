// Package strapitest is an in-process Strapi (v3, v4 or v5) serving a
// Customers collection and a Templates collection (templates.go) to the queries Expert Hub sends (see query.go),
// with the real response shapes, authentication, pagination limits,
// Draft & Publish and webhooks, so clients and the sync can be tested
// without a CMS. Any other query or route is answered 400 naming what is
// not supported. It also injects latency and faults.
package strapitest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// Routes counted by Requests.
const (
	RouteLogin = "login" // POST /auth/local, /api/auth/local
	RouteList  = "list"  // GET the collection
	RouteOne   = "one"   // GET /customers/<key>: not served, answered 400
	RouteOther = "other" // anything else (answered 404 or 405)
)

// authRateLimit is the users-permissions default: 10 auth requests a
// minute, then 429.
const (
	authRateLimit  = 10
	authRateWindow = time.Minute
)

// Entry is a stored customer with Strapi's bookkeeping, as a snapshot.
type Entry struct {
	// ID is the row id: the key in v3/v4. In v5 it is the published row's
	// id, which changes on every publish; a draft-only entry shows its
	// draft row's id.
	ID int
	// DocumentID is v5's stable key; empty in v3/v4.
	DocumentID string
	// Customer holds the attributes. ID "" is a null customer_id.
	Customer    crm.Customer
	Published   bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	PublishedAt time.Time // zero when not published
}

// Key is the entry's Strapi key as the client reports it in SourceKey:
// documentId in v5, id otherwise.
func (e Entry) Key() string {
	if e.DocumentID != "" {
		return e.DocumentID
	}
	return strconv.Itoa(e.ID)
}

// record is the stored entry.
type record struct {
	id        int // v3/v4 id; v5 published row id
	draftID   int // v5 draft row id
	docID     string
	c         crm.Customer
	published bool
	created   time.Time
	updated   time.Time
	pubAt     time.Time
}

// Fault makes matching requests misbehave.
type Fault struct {
	// Route limits the fault to one route (RouteList…); "" matches all.
	Route string
	// After lets this many matching requests through before the fault
	// applies.
	After int
	// Times is how many requests fail; 0 means every one until ClearFaults.
	Times int
	// Delay is spent before answering (a slow Strapi).
	Delay time.Duration
	// Status, when set, is answered instead of the real response (503 for
	// a Strapi that is down).
	Status int
	// Drop closes the connection without an answer, as a crashed server
	// or a refused connection looks to the client.
	Drop bool
}

type fault struct {
	Fault
	seen, applied int
}

// Server is a running stub. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string

	version    int
	collection string
	model      string
	srv        *httptest.Server

	mu           sync.Mutex
	apiToken     string
	identifier   string
	password     string
	extras       bool
	generated    int // customers WithCustomers asked for
	defaultLimit int
	maxLimit     int // 0 = no cap (v3 default)
	latency      time.Duration
	hook         func(event string, body []byte)
	records      []*record // in creation order
	templates    []*templateRecord
	nextRow      int
	clock        time.Time
	rnd          *mrand.Rand
	docIDs       map[string]bool
	sessions     map[string]bool
	authHits     []time.Time
	authLimit    int // auth requests a window allows; 0 = no limit
	counts       map[string]int
	faults       []*fault
}

// Option configures a Server.
type Option func(*Server)

// WithAPIToken requires requests to carry this API token (v4/v5; v3 has
// none, so there it is rejected like any unknown bearer).
func WithAPIToken(token string) Option { return func(s *Server) { s.apiToken = token } }

// WithUser adds a users-permissions user who may log in and read.
func WithUser(identifier, password string) Option {
	return func(s *Server) { s.identifier, s.password = identifier, password }
}

// WithCollection names the collection (plural API id); the model is its
// singular ("customers" → "customer").
func WithCollection(plural string) Option { return func(s *Server) { s.collection = plural } }

// WithCustomers adds n generated published customers.
func WithCustomers(n int) Option { return func(s *Server) { s.generated += n } }

// WithAuthRateLimit sets how many auth requests a minute are answered
// before 429 (default 10, as Strapi's); 0 lifts the limit, for benchmarks
// of clients that log in on every request.
func WithAuthRateLimit(n int) Option { return func(s *Server) { s.authLimit = n } }

// WithLatency delays every request (for benchmarks).
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// WithPageLimits sets config/api's rest.defaultLimit and rest.maxLimit
// (v4/v5: 25 and 100; v3: 100 and no cap). maxLimit 0 removes the cap.
func WithPageLimits(defaultLimit, maxLimit int) Option {
	return func(s *Server) { s.defaultLimit, s.maxLimit = defaultLimit, maxLimit }
}

// WithExtraFields adds worker (text), links (repeatable component
// {type, value, display_name}) and details (component {title, content})
// to the schema. Without it those customer fields are not stored.
func WithExtraFields() Option { return func(s *Server) { s.extras = true } }

// WithWebhooks calls fn with every webhook the real Strapi would send for
// a change made through the Server's methods, in order, after the change.
func WithWebhooks(fn func(event string, body []byte)) Option {
	return func(s *Server) { s.hook = fn }
}

// NewServer starts a stub of Strapi version 3, 4 or 5 (it panics on any
// other, a mistake in the test). Without WithAPIToken or WithUser the
// collection is public. Close it when done.
func NewServer(version int, opts ...Option) *Server {
	if version < 3 || version > 5 {
		panic(fmt.Sprintf("strapitest: no Strapi version %d", version))
	}
	s := &Server{
		version:      version,
		collection:   "customers",
		defaultLimit: 25,
		maxLimit:     100,
		clock:        time.Date(2026, 11, 25, 5, 15, 47, 341e6, time.UTC),
		rnd:          mrand.New(mrand.NewPCG(uint64(version), 1)),
		docIDs:       map[string]bool{},
		sessions:     map[string]bool{},
		counts:       map[string]int{},
		authLimit:    authRateLimit,
	}
	if version == 3 {
		s.defaultLimit, s.maxLimit = 100, 0
	}
	for _, o := range opts {
		o(s)
	}
	s.addGenerated(s.generated)
	s.model = strings.TrimSuffix(s.collection, "s")
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Version returns the Strapi major version served.
func (s *Server) Version() int { return s.version }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns how many requests a route has received.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// ResetRequests zeroes the request counters.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// InjectFault adds a fault; several may be active.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{Fault: f})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ExpireSessions invalidates every JWT handed out so far, as a JWT
// reaching its expiry does.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// tick advances the stub's clock: every write gets a distinct timestamp.
func (s *Server) tick() time.Time {
	s.clock = s.clock.Add(7 * time.Millisecond)
	return s.clock
}

func (s *Server) newRow() int {
	s.nextRow++
	return s.nextRow
}

// newDocumentID returns a v5-style documentId (24 lower-case letters and
// digits), reproducible from run to run.
func (s *Server) newDocumentID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, 24)
		for i := range b {
			b[i] = alphabet[s.rnd.IntN(len(alphabet))]
		}
		if id := string(b); !s.docIDs[id] {
			s.docIDs[id] = true
			return id
		}
	}
}

// clean keeps what the schema stores.
func (s *Server) clean(c crm.Customer) crm.Customer {
	c.ID = strings.TrimSpace(c.ID)
	c.SourceKey = ""
	c.SyncedAt = time.Time{}
	c.Channels = slices.Clone(c.Channels)
	if !s.extras {
		c.Worker, c.Links, c.Details = "", nil, nil
	} else {
		c.Links = slices.Clone(c.Links)
		if c.Details != nil {
			d := *c.Details
			c.Details = &d
		}
	}
	return c
}

// Add stores a published customer, as a POST does, and returns it. A
// customer with the ID of another panics: the stub's schema makes
// customer_id unique. ID "" stores a null customer_id; the methods taking
// an id then find the entry by its fallback ID (documentId, or
// "strapi-<id>" in v3/v4), as the client names it.
func (s *Server) Add(c crm.Customer) Entry { return s.add(c, true) }

// AddDraft stores an unpublished customer.
func (s *Server) AddDraft(c crm.Customer) Entry { return s.add(c, false) }

func (s *Server) add(c crm.Customer, published bool) Entry {
	s.mu.Lock()
	c = s.clean(c)
	if c.ID != "" && s.findCustomerID(c.ID) != nil {
		s.mu.Unlock()
		panic(fmt.Sprintf("strapitest: duplicate customer_id %s", c.ID))
	}
	now := s.tick()
	r := &record{c: c, created: now, updated: now}
	var events []event
	if s.version == 5 {
		r.docID = s.newDocumentID()
		r.draftID = s.newRow()
		// A v5 POST creates the draft, then publishes it.
		events = append(events, s.event("entry.create", r.draftEntry()))
		if published {
			r.published, r.id, r.pubAt = true, s.newRow(), s.tick()
			events = append(events, s.event("entry.publish", r.entry()))
		}
	} else {
		r.id = s.newRow()
		if published {
			r.published, r.pubAt = true, now
		}
		events = append(events, s.event("entry.create", r.entry()))
	}
	s.records = append(s.records, r)
	e := r.entry()
	s.mu.Unlock()
	s.emit(events)
	return e
}

// AddGenerated adds n published customers with IDs after the highest one
// stored, varied names and valid phone numbers.
func (s *Server) AddGenerated(n int) []Entry {
	s.mu.Lock()
	cs := s.generate(n)
	s.mu.Unlock()
	out := make([]Entry, 0, n)
	for _, c := range cs {
		out = append(out, s.Add(c))
	}
	return out
}

func (s *Server) addGenerated(n int) {
	for _, c := range s.generate(n) {
		now := s.tick()
		r := &record{c: s.clean(c), created: now, updated: now, published: true, pubAt: now}
		if s.version == 5 {
			r.docID, r.draftID = s.newDocumentID(), s.newRow()
		}
		r.id = s.newRow()
		s.records = append(s.records, r)
	}
}

// generate makes n customers numbered after the highest customer_id.
func (s *Server) generate(n int) []crm.Customer {
	first := []string{"Maria", "Jo", "Susan", "Ahmed", "Li", "Olga", "Pierre", "Amara", "Kenji", "Lucia"}
	last := []string{"Sanchez", "Anne", "Smith", "Khan", "Wei", "Ivanova", "Martin", "Okafor", "Sato", "Rossi"}
	top := 0
	for _, r := range s.records {
		if id, err := strconv.Atoi(r.c.ID); err == nil && id > top {
			top = id
		}
	}
	out := make([]crm.Customer, 0, n)
	for i := top + 1; i <= top+n; i++ {
		c := crm.Customer{
			ID:          strconv.Itoa(i),
			DisplayName: fmt.Sprintf("%s %s %d", first[i%len(first)], last[(i/len(first))%len(last)], i),
			Avatar:      fmt.Sprintf("https://example.com/face%d.jpeg", i),
			Channels:    []crm.Channel{{Type: "sms", Value: fmt.Sprintf("+3361%07d", i%1e7)}},
		}
		if i%3 == 0 {
			c.Channels = append(c.Channels, crm.Channel{Type: "whatsapp", Value: fmt.Sprintf("+4479%08d", i%1e8)})
		}
		if i%5 == 0 {
			c.Worker = fmt.Sprintf("worker%d@example.com", i%7)
			c.Links = []crm.Link{{Type: "Facebook", Value: fmt.Sprintf("https://facebook.com/c%d", i), DisplayName: "Social media profile"}}
			c.Details = &crm.Details{Title: "Notes", Content: fmt.Sprintf("Customer number %d", i)}
		}
		out = append(out, c)
	}
	return out
}

// find returns the record whose customer_id is id or, for records without
// one, whose fallback ID (see fallbackID) is id.
func (s *Server) find(id string) *record {
	if r := s.findCustomerID(id); r != nil {
		return r
	}
	for _, r := range s.records {
		if r.c.ID == "" && r.fallbackID() == id {
			return r
		}
	}
	return nil
}

func (s *Server) findCustomerID(id string) *record {
	for _, r := range s.records {
		if r.c.ID != "" && r.c.ID == id {
			return r
		}
	}
	return nil
}

// fallbackID is the ID a client gives a record without a customer_id: its
// documentId, or "strapi-<id>" in v3/v4.
func (r *record) fallbackID() string {
	if r.docID != "" {
		return r.docID
	}
	return "strapi-" + strconv.Itoa(r.id)
}

// Entry returns the stored entry for a customer_id (or fallback ID, see Add).
func (s *Server) Entry(id string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(id)
	if r == nil {
		return Entry{}, false
	}
	return r.entry(), true
}

// Customers returns the published customers as a correct client decodes
// them (ID falling back to the key, SourceKey set), in the order of a
// keyset listing: by customer_id, then those without one by key.
func (s *Server) Customers() []crm.Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*record
	for _, r := range s.records {
		if r.published {
			rs = append(rs, r)
		}
	}
	slices.SortStableFunc(rs, func(a, b *record) int {
		an, bn := a.c.ID == "", b.c.ID == ""
		switch {
		case an && bn && s.version == 5:
			return strings.Compare(a.docID, b.docID)
		case an && bn:
			return a.id - b.id
		case an:
			return 1
		case bn:
			return -1
		}
		return compareValues(intValue(a.c.ID), intValue(b.c.ID))
	})
	out := make([]crm.Customer, 0, len(rs))
	for _, r := range rs {
		c := r.c
		c.SourceKey = r.entry().Key()
		if c.ID == "" {
			c.ID = r.fallbackID()
		}
		c.Channels = slices.Clone(c.Channels)
		c.Links = slices.Clone(c.Links)
		out = append(out, c)
	}
	return out
}

// change runs fn on the record of id (or fallback ID, see Add) under
// s.mu, then sends the webhooks fn returns, and returns the entry as fn
// left it.
func (s *Server) change(id string, fn func(*record) ([]event, error)) (Entry, error) {
	s.mu.Lock()
	r := s.find(id)
	if r == nil {
		s.mu.Unlock()
		return Entry{}, fmt.Errorf("strapitest: no customer %q", id)
	}
	events, err := fn(r)
	e := r.entry()
	s.mu.Unlock()
	if err != nil {
		return Entry{}, err
	}
	s.emit(events)
	return e, nil
}

// Update edits a customer as a PUT does: in v5 the draft is saved and
// published again, so the published row gets a new id.
func (s *Server) Update(id string, edit func(*crm.Customer)) (Entry, error) {
	return s.change(id, func(r *record) ([]event, error) {
		c := r.c
		c.Channels = slices.Clone(c.Channels)
		c.Links = slices.Clone(c.Links)
		edit(&c)
		c = s.clean(c)
		if c.ID != "" && c.ID != r.c.ID && s.findCustomerID(c.ID) != nil {
			return nil, fmt.Errorf("strapitest: customer_id %s is taken", c.ID)
		}
		r.c, r.updated = c, s.tick()
		if s.version != 5 {
			return []event{s.event("entry.update", r.entry())}, nil
		}
		events := []event{s.event("entry.update", r.draftEntry())}
		if r.published {
			r.id, r.pubAt = s.newRow(), s.tick()
			events = append(events, s.event("entry.publish", r.entry()))
		}
		return events, nil
	})
}

// Publish publishes a draft (v5: a new published row).
func (s *Server) Publish(id string) (Entry, error) {
	return s.change(id, func(r *record) ([]event, error) {
		r.published, r.pubAt = true, s.tick()
		if s.version == 5 {
			r.id = s.newRow()
		}
		return []event{s.event("entry.publish", r.entry())}, nil
	})
}

// Unpublish takes a customer back to draft.
func (s *Server) Unpublish(id string) (Entry, error) {
	return s.change(id, func(r *record) ([]event, error) {
		before := r.entry()
		r.published, r.pubAt, r.updated = false, time.Time{}, s.tick()
		if s.version == 5 {
			// The published row is deleted; the payload shows it as it was.
			r.id = 0
			return []event{s.event("entry.unpublish", before)}, nil
		}
		return []event{s.event("entry.unpublish", r.entry())}, nil
	})
}

// Delete removes a customer and returns it as it was. In v5 with Draft &
// Publish this sends two entry.delete webhooks: the draft row's, then the
// published row's.
func (s *Server) Delete(id string) (Entry, error) {
	return s.change(id, func(r *record) ([]event, error) {
		s.records = slices.DeleteFunc(s.records, func(x *record) bool { return x == r })
		var events []event
		if s.version == 5 {
			events = append(events, s.event("entry.delete", r.draftEntry()))
		}
		if s.version != 5 || r.published {
			events = append(events, s.event("entry.delete", r.entry()))
		}
		return events, nil
	})
}

// entry is the record's current (published, if any) snapshot.
func (r *record) entry() Entry {
	e := Entry{ID: r.id, DocumentID: r.docID, Customer: r.c, Published: r.published,
		CreatedAt: r.created, UpdatedAt: r.updated, PublishedAt: r.pubAt}
	if !r.published && r.docID != "" {
		e.ID = r.draftID
	}
	e.Customer.Channels = slices.Clone(r.c.Channels)
	e.Customer.Links = slices.Clone(r.c.Links)
	return e
}

// draftEntry is v5's draft row.
func (r *record) draftEntry() Entry {
	e := r.entry()
	e.ID, e.Published, e.PublishedAt = r.draftID, false, time.Time{}
	return e
}

type event struct {
	name string
	body []byte
}

// event builds a webhook for the hook, if any. Callers hold mu.
func (s *Server) event(name string, e Entry) event {
	if s.hook == nil {
		return event{}
	}
	return event{name: name, body: s.webhookBody(name, e, s.clock)}
}

func (s *Server) emit(events []event) {
	if s.hook == nil {
		return
	}
	for _, ev := range events {
		s.hook(ev.name, ev.body)
	}
}

// ServeHTTP answers like Strapi.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := s.route(r.URL.Path)
	if !s.misbehave(w, r, route) {
		s.serve(w, r, route)
	}
}

// misbehave counts the request and applies the latency and the first
// fault that matches; it reports whether the fault answered.
func (s *Server) misbehave(w http.ResponseWriter, r *http.Request, route string) bool {
	s.mu.Lock()
	s.counts[route]++
	delay := s.latency
	var hit *fault
	for _, f := range s.faults {
		if f.Route != "" && f.Route != route {
			continue
		}
		f.seen++
		if f.seen > f.After && (f.Times == 0 || f.applied < f.Times) {
			f.applied++
			hit = f
			delay += f.Delay
			break
		}
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-t.C:
		}
	}
	switch {
	case hit != nil && hit.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // closes the connection when hijacking is not possible
	case hit != nil && hit.Status != 0:
		s.writeError(w, hit.Status, "ServiceUnavailableError", http.StatusText(hit.Status))
		return true
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, route string) {
	switch {
	case route == RouteOther:
		s.writeError(w, http.StatusNotFound, "NotFoundError", "Not Found")
	case route == RouteLogin && r.Method == http.MethodPost:
		s.login(w, r)
	case route == RouteLogin || r.Method != http.MethodGet:
		s.writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowedError", "Method Not Allowed")
	default:
		s.mu.Lock()
		defer s.mu.Unlock()
		if status, name, msg := s.authorize(r); status != 0 {
			s.writeError(w, status, name, msg)
		} else if route == RouteTemplates {
			s.listTemplates(w, r)
		} else if route == RouteOne {
			s.writeError(w, http.StatusBadRequest, "ValidationError",
				"strapitest serves only the collection's list route, which internal/strapi uses; not GET "+r.URL.Path)
		} else {
			s.list(w, r)
		}
	}
}

// route classifies a path.
func (s *Server) route(path string) string {
	prefix := "/api"
	if s.version == 3 {
		prefix = ""
	}
	switch {
	case path == prefix+"/auth/local":
		return RouteLogin
	case s.isTemplatesPath(path):
		return RouteTemplates
	case path == prefix+"/"+s.collection:
		return RouteList
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/"+s.collection+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return RouteOne
	}
	return RouteOther
}

// authorize returns the error status for a content request, or 0: no
// credentials → 403 (the public role has no find), bad ones → 401.
// Callers hold s.mu, as they do for the content routes below.
func (s *Server) authorize(r *http.Request) (status int, name, msg string) {
	if s.apiToken == "" && s.identifier == "" {
		return 0, "", ""
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return http.StatusForbidden, "ForbiddenError", "Forbidden"
	}
	scheme, token, ok := strings.Cut(h, " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		if s.version != 3 && s.apiToken != "" && token == s.apiToken || s.sessions[token] {
			return 0, "", ""
		}
	}
	if s.version == 3 {
		return http.StatusUnauthorized, "UnauthorizedError", "Invalid token."
	}
	return http.StatusUnauthorized, "UnauthorizedError", "Missing or invalid credentials"
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := time.Now()
	s.authHits = slices.DeleteFunc(s.authHits, func(t time.Time) bool { return now.Sub(t) >= authRateWindow })
	s.authHits = append(s.authHits, now)
	limited := s.authLimit > 0 && len(s.authHits) > s.authLimit
	s.mu.Unlock()
	if limited {
		s.writeError(w, http.StatusTooManyRequests, "RateLimitError", "Too many requests, please try again later.")
		return
	}
	var body struct {
		Identifier string `json:"identifier"`
		Password   string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		s.writeError(w, http.StatusBadRequest, "ValidationError", "Invalid request body")
		return
	}
	s.mu.Lock()
	ok := s.identifier != "" && strings.EqualFold(body.Identifier, s.identifier) && body.Password == s.password
	var jwt string
	if ok {
		jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + rand.Text()
		s.sessions[jwt] = true
	}
	s.mu.Unlock()
	if !ok {
		msg := "Invalid identifier or password"
		if s.version == 3 {
			msg = "Identifier or password invalid."
		}
		s.writeError(w, http.StatusBadRequest, "ValidationError", msg)
		return
	}
	user := object{{"id", 1}}
	if s.version == 5 {
		user = append(user, kv{"documentId", "ok38nm98wlbli7aw5ofuipkc"})
	}
	user = append(user, kv{"username", "sync"}, kv{"email", strings.ToLower(s.identifier)},
		kv{"provider", "local"}, kv{"confirmed", true}, kv{"blocked", false})
	writeJSON(w, http.StatusOK, object{{"jwt", jwt}, {"user", user}})
}

// writeError answers in the version's error shape.
func (s *Server) writeError(w http.ResponseWriter, status int, name, msg string) {
	if s.version == 3 {
		writeJSON(w, status, object{{"statusCode", status}, {"error", http.StatusText(status)}, {"message", msg}})
		return
	}
	writeJSON(w, status, object{{"data", nil}, {"error", object{
		{"status", status}, {"name", name}, {"message", msg}, {"details", object{}}}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
