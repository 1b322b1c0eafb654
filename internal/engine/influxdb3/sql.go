package influxdb3

import (
	"strings"
)

// tokenColumns are the system.tokens columns we read; never hash or permissions.
const tokenColumns = "SELECT token_id, name, created_at, expiry FROM system.tokens"

// sqlString quotes s as an SQL string literal, doubling single quotes. Token names are
// user-controlled (a namespace and a name), so nothing is ever spliced in unquoted.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// lookupQuery selects the token named name.
func lookupQuery(name string) string {
	return tokenColumns + " WHERE name = " + sqlString(name)
}

// listQuery selects at least every token whose name starts with prefix. LIKE treats % and _ as
// wildcards, and whether a backslash escapes them differs between servers, so the pattern uses
// only the prefix's literal part before the first metacharacter and the caller filters exactly
// on the client side. Our names (k8s.<namespace>.<name>.…) contain no metacharacter, so in
// practice the server does all the narrowing.
func listQuery(prefix string) string {
	literal := prefix
	if i := strings.IndexAny(prefix, `%_\`); i >= 0 {
		literal = prefix[:i]
	}
	if literal == "" {
		return tokenColumns
	}
	return tokenColumns + " WHERE name LIKE " + sqlString(literal+"%")
}
