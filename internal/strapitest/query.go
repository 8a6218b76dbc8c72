package strapitest

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/crm"
)

// The stub answers only the list queries Expert Hub sends, and rejects any
// other parameter with a 400 naming it, so a client that starts sending
// something new fails clearly instead of being served a guess. The shapes
// (internal/strapi list.go and client.go, and the seed's page walk in
// internal/bench):
//
// v4/v5 (https://docs.strapi.io/cms/api/rest):
//
//	detect      pagination[pageSize]=1
//	id pass     populate=*&pagination[pageSize]=100&pagination[withCount]=false&sort=customer_id:asc
//	            &filters[customer_id][$notNull]=true  or  &filters[customer_id][$gt]=<customer_id>
//	key pass    populate=*&pagination[pageSize]=100&pagination[withCount]=false&sort=<key>:asc
//	            &filters[customer_id][$null]=true[&filters[<key>][$gt]=<key value>]  (key: id, or documentId in v5)
//	by id       populate=*&pagination[pageSize]=1&pagination[withCount]=false&filters[customer_id][$eq]=<id>
//	by address  populate=*&pagination[pageSize]=10&pagination[withCount]=false&sort=customer_id:asc
//	            &filters[channels][value][$in][0]=<value>[&filters[channels][value][$in][1]=whatsapp:<value>]
//	seed        populate=*&pagination[page]=<n>&pagination[pageSize]=100
//
// v3 (https://docs-v3.strapi.io/developer-docs/latest/developer-resources/content-api/content-api.html):
//
//	detect      _limit=1
//	id pass     _sort=customer_id:ASC&_limit=100&customer_id_null=false  or  &customer_id_gt=<customer_id>
//	key pass    _sort=id:ASC&_limit=100&customer_id_null=true[&id_gt=<id>]
//	by id       customer_id=<id>&_limit=1
//	by address  channels.value_in=<value>[&channels.value_in=whatsapp:<value>]&_sort=customer_id:ASC&_limit=10
//
// Lists show published entries only, as Strapi does without
// status/publicationState.

// query is a parsed list query.
type query struct {
	page, size int // v3: page 1 of _limit rows
	withCount  bool
	populate   bool   // populate=*; v3 always has the components
	sortBy     string // ascending; "" is the row id order
	conds      []cond
}

// cond is one filter a row must match.
type cond struct {
	field string // customer_id, id, documentId or channels.value
	op    string // $eq, $gt, $null, $notNull or $in
	args  []string
}

// apiError is a 400 in the version's shape.
type apiError struct {
	name, msg string
}

func (s *Server) unsupported(k string, vals []string) *apiError {
	name := "ValidationError"
	if s.version == 3 {
		name = "Bad Request"
	}
	return &apiError{name, fmt.Sprintf("Invalid key %s=%s: strapitest serves only the queries internal/strapi sends",
		k, strings.Join(vals, ","))}
}

// parse matches q against the shapes above.
func (s *Server) parse(q url.Values) (query, *apiError) {
	lq := query{page: 1, size: s.defaultLimit, withCount: true, populate: s.version == 3}
	in := -1 // the $in condition, merged from one key per element
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vals := q[k]
		c, isFilter := s.filter(k, vals)
		switch {
		case isFilter && c.op == "$in" && in >= 0:
			lq.conds[in].args = append(lq.conds[in].args, c.args...)
		case isFilter && c.op == "$in":
			in = len(lq.conds)
			lq.conds = append(lq.conds, c)
		case isFilter:
			lq.conds = append(lq.conds, c)
		case !s.setOption(&lq, k, vals):
			return lq, s.unsupported(k, vals)
		}
	}
	if s.maxLimit > 0 {
		lq.size = min(lq.size, s.maxLimit) // silently, as Strapi does
	}
	return lq, nil
}

// setOption applies a paging, sort or populate parameter, reporting
// whether k=vals is one the client sends.
func (s *Server) setOption(lq *query, k string, vals []string) bool {
	if len(vals) != 1 {
		return false
	}
	v := vals[0]
	if s.version == 3 {
		return setOption3(lq, k, v)
	}
	switch k {
	case "pagination[pageSize]":
		return positive(v, &lq.size)
	case "pagination[page]":
		return positive(v, &lq.page)
	case "pagination[withCount]":
		lq.withCount = v == "true"
		return v == "true" || v == "false"
	case "populate":
		lq.populate = true
		return v == "*"
	case "sort":
		field, ok := strings.CutSuffix(v, ":asc")
		lq.sortBy = field
		return ok && (field == "customer_id" || s.isKey(field))
	}
	return false
}

func setOption3(lq *query, k, v string) bool {
	switch k {
	case "_limit":
		return positive(v, &lq.size)
	case "_sort":
		field, ok := strings.CutSuffix(v, ":ASC")
		lq.sortBy = field
		return ok && (field == "customer_id" || field == "id")
	}
	return false
}

// positive sets *n to v, reporting whether v is a positive integer.
func positive(v string, n *int) bool {
	var err error
	*n, err = strconv.Atoi(v)
	return err == nil && *n > 0
}

// isKey reports whether field is the version's record key.
func (s *Server) isKey(field string) bool {
	return field == "id" || field == "documentId" && s.version == 5
}

