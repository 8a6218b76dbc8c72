package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/experthub/experthub/internal/crm"
)

// seed is the baseline: the seed tutorial's crm.js ported to Go. Its
// fetchAll logs in to Strapi (/auth/local) and downloads the whole
// customer collection on every call; the CRM callback and
// fetchByPhoneNumber then search the downloaded array.
//
// Where the seed would not work at all it is made to, in its own spirit:
// it pages through the collection (the seed's single GET returns only the
// first page), asks for the channels (populate, which v4/v5 need), and
// looks a customer up by id instead of by array position.
type seed struct {
	base       string // Strapi v5 origin
	identifier string
	password   string
}

// seedCustomer is a v5 list entry, the fields the seed reads.
type seedCustomer struct {
	CustomerID  json.Number `json:"customer_id"`
	DisplayName string      `json:"display_name"`
	Avatar      string      `json:"avatar"`
	Channels    []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"channels"`
}

func (c seedCustomer) customer() crm.Customer {
	out := crm.Customer{ID: c.CustomerID.String(), DisplayName: c.DisplayName, Avatar: c.Avatar}
	for _, ch := range c.Channels {
		out.Channels = append(out.Channels, crm.Channel{Type: ch.Type, Value: ch.Value})
	}
	return out
}

// fetchAll is the seed's fetchAll: log in, then every page.
func (s *seed) fetchAll(ctx context.Context) ([]crm.Customer, error) {
	cred, _ := json.Marshal(map[string]string{"identifier": s.identifier, "password": s.password})
	var login struct {
		JWT string `json:"jwt"`
	}
	if err := s.do(ctx, http.MethodPost, s.base+"/api/auth/local", "", cred, &login); err != nil {
		return nil, err
	}
	var all []crm.Customer
	for page := 1; ; page++ {
		q := url.Values{}
		q.Set("populate", "*")
		q.Set("pagination[page]", strconv.Itoa(page))
		q.Set("pagination[pageSize]", "100")
		var resp struct {
			Data []seedCustomer `json:"data"`
			Meta struct {
				Pagination struct {
					PageCount int `json:"pageCount"`
				} `json:"pagination"`
			} `json:"meta"`
		}
		if err := s.do(ctx, http.MethodGet, s.base+"/api/customers?"+q.Encode(), login.JWT, nil, &resp); err != nil {
			return nil, err
		}
		for _, c := range resp.Data {
			all = append(all, c.customer())
		}
		if page >= resp.Meta.Pagination.PageCount {
			return all, nil
		}
	}
}

func (s *seed) do(ctx context.Context, method, u, jwt string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if jwt != "" {
		req.Header.Set("Authorization", "Bearer "+jwt)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("seed: %s %s: %s", method, req.URL.Path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// ServeHTTP is the seed's CRM callback (crm.js handler). It runs behind
// the same signature check as the real one. The list answers Frontline's
// first page only; the seed sends the whole collection, which would only
// make it slower.
func (s *seed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	customers, err := s.fetchAll(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var objects map[string]any
	switch r.PostForm.Get("Location") {
	case "GetCustomerDetailsByCustomerId":
		id := r.PostForm.Get("CustomerId")
		i := 0
		for i < len(customers) && customers[i].ID != id {
			i++
		}
		if i == len(customers) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		objects = map[string]any{"customer": customers[i]}
	default:
		list := make([]crm.Customer, 0, 30)
		for _, c := range customers[:min(30, len(customers))] {
			list = append(list, c.Summary())
		}
		objects = map[string]any{"customers": list}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"objects": objects})
}

// fetchByPhoneNumber is the seed's lookup behind the post-event webhook:
// the first customer whose first channel is the number.
func (s *seed) fetchByPhoneNumber(ctx context.Context, phone string) (crm.Customer, error) {
	customers, err := s.fetchAll(ctx)
	if err != nil {
		return crm.Customer{}, err
	}
	for _, c := range customers {
		if len(c.Channels) > 0 && c.Channels[0].Value == phone {
			return c, nil
		}
	}
	return crm.Customer{}, crm.ErrNotFound
}
