package tokenengine

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// InternalDB is the database whose system.tokens table lists tokens.
const InternalDB = "_internal"

// hashPrefixLen is how much of the digest system.tokens shows, as on InfluxDB 3.
const hashPrefixLen = 9

// querySQLBody is the POST form of /api/v3/query_sql.
type querySQLBody struct {
	DB     string          `json:"db"`
	Q      string          `json:"q"`
	Format string          `json:"format"`
	Params json.RawMessage `json:"params"`
}

func (e *Engine) handleQuerySQL(w http.ResponseWriter, r *http.Request) {
	caller := e.authenticate(w, r)
	if caller == nil {
		return
	}
	qp := r.URL.Query()
	in := querySQLBody{DB: qp.Get("db"), Q: qp.Get("q"), Format: qp.Get("format")}
	if r.Method == http.MethodPost {
		body, ok := readJSONBody(w, r)
		if !ok {
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := decodeStrict(body, &in); err != nil {
				writeJSONError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
	}
	switch {
	case in.DB == "":
		writeJSONError(w, http.StatusBadRequest, "missing parameter db")
		return
	case in.DB != InternalDB:
		writeJSONError(w, http.StatusNotFound, "database not found: this token engine serves only "+InternalDB)
		return
	case !caller.Admin:
		writeJSONError(w, http.StatusForbidden, msgForbidden)
		return
	case in.Q == "":
		writeJSONError(w, http.StatusBadRequest, "missing parameter q")
		return
	case in.Format != "" && in.Format != "json" && in.Format != "jsonl":
		writeJSONError(w, http.StatusBadRequest, "this token engine answers only format=json or format=jsonl")
		return
	}
	query, err := parseTokenQuery(in.Q)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	rows := e.tokenRows(query)
	var buf bytes.Buffer
	if in.Format == "jsonl" {
		for _, row := range rows {
			buf.Write(row)
			buf.WriteByte('\n')
		}
		w.Header().Set("Content-Type", "application/jsonl")
	} else {
		buf.WriteByte('[')
		for i, row := range rows {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(row)
		}
		buf.WriteByte(']')
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// tokenRows evaluates q over the index and returns each row as a JSON object with the selected
// columns in order; null values are left out, as arrow-json does.
func (e *Engine) tokenRows(q *tokenQuery) [][]byte {
	recs := e.tokens.list()
	type row struct {
		vals map[string]*string
		num  map[string]bool
	}
	var rows []row
	for _, rec := range recs {
		vals, num := columnValues(rec)
		if matchesAll(q.filters, vals) {
			rows = append(rows, row{vals, num})
		}
	}
	if q.orderBy != "" {
		c := q.orderBy
		slices.SortStableFunc(rows, func(a, b row) int {
			res := compareValues(a.vals[c], b.vals[c], a.num[c])
			if q.desc {
				return -res
			}
			return res
		})
	}
	if q.limit >= 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	out := make([][]byte, len(rows))
	for i, rw := range rows {
		var b bytes.Buffer
		b.WriteByte('{')
		first := true
		for _, c := range q.columns {
			v := rw.vals[c]
			if v == nil {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			k, _ := json.Marshal(c)
			b.Write(k)
			b.WriteByte(':')
			if rw.num[c] {
				b.WriteString(*v)
			} else {
				s, _ := json.Marshal(*v)
				b.Write(s)
			}
		}
		b.WriteByte('}')
		out[i] = b.Bytes()
	}
	return out
}

// columnValues renders a record as system.tokens columns; nil is SQL NULL and num marks numbers.
func columnValues(r *Record) (map[string]*string, map[string]bool) {
	str := func(s string) *string { return &s }
	u := func(p *uint64) *string {
		if p == nil {
			return nil
		}
		return str(strconv.FormatUint(*p, 10))
	}
	vals := map[string]*string{
		"token_id":            str(strconv.FormatUint(r.ID, 10)),
		"name":                str(r.Name),
		"hash":                str(r.Digest.Hex()[:hashPrefixLen]),
		"created_at":          str(r.CreatedAt.UTC().Format(TimeFormat)),
		"description":         nil,
		"created_by_token_id": u(r.CreatedByTokenID),
		"updated_by_token_id": u(r.UpdatedByTokenID),
		"permissions":         str(formatPermissions(r.Admin, r.Permissions)),
	}
	if r.UpdatedAt != nil {
		vals["updated_at"] = str(r.UpdatedAt.UTC().Format(TimeFormat))
	}
	if r.Expiry != nil {
		vals["expiry"] = str(r.Expiry.UTC().Format(TimeFormat))
	}
	num := map[string]bool{"token_id": true, "created_by_token_id": true, "updated_by_token_id": true}
	return vals, num
}

func matchesAll(fs []filter, vals map[string]*string) bool {
	for _, f := range fs {
		v := vals[f.column]
		var ok bool
		switch f.op {
		case "is null":
			ok = v == nil
		case "is not null":
			ok = v != nil
		case "=":
			ok = v != nil && *v == f.value
		case "!=":
			ok = v != nil && *v != f.value
		case "like":
			ok = v != nil && likeMatch(f.value, *v)
		case "not like":
			ok = v != nil && !likeMatch(f.value, *v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// compareValues orders NULLs last, numbers numerically and strings bytewise.
func compareValues(a, b *string, numeric bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	case numeric:
		x, _ := strconv.ParseUint(*a, 10, 64)
		y, _ := strconv.ParseUint(*b, 10, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(*a, *b)
}
