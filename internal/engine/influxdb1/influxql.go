package influxdb1

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// QuoteIdent quotes an InfluxQL identifier as influxql.QuoteIdent does: double quotes, with
// backslash, double quote and newline escaped. Names are user-controlled, so every identifier
// is quoted.
func QuoteIdent(s string) string {
	return `"` + strings.NewReplacer("\n", `\n`, `\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// QuoteString quotes an InfluxQL string literal (passwords) as influxql.QuoteString does.
func QuoteString(s string) string {
	return `'` + strings.NewReplacer("\n", `\n`, `\`, `\\`, `'`, `\'`).Replace(s) + `'`
}

func createUser(name string, password engine.Plaintext) string {
	return "CREATE USER " + QuoteIdent(name) + " WITH PASSWORD " + QuoteString(password.Reveal())
}

func setPassword(name string, password engine.Plaintext) string {
	return "SET PASSWORD FOR " + QuoteIdent(name) + " = " + QuoteString(password.Reveal())
}

func dropUser(name string) string { return "DROP USER " + QuoteIdent(name) }

// showUsers lists users with the columns user and admin.
const showUsers = "SHOW USERS"

// grant is one database's privilege: READ, WRITE or ALL. GRANT replaces the privilege a user
// has on a database rather than adding to it, so read plus write must be one GRANT ALL.
type grant struct {
	database  string
	privilege string
}

func (g grant) statement(user string) string {
	return fmt.Sprintf("GRANT %s ON %s TO %s", g.privilege, QuoteIdent(g.database), QuoteIdent(user))
}

// grants translates permissions into one grant per database, in name order. System resources
// and the wildcard have no 1.x equivalent and are Permanent errors.
func grants(req engine.MintRequest) ([]grant, error) {
	actions := map[string]map[engine.Action]bool{}
	for _, p := range req.Permissions {
		if p.Type != engine.ResourceDatabase {
			return nil, engine.PermanentErrorf("token %q: InfluxDB 1.x users cannot be granted %s resources; system tokens need InfluxDB 3 Enterprise or the in-cluster token engine", req.Name, p.Type).WithReason(tokensv1.ReasonUnsupported)
		}
		for _, db := range p.Names {
			if db == engine.Wildcard {
				return nil, engine.PermanentErrorf("token %q: InfluxDB 1.x has no grant on all databases (%q); list the databases by name", req.Name, engine.Wildcard).WithReason(tokensv1.ReasonUnsupported)
			}
			if actions[db] == nil {
				actions[db] = map[engine.Action]bool{}
			}
			for _, a := range p.Actions {
				actions[db][a] = true
			}
		}
	}
	var out []grant
	for db, a := range actions {
		g := grant{database: db, privilege: "READ"}
		switch {
		case a[engine.ActionRead] && a[engine.ActionWrite]:
			g.privilege = "ALL"
		case a[engine.ActionWrite]:
			g.privilege = "WRITE"
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b grant) int { return strings.Compare(a.database, b.database) })
	return out, nil
}

// validUsername refuses names that break the credential forms clients use: a colon splits
// "user:password" (Basic and the Token header), white space splits the Token header.
func validUsername(name string) error {
	if i := strings.IndexFunc(name, func(r rune) bool { return r == ':' || r <= ' ' || r == 0x7f }); i >= 0 {
		return engine.PermanentErrorf("token %q: InfluxDB 1.x usernames must not contain %s (the username is the token name)", name, strconv.QuoteRune(rune(name[i])))
	}
	return nil
}
