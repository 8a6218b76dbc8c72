// Package crm holds Expert Hub's customer domain: the customer record
// Frontline displays, the address rules used to find a customer from a
// phone number, and the read path that serves CRM lookups from the cache.
// It also declares the seams to the rest: Source is the CRM (one package
// a CRM, such as strapi), Store the cache of its customers, and Change
// the CRM-neutral form a CRM's webhooks are decoded into.
package crm

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Customer is Frontline's customer object (the CRM callback DTO) plus the
// bookkeeping the cache needs. JSON tags follow the Frontline contract.
type Customer struct {
	ID          string    `json:"customer_id"`
	DisplayName string    `json:"display_name"`
	Channels    []Channel `json:"channels,omitempty"`
	Links       []Link    `json:"links,omitempty"`
	Details     *Details  `json:"details,omitempty"`
	Avatar      string    `json:"avatar,omitempty"`
	// Worker is the identity of the Frontline user who owns the customer,
	// when the CRM has an owner field. Empty means "every worker's".
	Worker string `json:"worker,omitempty"`

	// SourceKey is the record's key in the CRM (Strapi documentId in v5,
	// id in v3/v4); it is never sent to Frontline.
	SourceKey string `json:"-"`
	// SyncedAt is when the record was last copied from the CRM; a full sync
	// deletes every cached record it did not touch.
	SyncedAt time.Time `json:"-"`
}

// Channel is one way to reach a customer.
type Channel struct {
	Type  string `json:"type"` // sms, whatsapp or chat
	Value string `json:"value"`
}

// Link is a URL Frontline shows on the customer's page.
type Link struct {
	Type        string `json:"type"`
	Value       string `json:"value"`
	DisplayName string `json:"display_name"`
}

// Details is the free-text block on the customer's page.
type Details struct {
	Title   string `json:"title"`
	Content string `json:"content"`
}

// Addresses returns the customer's channel values in normalised form
// (see NormalizeAddress), without duplicates. Values that cannot be
// normalised are skipped: they can never match an inbound address.
func (c Customer) Addresses() []string {
	var out []string
	seen := make(map[string]bool, len(c.Channels))
	for _, ch := range c.Channels {
		a, err := NormalizeAddress(ch.Value)
		if err != nil || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// Localize rewrites the customer's channels written as national numbers
// in E.164 for region (see Localize), so the cache indexes them and
// Frontline gets numbers it can text. Every way customers enter the
// cache (the CRM's pages and webhooks, a sample file) goes through it.
func (c *Customer) Localize(region string) {
	if region == "" {
		return
	}
	for i := range c.Channels {
		c.Channels[i].Value = Localize(c.Channels[i].Value, region)
	}
}

// NameKey is the lower-cased display name that list queries sort and
// prefix-search on.
func (c Customer) NameKey() string { return NameKey(c.DisplayName) }

// NameKey folds a display name or a search query for prefix matching.
func NameKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Summary is the customer as the list callback returns it: Frontline needs
// only these three fields there.
func (c Customer) Summary() Customer {
	return Customer{ID: c.ID, DisplayName: c.DisplayName, Avatar: c.Avatar}
}

// ErrNotFound is returned when no customer matches.
var ErrNotFound = errors.New("crm: not found")

// Cursor marks a position in the list order (name key, then id).
type Cursor struct {
	NameKey string
	ID      string
}

// ListQuery selects one page of a worker's customers.
type ListQuery struct {
	// Worker, when set, limits the list to customers owned by this
	// identity (compared lower-cased) plus customers with no owner.
	// Empty lists every customer.
	Worker string
	// Prefix keeps customers whose NameKey starts with it (already folded
	// with NameKey).
	Prefix string
	// After, when set, starts the page after this position.
	After *Cursor
	// Limit is the page size; stores treat values < 1 as 1.
	Limit int
}

// Page is one page of a list, in (NameKey, ID) order.
type Page struct {
	Customers []Customer
	// Next is the position to continue from; nil on the last page.
	Next *Cursor
}

// Store is the customer cache: what lookups read, what the sync writes,
// and the checkpoint of the full sync, which every cache keeps next to
// the customers.
type Store interface {
	Get(ctx context.Context, id string) (Customer, error)
	// FindByAddress takes an address already normalised by NormalizeAddress.
	FindByAddress(ctx context.Context, address string) (Customer, error)
	List(ctx context.Context, q ListQuery) (Page, error)
	Upsert(ctx context.Context, customers ...Customer) error
	Delete(ctx context.Context, ids ...string) error
	// FindBySourceKey returns the customers cached under this CRM key
	// (Customer.SourceKey), in id order: normally one, more while a
	// customer whose id changed in the CRM has its old copy cached.
	FindBySourceKey(ctx context.Context, key string) ([]Customer, error)
	// DeleteSyncedBefore removes every customer whose SyncedAt is before t
	// and returns how many went.
	DeleteSyncedBefore(ctx context.Context, t time.Time) (int, error)
	// CountSyncedBefore returns how many customers DeleteSyncedBefore(t)
	// would remove.
	CountSyncedBefore(ctx context.Context, t time.Time) (int, error)
	// SyncState returns the last checkpoint, or the zero state if none was
	// stored.
	SyncState(ctx context.Context) (SyncState, error)
	PutSyncState(ctx context.Context, s SyncState) error
}

// SyncState is the checkpoint of a full sync, so an interrupted run
// resumes where it stopped instead of starting over.
type SyncState struct {
	// RunStart is the SyncedAt stamp of the run; records older than it are
	// deleted when the run completes.
	RunStart time.Time
	// After is the cursor Source.Pages gave with the last page written.
	After string
	// Done is set once the run has completed its sweep.
	Done bool
	// Kept is set when the completed run read not one record from the
	// CRM: how many cached records the full sync's guard against a wrong
	// collection kept instead of deleting them (doctor reports it;
	// `experthub sync --allow-empty` deletes them).
	Kept int
}

// Source is a CRM, the system of record the cache copies: every customer
// page by page for a full sync, and one customer by id or address for a
// cache miss or a webhook that left fields out. Lookups return
// ErrNotFound for a customer the CRM does not have (or has not
// published).
type Source interface {
	// Pages calls fn with each page and the cursor to resume after it;
	// Pages(ctx, cursor, fn) continues from there and after = "" starts at
	// the beginning. An error from fn stops the listing and is returned
	// as is.
	Pages(ctx context.Context, after string, fn func(page []Customer, cursor string) error) error
	CustomerByID(ctx context.Context, id string) (Customer, error)
	// CustomerByAddress takes an address in any form NormalizeAddress
	// accepts.
	CustomerByAddress(ctx context.Context, address string) (Customer, error)
}
