package fsstore

import (
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/experthub/experthub/internal/crm"
)

// document is a customer as stored. Its field names are the contract with
// the composite indexes (indexes.json) and with anyone reading the
// collection in the console.
type document struct {
	CustomerID  string    `firestore:"customer_id"`
	DisplayName string    `firestore:"display_name"`
	NameKey     string    `firestore:"name_key"`
	Channels    []channel `firestore:"channels"`
	Addresses   []string  `firestore:"addresses"`
	Links       []link    `firestore:"links"`
	Details     *details  `firestore:"details"`
	Avatar      string    `firestore:"avatar"`
	Worker      string    `firestore:"worker"`
	WorkerKey   string    `firestore:"worker_key"`
	SourceKey   string    `firestore:"source_key"`
	SyncedAt    time.Time `firestore:"synced_at"`
}

type channel struct {
	Type  string `firestore:"type"`
	Value string `firestore:"value"`
}

type link struct {
	Type        string `firestore:"type"`
	Value       string `firestore:"value"`
	DisplayName string `firestore:"display_name"`
}

type details struct {
	Title   string `firestore:"title"`
	Content string `firestore:"content"`
}

func encode(c crm.Customer) document {
	d := document{
		CustomerID:  c.ID,
		DisplayName: c.DisplayName,
		NameKey:     c.NameKey(),
		Addresses:   c.Addresses(),
		Avatar:      c.Avatar,
		Worker:      c.Worker,
		WorkerKey:   foldWorker(c.Worker),
		SourceKey:   c.SourceKey,
		SyncedAt:    c.SyncedAt,
	}
	for _, ch := range c.Channels {
		d.Channels = append(d.Channels, channel(ch))
	}
	for _, l := range c.Links {
		d.Links = append(d.Links, link(l))
	}
	if c.Details != nil {
		d.Details = &details{Title: c.Details.Title, Content: c.Details.Content}
	}
	return d
}

// decode reads a stored customer; the document keeps the keys the store
// queried by, which List's cursor must repeat.
func decode(snap *firestore.DocumentSnapshot) (document, error) {
	var d document
	if err := snap.DataTo(&d); err != nil {
		return document{}, fmt.Errorf("decode %s: %w", snap.Ref.ID, err)
	}
	if d.CustomerID == "" {
		// Written by hand in the console, perhaps: the id is the key.
		return document{}, fmt.Errorf("decode %s: no customer_id", snap.Ref.ID)
	}
	return d, nil
}

func (d document) customer() crm.Customer {
	c := crm.Customer{
		ID:          d.CustomerID,
		DisplayName: d.DisplayName,
		Avatar:      d.Avatar,
		Worker:      d.Worker,
		SourceKey:   d.SourceKey,
		SyncedAt:    d.SyncedAt,
	}
	for _, ch := range d.Channels {
		c.Channels = append(c.Channels, crm.Channel(ch))
	}
	for _, l := range d.Links {
		c.Links = append(c.Links, crm.Link(l))
	}
	if d.Details != nil {
		c.Details = &crm.Details{Title: d.Details.Title, Content: d.Details.Content}
	}
	return c
}
