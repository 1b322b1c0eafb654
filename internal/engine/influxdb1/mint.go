package influxdb1

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
)

// Secret keys the minted credentials carry besides token.
const (
	// SecretKeyUsername holds the username (the engine-side name).
	SecretKeyUsername = "username"
	// SecretKeyPassword holds the random password.
	SecretKeyPassword = "password"
)

// passwordBytes is how much randomness a password holds; base64url keeps it free of spaces and
// colons, which would break the Token header and Basic credentials.
const passwordBytes = 64

// cleanupTimeout bounds dropping a user whose grants failed, whatever the caller's context.
const cleanupTimeout = 10 * time.Second

func newPassword() (engine.Plaintext, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", engine.Errorf("generating a password: %v", err)
	}
	return engine.Plaintext(base64.RawURLEncoding.EncodeToString(b)), nil
}

// Mint creates a user named req.Name with a random password and grants it the databases. An
// existing user of that name is a Conflict. If a grant fails, the user is dropped again, so that
// a refused mint leaves nothing behind.
func (c *Client) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	if err := req.Validate(); err != nil {
		return engine.Minted{}, err
	}
	if err := validUsername(req.Name); err != nil {
		return engine.Minted{}, err
	}
	gs, err := grants(req)
	if err != nil {
		return engine.Minted{}, err
	}
	password, err := newPassword()
	if err != nil {
		return engine.Minted{}, err
	}
	secrets := []string{password.Reveal()}
	what := "minting token " + strconv.Quote(req.Name)
	results, err := c.run(ctx, query{what: what, statements: []string{createUser(req.Name, password)}, secrets: secrets})
	if err != nil {
		return engine.Minted{}, err
	}
	created := time.Now().UTC()
	switch msg := statementError(results); {
	case msg == "":
	case strings.Contains(msg, "user already exists"):
		return engine.Minted{}, engine.ConflictErrorf("%s: a user of that name already exists", what)
	default:
		return engine.Minted{}, failed(what, msg, secrets)
	}
	if err := c.grant(ctx, what, req, gs); err != nil {
		return engine.Minted{}, errors.Join(err, c.dropAfterFailure(req.Name))
	}
	return engine.Minted{
		Name:  req.Name,
		ID:    req.Name,
		Token: engine.Plaintext(req.Name + ":" + password.Reveal()),
		SecretData: map[string]engine.Plaintext{
			SecretKeyUsername: engine.Plaintext(req.Name),
			SecretKeyPassword: password,
		},
		CreatedAt: created,
	}, nil
}

// grant runs every GRANT of a new user in one request.
func (c *Client) grant(ctx context.Context, what string, req engine.MintRequest, gs []grant) error {
	statements := make([]string, len(gs))
	for i, g := range gs {
		statements[i] = g.statement(req.Name)
	}
	results, err := c.run(ctx, query{what: what + ": granting databases", statements: statements})
	if err != nil {
		return err
	}
	if msg := statementError(results); msg != "" {
		if engine.MentionsUnknownDatabase([]byte(msg)) {
			e := engine.DatabaseNotFound(req.Name, engine.Databases(req.Permissions))
			e.Message += ": " + msg
			return e
		}
		return failed(what+": granting databases", msg, nil)
	}
	if len(results) < len(statements) {
		return engine.Errorf("%s: the server answered %d of %d grants", what, len(results), len(statements))
	}
	return nil
}

// dropAfterFailure drops a user whose grants failed; nil when it is gone.
func (c *Client) dropAfterFailure(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := c.drop(ctx, name); err != nil {
		return engine.Errorf("dropping user %q after the failed grant (the next mint's Conflict path removes it)", name).WithCause(err)
	}
	return nil
}
