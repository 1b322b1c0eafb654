package influxaccess

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// hiddenBody is why a POST query cannot be checked without its body.
const hiddenBody = "the database and statement of a POST to this query endpoint are in the request body, " +
	"which this gateway does not forward to the token engine; send the query with GET and db and q in the " +
	"query string, forward the body (Envoy with_request_body, mode envoy-body), or put the token-operator " +
	"gateway proxy in front of InfluxDB"

// v3QueryNeed maps /api/v3/query_sql and /api/v3/query_influxql. InfluxDB 3 takes db, q and params
// from the query string on GET and from the JSON body only on POST.
func v3QueryNeed(r Request, q url.Values) (Need, error) {
	db, stmt, hasParams := q.Get("db"), q.Get("q"), q.Has("params")
	if r.Method == http.MethodPost {
		if !r.BodyKnown {
			return Need{Hidden: hiddenBody}, nil
		}
		body, err := decodeQueryBody(r.Body)
		if err != nil {
			return Need{}, err
		}
		for _, k := range []string{"db", "q", "params"} {
			if q.Has(k) && (k == "params" || q.Get(k) != body.values[k]) {
				return Need{}, errorf("parameter %s is in both the query string and the JSON body, which InfluxDB 3 ignores the query string for on POST", k)
			}
		}
		db, stmt, hasParams = body.values["db"], body.values["q"], body.hasParams
	}
	if stmt == "" {
		return Need{}, errorf("the query has no q")
	}
	if r.Path == PathV3QuerySQL {
		// SQL on InfluxDB 3 reads the one database named by db; it cannot change anything.
		if db == "" {
			return Need{}, errorf("a SQL query needs db")
		}
		return databasesNeed([]string{db}, ActionRead), nil
	}
	if hasParams {
		return Need{}, errorf("InfluxQL bound parameters (params) can name databases and are not supported through the gateway")
	}
	return influxQLNeed(stmt, db, "")
}

// v1QueryNeed maps v1 /query. InfluxDB 1.x reads db, q, rp, u and p with FormValue, which merges a
// URL-encoded POST body with the query string (a multipart body can carry q as a file).
func v1QueryNeed(r Request, q url.Values) (Need, error) {
	if r.Method == http.MethodPost {
		if !r.BodyKnown {
			return Need{Hidden: hiddenBody}, nil
		}
		if len(r.Body) > 0 {
			if mt, _, err := mime.ParseMediaType(r.ContentType); err != nil || mt != contentTypeForm {
				return Need{}, errorf("the body of POST %s must be a URL-encoded form (%s)", PathV1Query, contentTypeForm)
			}
			form, err := parseParams(string(r.Body), "form body")
			if err != nil {
				return Need{}, err
			}
			for _, k := range []string{"p", "u"} {
				if form.Has(k) {
					return Need{}, errorf("credentials in the form body (%s) are not supported; send the token in the Authorization header", k)
				}
			}
			for _, k := range checkedParams {
				if form.Has(k) && q.Has(k) {
					return Need{}, errorf("parameter %s is in both the query string and the form body", k)
				}
				if form.Has(k) {
					q.Set(k, form.Get(k))
				}
			}
		}
	}
	if q.Get("q") == "" {
		return Need{}, errorf("the query has no q")
	}
	if q.Has("params") {
		return Need{}, errorf("InfluxQL bound parameters (params) can name databases and are not supported through the gateway")
	}
	return influxQLNeed(q.Get("q"), q.Get("db"), q.Get("rp"))
}

// queryBody is the JSON body of a POST to the v3 query endpoints.
type queryBody struct {
	values    map[string]string
	hasParams bool
}

// decodeQueryBody reads {"db": …, "q": …, "format": …, "params": …} the way serde does for
// InfluxDB 3's QueryRequest: exact key names, a duplicated key is an error, db may be null.
func decodeQueryBody(b []byte) (queryBody, error) {
	out := queryBody{values: map[string]string{}}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return out, errorf("the body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return out, errorf("the body is not valid JSON")
		}
		if seen[key] {
			return out, errorf("key %s appears more than once in the JSON body", safeKey(key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out, errorf("the body is not valid JSON")
		}
		switch key {
		case "db", "q":
			var s *string
			if err := json.Unmarshal(raw, &s); err != nil {
				return out, errorf("%s in the JSON body must be a string", key)
			}
			if s != nil {
				out.values[key] = *s
			}
		case "params":
			out.hasParams = string(raw) != "null"
		}
	}
	if _, err := dec.Token(); err != nil {
		return out, errorf("the body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return out, errorf("the body has data after the JSON object")
	}
	return out, nil
}

// safeKey names a JSON key in a message only if it is one the server knows.
func safeKey(k string) string {
	switch k {
	case "db", "q", "format", "params":
		return k
	}
	return "(unknown)"
}
