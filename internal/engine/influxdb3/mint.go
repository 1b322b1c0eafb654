package influxdb3

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// The two names of a permission's resource list (docs/engines/facts.md §1): the official spec's,
// sent first, and the one InfluxDB's how-to pages and the server's internal type use. Which one
// a closed-source Enterprise build parses cannot be checked here, so a refusal that names either
// field is retried once with the other, and the answer is remembered per engine client.
const (
	FieldResourceNames      = "resource_names"
	FieldResourceIdentifier = "resource_identifier"
)

// permission carries exactly one of the two field names (Validate guarantees names).
type permission struct {
	ResourceType       engine.ResourceType `json:"resource_type"`
	ResourceNames      []string            `json:"resource_names,omitempty"`
	ResourceIdentifier []string            `json:"resource_identifier,omitempty"`
	Actions            []engine.Action     `json:"actions"`
}

type createTokenRequest struct {
	TokenName   string       `json:"token_name"`
	Permissions []permission `json:"permissions"`
	// ExpirySecs is omitted for "never": 0 would mint an already expired token (docs/engines/facts.md §1).
	ExpirySecs *int64 `json:"expiry_secs,omitempty"`
}

// tokenObject is the 201 body, CreateTokenWithPermissionsResponse in the server source. The
// Enterprise spec's ResourceTokenObject repeats the request shape instead; the server and docs
// return the token object, so that is what we decode.
type tokenObject struct {
	ID        flexID    `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	CreatedAt timestamp `json:"created_at"`
	Expiry    timestamp `json:"expiry"`
}

// expirySecs rounds ttl up to whole seconds, at least 1, or returns nil for no expiry.
func expirySecs(ttl time.Duration) *int64 {
	if ttl <= 0 {
		return nil
	}
	s := int64((ttl + time.Second - 1) / time.Second)
	return &s
}

// newCreateTokenRequest builds the create body with field as the resource list's name.
func newCreateTokenRequest(req engine.MintRequest, field string) createTokenRequest {
	body := createTokenRequest{TokenName: req.Name, ExpirySecs: expirySecs(req.TTL)}
	for _, p := range req.Permissions {
		perm := permission{ResourceType: p.Type, ResourceNames: p.Names, Actions: p.Actions}
		if field == FieldResourceIdentifier {
			perm.ResourceNames, perm.ResourceIdentifier = nil, p.Names
		}
		body.Permissions = append(body.Permissions, perm)
	}
	return body
}

// fieldRefusals are serde's refusals of a body by a resource list's field name, as axum's Json
// extractor reports them (400 "missing field `resource_identifier`", 422 with
// deny_unknown_fields "unknown field `resource_names`"). Only these mean that the engine parses
// the other name: a refusal that merely mentions a field (a bad value in resource_names) does not.
var fieldRefusals = [][]byte{
	[]byte("missing field `" + FieldResourceNames + "`"),
	[]byte("missing field `" + FieldResourceIdentifier + "`"),
	[]byte("unknown field `" + FieldResourceNames + "`"),
	[]byte("unknown field `" + FieldResourceIdentifier + "`"),
}

// otherField returns the field to retry with when resp refuses the body because of field: a
// 400 or 422 with one of fieldRefusals, else "". Such a refusal created nothing, so sending the
// create again cannot leak a token (docs/design.md §3 step 3).
func otherField(resp *httpapi.Response, field string) string {
	if resp.Status != http.StatusBadRequest && resp.Status != http.StatusUnprocessableEntity {
		return ""
	}
	if !slices.ContainsFunc(fieldRefusals, func(r []byte) bool { return bytes.Contains(resp.Body, r) }) {
		return ""
	}
	if field == FieldResourceIdentifier {
		return FieldResourceNames
	}
	return FieldResourceIdentifier
}

// parsedBody reports whether resp shows that the engine deserialized the create body: it
// created the token, or refused its name as a duplicate (a check made on the parsed body).
// Other answers (401, 429, 5xx) say nothing about the field, so the choice is not kept on them.
func parsedBody(resp *httpapi.Response) bool {
	return resp.OK() || resp.Status == http.StatusConflict
}

// Mint creates a resource token. The request is not retried: if its response is lost, the next
// attempt gets a Conflict and the caller revokes and mints again (docs/design.md §3).
func (c *Client) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	if err := req.Validate(); err != nil {
		return engine.Minted{}, err
	}
	field := c.permissionField()
	resp, err := c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: PathCreateToken, Body: newCreateTokenRequest(req, field)})
	if err != nil {
		return engine.Minted{}, err
	}
	if other := otherField(resp, field); other != "" {
		resp, err = c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: PathCreateToken, Body: newCreateTokenRequest(req, other)})
		if err != nil {
			return engine.Minted{}, err
		}
		if parsedBody(resp) {
			c.setPermissionField(other)
		}
	}
	what := "minting token " + strconv.Quote(req.Name)
	if !resp.OK() {
		return engine.Minted{}, mintError(resp, what, req)
	}
	var obj tokenObject
	if err := json.Unmarshal(resp.Body, &obj); err != nil || obj.Token == "" {
		// The token may exist now but we cannot use it; the retry's Conflict path cleans it up.
		return engine.Minted{}, resp.Unreadable(what, "a readable token")
	}
	created := obj.CreatedAt.orNow()
	expires := obj.Expiry.ptr()
	if secs := expirySecs(req.TTL); expires == nil && secs != nil {
		// A server that omits the expiry it applied: report what we asked for, so that the
		// operator still revokes on time.
		expires = engine.ExpiresAt(created, time.Duration(*secs)*time.Second)
	}
	name := obj.Name
	if name == "" {
		name = req.Name
	}
	return engine.Minted{Name: name, ID: string(obj.ID), Token: engine.Plaintext(obj.Token), CreatedAt: created, ExpiresAt: expires}, nil
}

func mintError(resp *httpapi.Response, what string, req engine.MintRequest) error {
	// A missing database may come back as 400, 404 or (Core's permission-parse mapping) 500, so
	// the body decides before the status does.
	if resp.Status != http.StatusConflict && engine.MentionsUnknownDatabase(resp.Body) {
		e := engine.DatabaseNotFound(req.Name, engine.Databases(req.Permissions))
		e.Message += ": " + resp.Describe()
		return e
	}
	if resp.Status == http.StatusNotFound {
		return resp.Errorf(engine.Permanent, "%s: the engine has no resource-token API (InfluxDB 3 Core has none; use Enterprise or the in-cluster engine)", what)
	}
	return resp.DefaultError(what)
}
