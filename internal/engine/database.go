package engine

import (
	"strings"
	"time"
)

const (
	// ReasonDatabaseNotFound is the condition reason when an engine refuses a token for a
	// database it does not know yet (InfluxDB 3 stores permissions by database id).
	ReasonDatabaseNotFound = "DatabaseNotFound"
	// DatabaseNotFoundRequeue is how long to wait before minting again after DatabaseNotFound.
	DatabaseNotFoundRequeue = 30 * time.Second
)

// DatabaseNotFound returns the Pending error for a mint refused because databases the token
// names do not exist yet: the user creates them, and the mint is retried.
func DatabaseNotFound(tokenName string, databases []string) *Error {
	e := PendingErrorf(DatabaseNotFoundRequeue,
		"minting token %q: the engine does not know database(s) %s yet; create the database first, minting is retried",
		tokenName, strings.Join(databases, ", "))
	return e.WithReason(ReasonDatabaseNotFound)
}

// Databases returns the database names the permissions mention, in order, wildcard included.
func Databases(perms []Permission) []string {
	var names []string
	for _, p := range perms {
		if p.Type == ResourceDatabase {
			names = append(names, p.Names...)
		}
	}
	return names
}
