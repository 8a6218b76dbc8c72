package strapi

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/crm"
)

var _ crm.Source = (*Client)(nil)

// Pages lists every published customer, one page at a time, in two keyset
// passes: first the records with a customer_id in customer_id order, then
// the few without one (their ID falls back to the Strapi key) in key
// order. Keyset paging, unlike page numbers, neither skips nor repeats
// records when others are written meanwhile or a v5 publish renumbers a
// row.
//
// fn gets each page and the cursor to resume after it; Pages(ctx, cursor,
// fn) continues from there, and after = "" starts from the beginning. In
// the first pass the cursor is the last customer_id; in the second it is
// "id:<id>" or "documentId:<documentId>". An error from fn stops the
// listing and is returned as is.
func (c *Client) Pages(ctx context.Context, after string, fn func(page []crm.Customer, cursor string) error) error {
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	field, last, keyPass := strings.Cut(after, ":")
	if !keyPass || field != "id" && field != "documentId" {
		err := c.pass(ctx, v, after, fn,
			func(after string) url.Values { return idPassQuery(v, after) },
			func(e entry) (string, bool) { return e.customer.ID, e.hasCustomerID },
			func(cursor string) string { return cursor })
		if err != nil {
			return err
		}
		// Read the field only now: the first pass may have settled the version.
		field, last = c.keyField(), ""
	}
	return c.pass(ctx, v, last, fn,
		func(after string) url.Values { return keyPassQuery(v, field, after) },
		func(e entry) (string, bool) {
			if e.hasCustomerID {
				return "", false
			}
			if field == "id" {
				return e.rowID, e.rowID != ""
			}
			return e.customer.SourceKey, true
		},
		func(cursor string) string { return field + ":" + cursor })
}

// pass runs one keyset listing. key returns the record's keyset value and
// whether the record belongs to this pass; a server that ignores a filter
// must not make us hand out the wrong records or loop forever.
func (c *Client) pass(ctx context.Context, v int, after string,
	fn func([]crm.Customer, string) error,
	query func(after string) url.Values,
	key func(entry) (string, bool),
	cursor func(string) string,
) error {
	for {
		p, err := c.list(ctx, v, query(after))
		if err != nil {
			return err
		}
		page := make([]crm.Customer, 0, len(p.entries))
		next := after
		for _, e := range p.entries {
			k, ok := key(e)
			if !ok {
				continue
			}
			page = append(page, e.customer)
			next = k
		}
		if p.rows > 0 && next == after {
			return fmt.Errorf("strapi: listing %s after %q made no progress; does the server ignore filters or sort?", c.listPath(v), after)
		}
		if len(page) > 0 {
			if err := fn(page, cursor(next)); err != nil {
				return err
			}
		}
		// v4/v5 say the page size they applied (it may be capped below what
		// we asked), so a shorter page is the last. v3 does not say, so only
		// an empty page proves the end there.
		if p.rows == 0 || p.pageSize > 0 && p.rows < min(p.pageSize, pageSize) {
			return nil
		}
		after = next
	}
}

// list fetches and decodes one list page, learning the version from the
// records' shape when detection could not tell.
func (c *Client) list(ctx context.Context, v int, q url.Values) (listPage, error) {
	path := c.listPath(v)
	body, err := c.get(ctx, v, path, q)
	if err != nil {
		return listPage{}, err
	}
	p, err := decodeList(body)
	if err != nil {
		return listPage{}, fmt.Errorf("strapi: GET %s: %w", path, err)
	}
	if v != 3 && len(p.entries) > 0 {
		c.learn(p.entries[0].shape)
	}
	for i := range p.entries {
		c.localize(&p.entries[i].customer)
	}
	return p, nil
}

// idPassQuery selects the page of records with a customer_id after the
// given one. The first page asks for non-null explicitly: SQL sorts NULL
// first on some databases.
func idPassQuery(v int, after string) url.Values {
	q := url.Values{}
	if v == 3 {
		q.Set("_sort", "customer_id:ASC")
		q.Set("_limit", strconv.Itoa(pageSize))
		if after == "" {
			q.Set("customer_id_null", "false")
		} else {
			q.Set("customer_id_gt", after)
		}
		return q
	}
	setPage(q, pageSize)
	q.Set("sort", "customer_id:asc")
	if after == "" {
		q.Set("filters[customer_id][$notNull]", "true")
	} else {
		q.Set("filters[customer_id][$gt]", after)
	}
	return q
}

