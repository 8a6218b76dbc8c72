package twiliotest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	defaultPageSize      = 50
	maxConversationsPage = 100
	// maxParticipantConversationsPage: ParticipantConversations pages
	// hold 50 at most.
	maxParticipantConversationsPage = 50
	maxTaskRouterPageSize           = 1000
)

// metaJSON is the "meta" object of a Twilio list answer.
type metaJSON struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	URL             string  `json:"url"`
	NextPageURL     *string `json:"next_page_url"`
	Key             string  `json:"key"`
}

// list is a list resource: its items are answered under key, in pages
// of at most maxSize, with links on host.
type list struct {
	host, key string
	maxSize   int
}

// page is the page of items r asks for, each rendered, as l's answer.
func page[T, J any](r *http.Request, l list, items []T, sid func(T) string, render func(T) J) (map[string]any, *apiError) {
	start, end, meta, e := paginate(r, l.host, l.key, len(items), l.maxSize, func(i int) string { return sid(items[i]) })
	if e != nil {
		return nil, e
	}
	out := make([]J, 0, end-start)
	for _, it := range items[start:end] {
		out = append(out, render(it))
	}
	return map[string]any{l.key: out, "meta": meta}, nil
}

// answer writes v with status, or e when there is one.
func answer(w http.ResponseWriter, status int, v any, e *apiError) {
	if e != nil {
		writeAPIError(w, e)
		return
	}
	writeJSON(w, status, v)
}

// paginate picks the page of a list of n items (identified by sidAt) that r
// asks for, Twilio style: PageSize (default 50, capped at maxSize), Page
// (informational), and PageToken "PA<sid>" meaning "after that item", which
// keeps pages stable while items are added. Links name the real Twilio
// host, as Twilio's do.
func paginate(r *http.Request, host, key string, n, maxSize int, sidAt func(int) string) (start, end int, meta metaJSON, apiErr *apiError) {
	q := r.URL.Query()
	size := defaultPageSize
	if v := q.Get("PageSize"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 1 {
			return 0, 0, meta, errInvalid("PageSize must be a positive integer")
		}
		size = min(s, maxSize)
	}
	page := 0
	if v := q.Get("Page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 {
			return 0, 0, meta, errInvalid("Page must be a non-negative integer")
		}
		page = p
	}
	start = page * size
	if tok := q.Get("PageToken"); tok != "" {
		after, ok := strings.CutPrefix(tok, "PA")
		if !ok {
			return 0, 0, meta, errInvalid("Invalid PageToken")
		}
		start = -1
		for i := range n {
			if sidAt(i) == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return 0, 0, meta, errInvalid("Invalid PageToken")
		}
	}
	start = min(start, n)
	end = min(start+size, n)

	filters := url.Values{}
	for k, vs := range q {
		if k != "PageSize" && k != "Page" && k != "PageToken" {
			filters[k] = vs
		}
	}
	base := "https://" + host + r.URL.Path + "?"
	if enc := filters.Encode(); enc != "" {
		base += enc + "&"
	}
	link := func(page int, token string) string {
		s := base + "PageSize=" + strconv.Itoa(size) + "&Page=" + strconv.Itoa(page)
		if token != "" {
			s += "&PageToken=" + url.QueryEscape(token)
		}
		return s
	}
	meta = metaJSON{
		Page:         page,
		PageSize:     size,
		FirstPageURL: link(0, ""),
		URL:          link(page, q.Get("PageToken")),
		Key:          key,
	}
	if page > 0 {
		prev := link(page-1, "")
		meta.PreviousPageURL = &prev
	}
	if end < n {
		next := link(page+1, "PA"+sidAt(end-1))
		meta.NextPageURL = &next
	}
	return start, end, meta, nil
}
