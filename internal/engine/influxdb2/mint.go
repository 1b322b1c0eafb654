package influxdb2

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// bucketsType is the v2 resource type databases map to.
const bucketsType = "buckets"

// resource is a v2 permission's resource. Name is never sent: the OSS server ignores it, which
// would grant every bucket (docs/engines/facts.md §2).
type resource struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	OrgID string `json:"orgID,omitempty"`
}

type permission struct {
	Action   engine.Action `json:"action"`
	Resource resource      `json:"resource"`
}

type createRequest struct {
	OrgID       string       `json:"orgID"`
	Description string       `json:"description"`
	Status      string       `json:"status"`
	Permissions []permission `json:"permissions"`
}

// authorization is a v2 authorization as the server returns it; Token is set only in the
// create answer (2.9+ stores hashes only).
type authorization struct {
	ID          string            `json:"id"`
	Token       string            `json:"token"`
	Description string            `json:"description"`
	CreatedAt   httpapi.Timestamp `json:"createdAt"`
}

func (a authorization) info() engine.TokenInfo {
	return engine.TokenInfo{Name: a.Description, ID: a.ID, CreatedAt: a.CreatedAt.Time}
}

type bucket struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Mint creates an authorization described req.Name with one permission per bucket and action.
// Buckets are resolved to IDs first; a bucket that does not exist is a Pending DatabaseNotFound.
func (c *Client) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	if err := req.Validate(); err != nil {
		return engine.Minted{}, err
	}
	if err := refuseSystem(req); err != nil {
		return engine.Minted{}, err
	}
	orgID, err := c.resolveOrg(ctx)
	if err != nil {
		return engine.Minted{}, err
	}
	perms, err := c.permissions(ctx, req, orgID)
	if err != nil {
		return engine.Minted{}, err
	}
	body := createRequest{OrgID: orgID, Description: req.Name, Status: "active", Permissions: perms}
	return c.DescribedTokens.Mint(ctx, req.Name, func(ctx context.Context) (engine.Minted, error) {
		return c.create(ctx, req.Name, body)
	})
}

func refuseSystem(req engine.MintRequest) error {
	for _, p := range req.Permissions {
		if p.Type != engine.ResourceDatabase {
			return engine.PermanentErrorf("token %q: InfluxDB 2.x authorizations cannot grant %s resources; system tokens need InfluxDB 3 Enterprise or the in-cluster token engine", req.Name, p.Type).WithReason(tokensv1.ReasonUnsupported)
		}
	}
	return nil
}

// permissions translates req into v2 permissions: a bucket ID plus the org ID per named
// database, or the bucket type scoped to the org for the wildcard.
func (c *Client) permissions(ctx context.Context, req engine.MintRequest, orgID string) ([]permission, error) {
	var (
		perms   []permission
		missing []string
		ids     = map[string]string{}
	)
	for _, p := range req.Permissions {
		for _, name := range p.Names {
			r := resource{Type: bucketsType, OrgID: orgID}
			if name != engine.Wildcard {
				id, ok := ids[name]
				if !ok {
					var err error
					if id, err = c.bucketID(ctx, name, orgID); err != nil {
						return nil, err
					}
					ids[name] = id
					if id == "" {
						missing = append(missing, name)
					}
				}
				r.ID = id
			}
			for _, a := range p.Actions {
				if perm := (permission{Action: a, Resource: r}); !slices.Contains(perms, perm) {
					perms = append(perms, perm)
				}
			}
		}
	}
	if len(missing) > 0 {
		return nil, engine.DatabaseNotFound(req.Name, missing)
	}
	return perms, nil
}

// bucketID returns the ID of the bucket named name in the org, or "" when there is none.
func (c *Client) bucketID(ctx context.Context, name, orgID string) (string, error) {
	var body struct {
		Buckets []bucket `json:"buckets"`
	}
	resp, err := c.get(ctx, "resolving bucket "+strconv.Quote(name), PathBuckets, url.Values{"name": {name}, "orgID": {orgID}}, &body)
	if err != nil {
		if resp != nil && resp.Status == http.StatusNotFound {
			return "", nil
		}
		return "", err
	}
	for _, b := range body.Buckets {
		if b.Name == name {
			return b.ID, nil
		}
	}
	return "", nil
}

// create sends the POST; it is never retried (a lost answer is recovered by the Conflict path).
func (c *Client) create(ctx context.Context, name string, body createRequest) (engine.Minted, error) {
	what := "minting token " + strconv.Quote(name)
	resp, err := c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: PathAuthorizations, Body: body})
	if err != nil {
		return engine.Minted{}, err
	}
	if !resp.OK() {
		return engine.Minted{}, apiError(resp, what)
	}
	var a authorization
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.Token == "" || a.ID == "" {
		// The caller's Described check finds the authorization if it exists.
		return engine.Minted{}, resp.Unreadable(what, "a readable token")
	}
	return engine.Minted{Name: name, ID: a.ID, Token: engine.Plaintext(a.Token), CreatedAt: a.CreatedAt.OrNow()}, nil
}