// filter reads k=vals as one of the filters the client sends.
func (s *Server) filter(k string, vals []string) (cond, bool) {
	if s.version == 3 {
		return filter3(k, vals)
	}
	if rest, ok := strings.CutPrefix(k, "filters[channels][value][$in]["); ok {
		i, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
		return cond{field: "channels.value", op: "$in", args: vals}, err == nil && i >= 0 && strings.HasSuffix(rest, "]") && len(vals) == 1
	}
	rest, ok := strings.CutPrefix(k, "filters[")
	field, op, ok2 := strings.Cut(strings.TrimSuffix(rest, "]"), "][")
	if !ok || !ok2 || len(vals) != 1 {
		return cond{}, false
	}
	c := cond{field: field, op: op, args: vals}
	switch {
	case field == "customer_id" && (op == "$eq" || op == "$gt"):
	case field == "customer_id" && (op == "$null" || op == "$notNull") && vals[0] == "true":
	case s.isKey(field) && op == "$gt":
	default:
		return cond{}, false
	}
	return c, true
}

// filter3 reads a v3 field filter.
func filter3(k string, vals []string) (cond, bool) {
	c := cond{args: vals}
	switch k {
	case "customer_id":
		c.field, c.op = k, "$eq"
	case "customer_id_gt", "id_gt":
		c.field, c.op = strings.TrimSuffix(k, "_gt"), "$gt"
	case "customer_id_null":
		c.field, c.op = "customer_id", map[string]string{"true": "$null", "false": "$notNull"}[vals[0]]
	case "channels.value_in":
		return cond{field: "channels.value", op: "$in", args: vals}, true
	}
	return c, c.op != "" && len(vals) == 1
}

// value is one field value ordered as SQL orders an integer column: null
// < numbers < text (SQLite keeps text that is not an integer as text).
type value struct {
	null bool
	num  bool
	n    int64
	s    string
}

func intValue(s string) value {
	if s == "" {
		return value{null: true}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return value{num: true, n: n}
	}
	return value{s: s}
}

func compareValues(a, b value) int {
	rank := func(v value) int {
		switch {
		case v.null:
			return 0
		case v.num:
			return 1
		}
		return 2
	}
	if c := cmp.Compare(rank(a), rank(b)); c != 0 {
		return c
	}
	if a.num {
		return cmp.Compare(a.n, b.n)
	}
	return strings.Compare(a.s, b.s)
}

// key returns the row's value of a sortable field, and how a filter
// argument on it is read.
func (v view) key(field string) (value, func(string) value) {
	switch field {
	case "id":
		return value{num: true, n: int64(v.id)}, intValue
	case "documentId":
		return value{s: v.docID}, func(s string) value { return value{s: s} }
	}
	return intValue(v.c.ID), intValue
}

func (c cond) match(v view) bool {
	if c.field == "channels.value" {
		// A component matches when any of its rows does, as the SQL join does.
		return slices.ContainsFunc(v.c.Channels, func(ch crm.Channel) bool { return slices.Contains(c.args, ch.Value) })
	}
	x, parse := v.key(c.field)
	switch c.op {
	case "$null":
		return x.null
	case "$notNull":
		return !x.null
	case "$eq":
		return !x.null && compareValues(x, parse(c.args[0])) == 0
	}
	return !x.null && compareValues(x, parse(c.args[0])) > 0 // $gt
}

// rows returns the published rows lq selects, in its order.
func (s *Server) rows(lq query) []view {
	var out []view
	for _, r := range s.records {
		if !r.published {
			continue
		}
		v := r.view()
		if !slices.ContainsFunc(lq.conds, func(c cond) bool { return !c.match(v) }) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b view) int { return cmp.Compare(a.id, b.id) })
	if lq.sortBy == "" {
		return out
	}
	// Compute the keys once: parsing them in every comparison made a
	// 100k-row listing take a second.
	keys := make([]value, len(out))
	order := make([]int, len(out))
	for i, v := range out {
		keys[i], _ = v.key(lq.sortBy)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareValues(keys[a], keys[b]) })
	sorted := make([]view, len(out))
	for i, o := range order {
		sorted[i] = out[o]
	}
	return sorted
}

// list answers the collection's list route; callers checked auth and hold
// s.mu.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	lq, err := s.parse(r.URL.Query())
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.name, err.msg)
		return
	}
	rows := s.rows(lq)
	total := len(rows)
	start := min((lq.page-1)*lq.size, total)
	rows = rows[start:min(start+lq.size, total)]
	data := make([]object, 0, len(rows))
	for _, v := range rows {
		data = append(data, s.render(v, lq.populate))
	}
	p := object{{"page", lq.page}, {"pageSize", lq.size}}
	if lq.withCount {
		p = append(p, kv{"pageCount", (total + lq.size - 1) / lq.size}, kv{"total", total})
	}
	s.writeList(w, data, p)
}

// writeList answers a list route: the rows themselves in v3, else under
// data, with pagination in meta.
func (s *Server) writeList(w http.ResponseWriter, data []object, pagination object) {
	if s.version == 3 {
		writeJSON(w, http.StatusOK, data)
		return
	}
	writeJSON(w, http.StatusOK, object{{"data", data}, {"meta", object{{"pagination", pagination}}}})
}
