package engine

import (
	"regexp"
	"strings"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

const (
	// DatabaseNotFoundRequeue is how long to wait before minting again after DatabaseNotFound.
	DatabaseNotFoundRequeue = 30 * time.Second
)

// DatabaseNotFound returns the Pending error for a mint refused because databases the token
// names do not exist yet: the user creates them, and the mint is retried.
func DatabaseNotFound(tokenName string, databases []string) *Error {
	e := PendingErrorf(DatabaseNotFoundRequeue,
		"minting token %q: the engine does not know database(s) %s yet; create the database first, minting is retried",
		tokenName, strings.Join(databases, ", "))
	// The API's reason: InfluxDB 3 stores permissions by database id, so it refuses a token for
	// a database it does not know yet.
	return e.WithReason(tokensv1.ReasonDatabaseNotFound)
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

// unknownDatabase matches the engines' refusals for a database that does not exist: InfluxDB 3's
// "invalid resource name", 1.x's "database not found: db", 2.x's `bucket "b" not found` and other
// wordings of database-not-found errors.
var unknownDatabase = regexp.MustCompile(`(?i)invalid resource name|database (\S+ )?(not found|does not exist)|(db|database) not found|unknown database|bucket (\S+ )?not found`)

// MentionsUnknownDatabase reports whether an engine's error text says a database does not exist.
func MentionsUnknownDatabase(text []byte) bool { return unknownDatabase.Match(text) }
