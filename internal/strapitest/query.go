package strapitest

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// value is one field value with SQL-ish ordering: null < numbers < text.
type value struct {
	null bool
	num  bool
	n    int64
	s    string
}

func textValue(s string) value { return value{s: s} }

// intValue reads an integer column: text that is not an integer stays
// text, as SQLite keeps it.
func intValue(s string) value {
	if s == "" {
		return value{null: true}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return value{num: true, n: n}
	}
	return value{s: s}
}

func (v value) text() string {
	if v.num {
		return strconv.FormatInt(v.n, 10)
	}
	return v.s
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

type kind int

const (
	kindInt kind = iota
	kindText
)

// scalarKind reports whether name is a scalar attribute in the version's
// spelling, and its type.
func (s *Server) scalarKind(name string) (kind, bool) {
	switch name {
	case "id", "customer_id":
		return kindInt, true
	case "display_name", "avatar":
		return kindText, true
	case "worker":
		return kindText, s.extras
	case "documentId":
		return kindText, s.version == 5
	case "createdAt", "updatedAt", "publishedAt":
		return kindText, s.version != 3
	case "created_at", "updated_at", "published_at":
		return kindText, s.version == 3
	}
	return 0, false
}

// componentFields returns a component's sub-fields.
func (s *Server) componentFields(name string) ([]string, bool) {
	switch name {
	case "channels":
		return []string{"type", "value"}, true
	case "links":
		return []string{"type", "value", "display_name"}, s.extras
	case "details":
		return []string{"title", "content"}, s.extras
	}
	return nil, false
}

// values returns the row's values of field (sub set for a component).
func (v view) values(field, sub string) []value {
	switch field {
	case "id":
		return []value{{num: true, n: int64(v.id)}}
	case "customer_id":
		return []value{intValue(v.c.ID)}
	case "documentId":
		return []value{textValue(v.docID)}
	case "display_name":
		return []value{nullable(v.c.DisplayName)}
	case "avatar":
		return []value{nullable(v.c.Avatar)}
	case "worker":
		return []value{nullable(v.c.Worker)}
	case "createdAt", "created_at":
		return []value{timeValue(v.created)}
	case "updatedAt", "updated_at":
		return []value{timeValue(v.updated)}
	case "publishedAt", "published_at":
		return []value{timeValue(v.pubAt)}
	case "channels":
		out := make([]value, 0, len(v.c.Channels))
		for _, ch := range v.c.Channels {
			out = append(out, nullable(map[string]string{"type": ch.Type, "value": ch.Value}[sub]))
		}
		return out
	case "links":
		out := make([]value, 0, len(v.c.Links))
		for _, l := range v.c.Links {
			out = append(out, nullable(map[string]string{"type": l.Type, "value": l.Value, "display_name": l.DisplayName}[sub]))
		}
		return out
	case "details":
		if v.c.Details == nil {
			return nil
		}
		return []value{nullable(map[string]string{"title": v.c.Details.Title, "content": v.c.Details.Content}[sub])}
	}
	return nil
}

func nullable(s string) value {
	if s == "" {
		return value{null: true}
	}
	return textValue(s)
}

func timeValue(t time.Time) value {
	if t.IsZero() {
		return value{null: true}
	}
	return textValue(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// cond is one filter; a row must match all of them.
type cond struct {
	field, sub string
	kind       kind
	op         string // $eq, $gt… (v3 suffixes are translated)
	args       []string
}

var operators = map[string]bool{
	"$eq": true, "$eqi": true, "$ne": true, "$lt": true, "$lte": true, "$gt": true, "$gte": true,
	"$in": true, "$notIn": true, "$null": true, "$notNull": true, "$contains": true,
	"$containsi": true, "$notContains": true, "$startsWith": true, "$endsWith": true,
}

func truthy(s string) bool { return s == "true" || s == "1" || s == "t" }

func (c cond) match(v view) bool {
	vals := v.values(c.field, c.sub)
	var nonNull []value
	for _, x := range vals {
		if !x.null {
			nonNull = append(nonNull, x)
		}
	}
	arg := ""
	if len(c.args) > 0 {
		arg = c.args[0]
	}
	switch c.op {
	case "$null":
		return truthy(arg) == (len(nonNull) == 0)
	case "$notNull":
		return truthy(arg) == (len(nonNull) > 0)
	}
	parse := func(a string) value {
		if c.kind == kindInt {
			return intValue(a)
		}
		return textValue(a)
	}
	// A component matches when any of its rows does, as the SQL join does.
	for _, x := range nonNull {
		a := parse(arg)
		var ok bool
		switch c.op {
		case "$eq":
			ok = compareValues(x, a) == 0
		case "$eqi":
			ok = strings.EqualFold(x.text(), arg)
		case "$ne":
			ok = compareValues(x, a) != 0
		case "$lt":
			ok = compareValues(x, a) < 0
		case "$lte":
			ok = compareValues(x, a) <= 0
		case "$gt":
			ok = compareValues(x, a) > 0
		case "$gte":
			ok = compareValues(x, a) >= 0
		case "$in", "$notIn":
			in := slices.ContainsFunc(c.args, func(a string) bool { return compareValues(x, parse(a)) == 0 })
			ok = in == (c.op == "$in")
		case "$contains":
			ok = strings.Contains(x.text(), arg)
		case "$containsi":
			ok = strings.Contains(strings.ToLower(x.text()), strings.ToLower(arg))
		case "$notContains":
			ok = !strings.Contains(x.text(), arg)
		case "$startsWith":
			ok = strings.HasPrefix(x.text(), arg)
		case "$endsWith":
			ok = strings.HasSuffix(x.text(), arg)
		}
		if ok {
			return true
		}
	}
	return false
}

type sortKey struct {
	field string
	desc  bool
}

// listQuery is a parsed content-API query.
type listQuery struct {
	conds      []cond
	sort       []sortKey
	offsetMode bool
	page, size int // page mode
	start      int // offset mode
	limit      int // offset mode; -1 = all
	withCount  bool
	populate   map[string]bool
	fields     map[string]bool // nil = all
	drafts     bool
}

// apiError is a 400 in the version's shape.
type apiError struct {
	name, msg string
}

func invalidKey(k string) *apiError { return &apiError{"ValidationError", "Invalid key " + k} }

// splitKey splits "filters[channels][value][$in][0]" into "filters" and
// its bracketed parts.
func splitKey(k string) (root string, parts []string, ok bool) {
	i := strings.IndexByte(k, '[')
	if i < 0 {
		return k, nil, true
	}
	root, rest := k[:i], k[i:]
	for rest != "" {
		j := strings.IndexByte(rest, ']')
		if rest[0] != '[' || j < 0 {
			return "", nil, false
		}
		parts = append(parts, rest[1:j])
		rest = rest[j+1:]
	}
	return root, parts, true
}

func isIndex(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0
}

// parse reads a v4/v5 query strictly, as rest.strictParams does: any
// unknown key, field, operator or component is a 400.
func (s *Server) parse(q url.Values) (listQuery, *apiError) {
	lq := listQuery{withCount: true, populate: map[string]bool{}}
	var (
		hasPage, hasOffset bool
		sorts              = map[int]string{}
		// Array operators come as one key per element; they merge into one
		// condition.
		condAt = map[string]int{}
	)
	for _, k := range slices.Sorted(mapKeys(q)) {
		vals := q[k]
		val := vals[0]
		root, parts, ok := splitKey(k)
		if !ok {
			return lq, invalidKey(k)
		}
		switch root {
		case "pagination":
			if len(parts) != 1 {
				return lq, invalidKey(k)
			}
			if parts[0] == "withCount" {
				if val != "true" && val != "false" {
					return lq, &apiError{"ValidationError", "Invalid withCount parameter"}
				}
				lq.withCount = val == "true"
				continue
			}
			n, err := strconv.Atoi(val)
			if err != nil {
				return lq, &apiError{"PaginationError", fmt.Sprintf("Invalid '%s' parameter. Expected an integer, received: %s", parts[0], val)}
			}
			switch parts[0] {
			case "page":
				hasPage, lq.page = true, n
			case "pageSize":
				hasPage, lq.size = true, n
			case "start":
				hasOffset, lq.start = true, n
			case "limit":
				hasOffset, lq.limit = true, n
			default:
				return lq, invalidKey(parts[0])
			}
		case "sort":
			switch {
			case len(parts) == 0:
				sorts[-1] = val
			case len(parts) == 1 && isIndex(parts[0]):
				n, _ := strconv.Atoi(parts[0])
				sorts[n] = val
			default:
				return lq, invalidKey(k)
			}
		case "filters":
			c, err := s.parseFilter(parts)
			if err != nil {
				return lq, err
			}
			id := c.field + "." + c.sub + "." + c.op
			if i, ok := condAt[id]; ok {
				lq.conds[i].args = append(lq.conds[i].args, vals...)
				continue
			}
			c.args = slices.Clone(vals)
			condAt[id] = len(lq.conds)
			lq.conds = append(lq.conds, c)
		case "populate":
			var names []string
			switch {
			case len(parts) == 0:
				names = strings.Split(val, ",")
			case len(parts) == 1 && isIndex(parts[0]):
				names = []string{val}
			case len(parts) == 1:
				names = []string{parts[0]}
			default:
				return lq, invalidKey(k)
			}
			for _, n := range names {
				n = strings.TrimSpace(n)
				if n == "*" {
					for c := range s.allComponents() {
						lq.populate[c] = true
					}
					continue
				}
				if _, ok := s.componentFields(n); !ok {
					return lq, invalidKey(n)
				}
				lq.populate[n] = true
			}
		case "fields":
			var names []string
			switch {
			case len(parts) == 0:
				names = strings.Split(val, ",")
			case len(parts) == 1 && isIndex(parts[0]):
				names = []string{val}
			default:
				return lq, invalidKey(k)
			}
			if lq.fields == nil {
				lq.fields = map[string]bool{}
			}
			for _, n := range names {
				n = strings.TrimSpace(n)
				if _, ok := s.scalarKind(n); !ok {
					return lq, invalidKey(n)
				}
				lq.fields[n] = true
			}
		case "status":
			if s.version != 5 || len(parts) != 0 || val != "published" && val != "draft" {
				return lq, invalidKey(k)
			}
			lq.drafts = val == "draft"
		case "publicationState":
			if s.version != 4 || len(parts) != 0 || val != "live" && val != "preview" {
				return lq, invalidKey(k)
			}
			lq.drafts = val == "preview"
		default:
			return lq, invalidKey(k)
		}
	}
	for _, i := range slices.Sorted(mapKeys(sorts)) {
		for _, spec := range strings.Split(sorts[i], ",") {
			sk, err := s.parseSort(spec, "asc", "desc")
			if err != nil {
				return lq, err
			}
			lq.sort = append(lq.sort, sk)
		}
	}
	if hasPage && hasOffset {
		return lq, &apiError{"PaginationError", "Cannot use both page & offset pagination in the same query"}
	}
	if hasOffset {
		lq.offsetMode = true
		if _, ok := q["pagination[limit]"]; !ok {
			lq.limit = s.defaultLimit
		}
		if lq.start < 0 || lq.limit < 1 && lq.limit != -1 {
			return lq, &apiError{"PaginationError", "Invalid pagination parameters"}
		}
		switch {
		case lq.limit == -1 && s.version == 5:
			// Strapi 5.54 answered one row to limit=-1 (strapi.md §4).
			lq.limit = 1
		case lq.limit == -1:
			lq.limit = s.maxLimit
		case s.maxLimit > 0 && lq.limit > s.maxLimit:
			lq.limit = s.maxLimit
		}
		return lq, nil
	}
	if _, ok := q["pagination[page]"]; !ok {
		lq.page = 1
	}
	if _, ok := q["pagination[pageSize]"]; !ok {
		lq.size = s.defaultLimit
	}
	if lq.page < 1 || lq.size < 1 {
		return lq, &apiError{"PaginationError", "Invalid pagination parameters"}
	}
	if s.maxLimit > 0 && lq.size > s.maxLimit {
		lq.size = s.maxLimit // silently, as Strapi does
	}
	return lq, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// parseFilter reads the parts after "filters": [field], [field, op],
// [field, $in, i], [component, sub, op] and [component, sub, $in, i].
func (s *Server) parseFilter(parts []string) (cond, *apiError) {
	if len(parts) == 0 {
		return cond{}, invalidKey("filters")
	}
	c := cond{field: parts[0], kind: kindText}
	if strings.HasPrefix(c.field, "$") {
		return cond{}, &apiError{"ValidationError", "strapitest: logical operator " + c.field + " is not supported"}
	}
	rest := parts[1:]
	if subs, ok := s.componentFields(c.field); ok {
		if len(rest) == 0 || !slices.Contains(subs, rest[0]) {
			sub := c.field
			if len(rest) > 0 {
				sub = rest[0]
			}
			return cond{}, invalidKey(sub)
		}
		c.sub, rest = rest[0], rest[1:]
	} else if k, ok := s.scalarKind(c.field); ok {
		c.kind = k
	} else {
		return cond{}, invalidKey(c.field)
	}
	switch {
	case len(rest) == 0:
		c.op = "$eq"
	case len(rest) == 1 || len(rest) == 2 && (rest[0] == "$in" || rest[0] == "$notIn") && isIndex(rest[1]):
		c.op = rest[0]
	default:
		return cond{}, invalidKey(strings.Join(rest, "."))
	}
	if !operators[c.op] {
		return cond{}, invalidKey(c.op)
	}
	return c, nil
}

func (s *Server) parseSort(spec, asc, desc string) (sortKey, *apiError) {
	field, dir, _ := strings.Cut(strings.TrimSpace(spec), ":")
	if _, ok := s.scalarKind(field); !ok {
		return sortKey{}, invalidKey(field)
	}
	switch strings.ToLower(dir) {
	case "", strings.ToLower(asc):
		return sortKey{field: field}, nil
	case strings.ToLower(desc):
		return sortKey{field: field, desc: true}, nil
	}
	return sortKey{}, &apiError{"ValidationError", "Invalid sort direction " + dir}
}

// v3Ops maps v3's filter suffixes to operators.
var v3Ops = map[string]string{
	"eq": "$eq", "ne": "$ne", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte",
	"in": "$in", "nin": "$notIn", "contains": "$contains", "containsi": "$containsi",
	"ncontains": "$notContains", "null": "$null",
}

// parse3 reads a v3 query: _start, _limit, _sort, _publicationState and
// field filters such as customer_id_gt=5 or channels.value_in=….
func (s *Server) parse3(q url.Values) (listQuery, *apiError) {
	lq := listQuery{offsetMode: true, limit: s.defaultLimit}
	for _, k := range slices.Sorted(mapKeys(q)) {
		vals := q[k]
		val := vals[0]
		switch k {
		case "_start", "_limit":
			n, err := strconv.Atoi(val)
			if err != nil {
				return lq, &apiError{"Bad Request", fmt.Sprintf("%s must be an integer", k)}
			}
			if k == "_start" {
				lq.start = n
			} else {
				lq.limit = n
			}
			continue
		case "_sort":
			for _, spec := range strings.Split(val, ",") {
				sk, err := s.parseSort(spec, "ASC", "DESC")
				if err != nil {
					return lq, err
				}
				lq.sort = append(lq.sort, sk)
			}
			continue
		case "_publicationState":
			if val != "live" && val != "preview" {
				return lq, &apiError{"Bad Request", "Invalid publicationState"}
			}
			lq.drafts = val == "preview"
			continue
		}
		if strings.HasPrefix(k, "_") {
			return lq, &apiError{"Bad Request", "strapitest: unsupported parameter " + k}
		}
		name, op := k, "$eq"
		if i := strings.LastIndexByte(k, '_'); i > 0 {
			if o, ok := v3Ops[k[i+1:]]; ok {
				name, op = k[:i], o
			}
		}
		c := cond{field: name, kind: kindText, op: op, args: slices.Clone(vals)}
		if comp, sub, ok := strings.Cut(name, "."); ok {
			subs, isComp := s.componentFields(comp)
			if !isComp || !slices.Contains(subs, sub) {
				return lq, &apiError{"Bad Request", "Your filters contain a field '" + name + "' that doesn't appear on your model definition nor its relations"}
			}
			c.field, c.sub = comp, sub
		} else if kd, ok := s.scalarKind(name); ok {
			c.kind = kd
		} else {
			return lq, &apiError{"Bad Request", "Your filters contain a field '" + name + "' that doesn't appear on your model definition nor its relations"}
		}
		lq.conds = append(lq.conds, c)
	}
	if lq.start < 0 || lq.limit < 1 && lq.limit != -1 {
		return lq, &apiError{"Bad Request", "Invalid _start or _limit"}
	}
	if lq.limit == -1 || s.maxLimit > 0 && lq.limit > s.maxLimit {
		lq.limit = s.maxLimit // 0 = everything
	}
	return lq, nil
}

// view is entry().view(), or draftEntry().view() if draft, sharing the
// components instead of copying them: views live under s.mu only.
func (r *record) view(draft bool) view {
	v := view{id: r.id, docID: r.docID, c: r.c, created: r.created, updated: r.updated, pubAt: r.pubAt}
	if draft || !r.published && r.docID != "" {
		v.id = r.draftID
	}
	if draft {
		v.pubAt = time.Time{}
	}
	return v
}

// views returns the rows a query sees that keep accepts (all if nil), in
// default (row id) order.
func (s *Server) views(drafts bool, keep func(view) bool) []view {
	out := make([]view, 0, len(s.records))
	for _, r := range s.records {
		var v view
		switch {
		case s.version == 5 && drafts:
			v = r.view(true)
		case r.published || drafts:
			v = r.view(false)
		default:
			continue
		}
		if keep == nil || keep(v) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b view) int { return cmp.Compare(a.id, b.id) })
	return out
}

// query runs lq and returns the page and the total.
func (s *Server) query(lq listQuery) (page []view, total int) {
	rows := s.views(lq.drafts, func(v view) bool {
		return !slices.ContainsFunc(lq.conds, func(c cond) bool { return !c.match(v) })
	})
	if len(lq.sort) > 0 {
		// Sort positions by keys computed once: rows are large to move and
		// values allocates, which made a 100k-row listing take a second.
		nk := len(lq.sort)
		keys := make([]value, len(rows)*nk)
		order := make([]int, len(rows))
		for i, v := range rows {
			order[i] = i
			for j, k := range lq.sort {
				keys[i*nk+j] = v.values(k.field, "")[0]
			}
		}
		slices.SortStableFunc(order, func(a, b int) int {
			for j, k := range lq.sort {
				c := compareValues(keys[a*nk+j], keys[b*nk+j])
				if k.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		start, end := lq.window(len(rows))
		page = make([]view, 0, end-start)
		for _, o := range order[start:end] {
			page = append(page, rows[o])
		}
		return page, len(rows)
	}
	start, end := lq.window(len(rows))
	return rows[start:end], len(rows)
}

// window returns the bounds of the requested page among total rows.
func (lq listQuery) window(total int) (start, end int) {
	start, n := lq.start, lq.limit
	if !lq.offsetMode {
		start, n = (lq.page-1)*lq.size, lq.size
	}
	start = min(start, total)
	end = total
	if n > 0 && start+n < end {
		end = start + n
	}
	return start, end
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == 3 {
		lq, err := s.parse3(r.URL.Query())
		if err != nil {
			s.writeError(w, http.StatusBadRequest, err.name, err.msg)
			return
		}
		rows, _ := s.query(lq)
		out := make([]object, 0, len(rows))
		for _, v := range rows {
			out = append(out, s.render(v, nil, nil))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	lq, err := s.parse(r.URL.Query())
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.name, err.msg)
		return
	}
	rows, total := s.query(lq)
	data := make([]object, 0, len(rows))
	for _, v := range rows {
		data = append(data, s.render(v, lq.populate, lq.fields))
	}
	var p object
	if lq.offsetMode {
		p = object{{"start", lq.start}, {"limit", lq.limit}}
		if lq.withCount {
			p = append(p, kv{"total", total})
		}
	} else {
		p = object{{"page", lq.page}, {"pageSize", lq.size}}
		if lq.withCount {
			p = append(p, kv{"pageCount", pageCount(total, lq.size)}, kv{"total", total})
		}
	}
	writeJSON(w, http.StatusOK, object{{"data", data}, {"meta", object{{"pagination", p}}}})
}

func (s *Server) count(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lq, err := s.parse3(r.URL.Query())
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.name, err.msg)
		return
	}
	lq.start, lq.limit = 0, 0
	_, total := s.query(lq)
	writeJSON(w, http.StatusOK, total)
}

// one answers GET /:id (v3/v4) or /:documentId (v5; a numeric id is 404).
func (s *Server) one(w http.ResponseWriter, r *http.Request, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lq listQuery
	var err *apiError
	if s.version == 3 {
		lq, err = s.parse3(r.URL.Query())
	} else {
		lq, err = s.parse(r.URL.Query())
	}
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.name, err.msg)
		return
	}
	for _, v := range s.views(lq.drafts, nil) {
		if s.version == 5 && v.docID != key || s.version != 5 && strconv.Itoa(v.id) != key {
			continue
		}
		if s.version == 3 {
			writeJSON(w, http.StatusOK, s.render(v, nil, nil))
			return
		}
		writeJSON(w, http.StatusOK, object{{"data", s.render(v, lq.populate, lq.fields)}, {"meta", object{}}})
		return
	}
	s.writeError(w, http.StatusNotFound, "NotFoundError", "Not Found")
}
