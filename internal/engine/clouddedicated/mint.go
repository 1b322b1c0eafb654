package clouddedicated

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// maxDatabaseName is the longest database name the API accepts in a permission.
const maxDatabaseName = 64

type permission struct {
	Action   engine.Action `json:"action"`
	Resource string        `json:"resource"`
}

type createRequest struct {
	Description string       `json:"description"`
	Permissions []permission `json:"permissions"`
	ExpiresAt   *time.Time   `json:"expiresAt,omitempty"`
}

// expiresAt is now+ttl rounded up to the whole second (RFC 3339 seconds), or nil for no expiry.
func expiresAt(now time.Time, ttl time.Duration) *time.Time {
	if ttl <= 0 {
		return nil
	}
	t := now.Add(ttl)
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	t = t.UTC()
	return &t
}

// permissions translates req: one {action, resource} per database (or "*") and action.
func permissions(req engine.MintRequest) ([]permission, error) {
	var perms []permission
	for _, p := range req.Permissions {
		if p.Type != engine.ResourceDatabase {
			return nil, engine.PermanentErrorf("token %q: Cloud Dedicated database tokens cannot grant %s resources; system tokens need InfluxDB 3 Enterprise or the in-cluster token engine", req.Name, p.Type).WithReason(tokensv1.ReasonUnsupported)
		}
		for _, db := range p.Names {
			if len(db) > maxDatabaseName {
				return nil, engine.PermanentErrorf("token %q: database name %q is longer than Cloud Dedicated's %d characters", req.Name, db, maxDatabaseName)
			}
			for _, a := range p.Actions {
				if perm := (permission{Action: a, Resource: db}); !slices.Contains(perms, perm) {
					perms = append(perms, perm)
				}
			}
		}
	}
	return perms, nil
}

// Mint creates a database token described req.Name. Minted.Notice says that activation can
// take minutes.
func (c *Client) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	if err := req.Validate(); err != nil {
		return engine.Minted{}, err
	}
	perms, err := permissions(req)
	if err != nil {
		return engine.Minted{}, err
	}
	return c.DescribedTokens.Mint(ctx, req.Name, func(ctx context.Context) (engine.Minted, error) {
		body := createRequest{Description: req.Name, Permissions: perms, ExpiresAt: expiresAt(time.Now(), req.TTL)}
		return c.create(ctx, req, body)
	})
}

// create sends the POST; it is never retried (a lost answer is recovered by the Conflict path).
func (c *Client) create(ctx context.Context, req engine.MintRequest, body createRequest) (engine.Minted, error) {
	what := "minting token " + strconv.Quote(req.Name)
	resp, err := c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: c.tokens, Body: body})
	if err != nil {
		return engine.Minted{}, err
	}
	if !resp.OK() {
		if resp.Status != http.StatusConflict && engine.MentionsUnknownDatabase(resp.Body) {
			e := engine.DatabaseNotFound(req.Name, engine.Databases(req.Permissions))
			e.Message += ": " + resp.Describe()
			return engine.Minted{}, e
		}
		return engine.Minted{}, apiError(resp, what)
	}
	var t token
	if err := json.Unmarshal(resp.Body, &t); err != nil || t.AccessToken == "" || t.ID == "" {
		return engine.Minted{}, resp.Unreadable(what, "a readable token")
	}
	expires := t.ExpiresAt.Ptr()
	if expires == nil {
		expires = body.ExpiresAt // a server that does not echo it: report what we asked for
	}
	return engine.Minted{
		Name: req.Name, ID: t.ID, Token: engine.Plaintext(t.AccessToken),
		CreatedAt: t.CreatedAt.OrNow(), ExpiresAt: expires, Notice: ActivationNotice,
	}, nil
}