func keyPassQuery(v int, field, after string) url.Values {
	q := url.Values{}
	if v == 3 {
		q.Set("_sort", "id:ASC")
		q.Set("_limit", strconv.Itoa(pageSize))
		q.Set("customer_id_null", "true")
		if after != "" {
			q.Set("id_gt", after)
		}
		return q
	}
	setPage(q, pageSize)
	q.Set("sort", field+":asc")
	q.Set("filters[customer_id][$null]", "true")
	if after != "" {
		q.Set("filters["+field+"][$gt]", after)
	}
	return q
}

// setPage sets v4/v5 paging without the COUNT query, and populate: the
// channels component is absent without it.
func setPage(q url.Values, size int) {
	q.Set("populate", "*")
	q.Set("pagination[pageSize]", strconv.Itoa(size))
	q.Set("pagination[withCount]", "false")
}

// CustomerByID returns the published customer whose customer_id is id, or
// crm.ErrNotFound.
func (c *Client) CustomerByID(ctx context.Context, id string) (crm.Customer, error) {
	return byID(ctx, c, id, func(v int, id string) (crm.Customer, bool, error) {
		q := byField(v, "customer_id", id)
		if v != 3 {
			setPage(q, 1)
		}
		p, err := c.list(ctx, v, q)
		if err != nil {
			return crm.Customer{}, false, err
		}
		for _, e := range p.entries {
			if e.hasCustomerID && e.customer.ID == id {
				return e.customer, true, nil
			}
		}
		return crm.Customer{}, false, nil
	})
}

// byID returns the record find finds for id (trimmed) with the server's
// version, or crm.ErrNotFound.
func byID[T any](ctx context.Context, c *Client, id string, find func(v int, id string) (T, bool, error)) (T, error) {
	var zero T
	id = strings.TrimSpace(id)
	if id == "" {
		return zero, crm.ErrNotFound
	}
	v, err := c.Version(ctx)
	if err != nil {
		return zero, err
	}
	t, found, err := find(v, id)
	if err != nil {
		return zero, err
	}
	if !found {
		return zero, crm.ErrNotFound
	}
	return t, nil
}

// byField is the query of version v for the one record whose field is
// value.
func byField(v int, field, value string) url.Values {
	q := url.Values{}
	if v == 3 {
		q.Set(field, value)
		q.Set("_limit", "1")
	} else {
		q.Set("pagination[pageSize]", "1")
		q.Set("filters["+field+"][$eq]", value)
	}
	return q
}

// CustomerByAddress returns the published customer with a channel at
// address (a phone number in any of its forms, or a chat identity), or
// crm.ErrNotFound. Strapi matches channel values exactly, so this asks
// for the usual spellings of a number at once (crm.Spellings: E.164,
// international and national formats, with or without "whatsapp:");
// national ones count only with a DefaultRegion they are valid in. The
// synced cache, which normalises every value, finds the rest.
func (c *Client) CustomerByAddress(ctx context.Context, address string) (crm.Customer, error) {
	a, err := crm.NormalizeAddress(address)
	if err != nil {
		return crm.Customer{}, fmt.Errorf("%w: %w", crm.ErrNotFound, err)
	}
	// Strapi matches values exactly: ask for every usual spelling of the
	// number (with DefaultRegion, national ones are read back as E.164).
	values := crm.Spellings(a)
	v, err := c.Version(ctx)
	if err != nil {
		return crm.Customer{}, err
	}
	// Several customers may share a number; take the lowest customer_id
	// so every lookup agrees.
	const candidates = 10
	q := url.Values{}
	if v == 3 {
		q["channels.value_in"] = values
		q.Set("_sort", "customer_id:ASC")
		q.Set("_limit", strconv.Itoa(candidates))
	} else {
		setPage(q, candidates)
		q.Set("sort", "customer_id:asc")
		for i, val := range values {
			q.Set(fmt.Sprintf("filters[channels][value][$in][%d]", i), val)
		}
	}
	p, err := c.list(ctx, v, q)
	if err != nil {
		return crm.Customer{}, err
	}
	// Check the answer: v3's deep filter is not verified, and a server
	// ignoring it would otherwise hand back a stranger.
	for _, e := range p.entries {
		if slices.Contains(e.customer.Addresses(), a) {
			return e.customer, nil
		}
	}
	return crm.Customer{}, crm.ErrNotFound
}

// localize rewrites the customer's national numbers in E.164 for the
// client's DefaultRegion (crm.Customer.Localize).
func (c *Client) localize(cu *crm.Customer) { cu.Localize(c.region) }
