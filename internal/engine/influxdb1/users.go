package influxdb1

import (
	"context"
	"strconv"
	"strings"

	"github.com/tokenops/token-operator/internal/engine"
)

// user is one row of SHOW USERS.
type user struct {
	name  string
	admin bool
}

func (u user) info() engine.TokenInfo {
	// 1.x keeps no creation time for users, and users never expire.
	return engine.TokenInfo{Name: u.name, ID: u.name}
}

// users runs SHOW USERS. It needs admin privileges, so it also proves the credentials work.
func (c *Client) users(ctx context.Context, what string) ([]user, error) {
	results, err := c.run(ctx, query{what: what, statements: []string{showUsers}, idempotent: true})
	if err != nil {
		return nil, err
	}
	if msg := statementError(results); msg != "" {
		return nil, failed(what, msg, nil)
	}
	var out []user
	for _, r := range results {
		for _, s := range r.Series {
			iu, ia := column(s.Columns, "user"), column(s.Columns, "admin")
			for _, row := range s.Values {
				u := user{name: cell[string](row, iu)}
				u.admin = cell[bool](row, ia)
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func column(columns []string, name string) int {
	for i, c := range columns {
		if c == name {
			return i
		}
	}
	return -1
}

func cell[T any](row []any, i int) T {
	var zero T
	if i < 0 || i >= len(row) {
		return zero
	}
	v, _ := row[i].(T)
	return v
}

// tokenUser returns the non-admin user named name. Admin users are never tokens this adapter
// minted, so they are invisible to Lookup and List and refused by Revoke.
func (c *Client) tokenUser(ctx context.Context, what, name string) (user, bool, error) {
	us, err := c.users(ctx, what)
	if err != nil {
		return user{}, false, err
	}
	for _, u := range us {
		if u.name == name {
			return u, true, nil
		}
	}
	return user{}, false, nil
}

// Lookup returns the user named name.
func (c *Client) Lookup(ctx context.Context, name string) (engine.TokenInfo, error) {
	what := "looking up token " + strconv.Quote(name)
	u, ok, err := c.tokenUser(ctx, what, name)
	switch {
	case err != nil:
		return engine.TokenInfo{}, err
	case !ok || u.admin:
		return engine.TokenInfo{}, engine.NotFoundErrorf("%s: no such user", what)
	}
	return u.info(), nil
}

// List returns every non-admin user whose name starts with prefix.
func (c *Client) List(ctx context.Context, prefix string) ([]engine.TokenInfo, error) {
	us, err := c.users(ctx, "listing tokens with prefix "+strconv.Quote(prefix))
	if err != nil {
		return nil, err
	}
	infos := []engine.TokenInfo{}
	for _, u := range us {
		if !u.admin && strings.HasPrefix(u.name, prefix) {
			infos = append(infos, u.info())
		}
	}
	return infos, nil
}

// Revoke drops the user named name (a user's name is its id); a user that does not exist is
// success. An admin user is never dropped: it cannot be a token, and it may be the adapter's own.
func (c *Client) Revoke(ctx context.Context, name, _ string) error {
	what := "revoking token " + strconv.Quote(name)
	u, ok, err := c.tokenUser(ctx, what, name)
	switch {
	case err != nil:
		return err
	case !ok:
		return nil
	case u.admin:
		return engine.PermanentErrorf("%s: %q is an admin user, not a token; refusing to drop it", what, name)
	}
	return c.drop(ctx, name)
}

// drop sets a random password and then drops the user; a user that is already gone is success.
// A dropped user fails authentication at once (docs/engines/facts.md §4), but 1.x servers keep a cache of
// passwords that DROP USER does not clear and SET PASSWORD does: without the SET PASSWORD, a
// user created again under the same name (the Conflict path of a mint) would still accept the
// old password until the server restarts. Seen on 1.6.7.
func (c *Client) drop(ctx context.Context, name string) error {
	what := "dropping user " + strconv.Quote(name)
	scramble, err := newPassword()
	if err != nil {
		return err
	}
	results, err := c.run(ctx, query{
		what:       what,
		statements: []string{setPassword(name, scramble), dropUser(name)},
		idempotent: true,
		secrets:    []string{scramble.Reveal()},
	})
	if err != nil {
		return err
	}
	if msg := statementError(results); msg != "" && !strings.Contains(msg, "user not found") {
		return failed(what, msg, []string{scramble.Reveal()})
	}
	return nil
}

// Check runs SHOW USERS: the server is reachable and the credentials are an admin's.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.users(ctx, "checking the engine")
	return err
}
