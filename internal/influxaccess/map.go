package influxaccess

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Resource types and actions, spelled as InfluxDB 3 Enterprise permissions are.
const (
	// ResourceDB is a database.
	ResourceDB = "db"
	// ResourceSystem is a system endpoint (health, metrics, ping, ready).
	ResourceSystem = "system"
	// ActionRead is a query, or reading a system endpoint.
	ActionRead = "read"
	// ActionWrite is a write of points.
	ActionWrite = "write"
)

// InfluxDB paths the package maps; any other path needs an admin token.
const (
	PathV3Write      = "/api/v3/write_lp"
	PathV3QuerySQL   = "/api/v3/query_sql"
	PathV3InfluxQL   = "/api/v3/query_influxql"
	PathV2Write      = "/api/v2/write"
	PathV2Query      = "/api/v2/query"
	PathV1Write      = "/write"
	PathV1Query      = "/query"
	PathHealth       = "/health"
	PathV1Health     = "/api/v1/health"
	PathPing         = "/ping"
	PathReady        = "/ready"
	PathMetrics      = "/metrics"
	contentTypeForm  = "application/x-www-form-urlencoded"
	contentTypeMulti = "multipart/form-data"
)

// checkedParams are the parameters that must appear at most once: servers disagree on which copy
// of a repeated one wins (Go's FormValue takes the first, serde refuses duplicates).
var checkedParams = []string{"db", "bucket", "q", "p", "u", "rp", "params", "org", "orgID"}

// Permission is one thing a token must grant.
type Permission struct {
	ResourceType string
	Name         string
	Action       string
}

// Need is what a request needs. An admin token may send any request.
type Need struct {
	// Admin: only an admin token may send the request (unmapped paths, statements that change
	// anything but points, statements that span databases).
	Admin bool
	// Permissions must all be granted.
	Permissions []Permission
	// Hidden, when not empty, says why the request's target cannot be known: it is in a body the
	// caller did not see. Only an admin token may send it.
	Hidden string
}

// Request is the original request, as the gateway or the proxy saw it.
type Request struct {
	Method string
	// Path is the path exactly as sent (still escaped), without the query string.
	Path string
	// RawQuery is the query string as sent, without '?'.
	RawQuery    string
	ContentType string
	// Body is the whole body when BodyKnown; a caller that did not see the body leaves both unset.
	Body      []byte
	BodyKnown bool
}

// NeedsBody reports whether Map reads the body of a request with this method and path: the POST
// forms of the query endpoints, where InfluxDB takes the database and the statement from the body.
func NeedsBody(method, path string) bool {
	if method != http.MethodPost {
		return false
	}
	switch path {
	case PathV3QuerySQL, PathV3InfluxQL, PathV1Query:
		return true
	}
	return false
}

// Map works out what r needs. An *Error is a request that cannot be mapped (answer 400).
func Map(r Request) (Need, error) {
	q, err := parseParams(r.RawQuery, "query string")
	if err != nil {
		return Need{}, err
	}
	switch {
	case r.Method == http.MethodPost && r.Path == PathV3Write:
		return writeNeed(q, "db", false)
	case r.Method == http.MethodPost && r.Path == PathV1Write:
		return writeNeed(q, "db", true)
	case r.Method == http.MethodPost && r.Path == PathV2Write:
		return writeNeed(q, "bucket", false)
	case (r.Method == http.MethodGet || r.Method == http.MethodPost) && (r.Path == PathV3QuerySQL || r.Path == PathV3InfluxQL):
		return v3QueryNeed(r, q)
	case (r.Method == http.MethodGet || r.Method == http.MethodPost) && r.Path == PathV1Query:
		return v1QueryNeed(r, q)
	}
	if res := systemResource(r.Method, r.Path); res != "" {
		return Need{Permissions: []Permission{{ResourceSystem, res, ActionRead}}}, nil
	}
	return Need{Admin: true}, nil
}

// systemResource is the system resource a method and path read, or "".
func systemResource(method, path string) string {
	switch {
	case method == http.MethodGet && (path == PathHealth || path == PathV1Health):
		return "health"
	case (method == http.MethodGet || method == http.MethodPost) && path == PathPing:
		return "ping"
	case method == http.MethodGet && path == PathReady:
		return "ready"
	case method == http.MethodGet && path == PathMetrics:
		return "metrics"
	}
	return ""
}

// parseParams parses a query string or form body strictly: malformed escapes, ';' separators and
// repeated checked parameters are errors.
func parseParams(raw, where string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errorf("the %s is malformed", where)
	}
	for _, k := range checkedParams {
		if len(v[k]) > 1 {
			return nil, errorf("parameter %s appears more than once in the %s", k, where)
		}
	}
	return v, nil
}

// writeNeed maps the write endpoints: the target is in the query string, the body is points.
// v1 writes compose db and rp (InfluxDB 3 writes to the database "db/rp"); v2's bucket may be
// "db/rp" (InfluxDB 1.x splits it, InfluxDB 3 uses the whole name).
func writeNeed(q url.Values, param string, withRP bool) (Need, error) {
	target := q.Get(param)
	if target == "" {
		return Need{}, errorf("a write needs the %s parameter", param)
	}
	var names []string
	switch {
	case withRP:
		names = dbrpNames(target, q.Get("rp"))
	case param == "bucket":
		db, rp, _ := strings.Cut(target, "/")
		names = appendUnique(dbrpNames(db, rp), target)
	default:
		names = []string{target}
	}
	return databasesNeed(names, ActionWrite), nil
}

// dbrpNames are the database names a db and retention policy pair can address: db on InfluxDB
// 1.x, "db/rp" on InfluxDB 3 (rp as given, and lower-cased as its v1 write does) unless rp is
// empty, autogen or default.
func dbrpNames(db, rp string) []string {
	names := []string{db}
	switch strings.ToLower(rp) {
	case "", "''", "autogen", "default":
		return names
	}
	return appendUnique(appendUnique(names, db+"/"+rp), db+"/"+strings.ToLower(rp))
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func databasesNeed(names []string, action string) Need {
	var n Need
	for _, name := range names {
		n.Permissions = append(n.Permissions, Permission{ResourceDB, name, action})
	}
	return n
}

// merge adds o's permissions to n.
func (n *Need) merge(o Need) {
	n.Admin = n.Admin || o.Admin
	for _, p := range o.Permissions {
		if !slices.Contains(n.Permissions, p) {
			n.Permissions = append(n.Permissions, p)
		}
	}
}
