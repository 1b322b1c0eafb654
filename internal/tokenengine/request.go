package tokenengine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes caps every request body; token requests are a few hundred bytes.
const MaxBodyBytes = 64 << 10

// maxExpirySecs bounds expiry_secs (100 years) so that creation time plus expiry never overflows.
const maxExpirySecs = 100 * 365 * 24 * 3600

// maxPermissions bounds the permissions of one token.
const maxPermissions = 100

// maxTokenNameBytes bounds token names; the real server has no limit, but nothing needs more.
const maxTokenNameBytes = 512

// AdminTokenName is the name of the operator token; it cannot be deleted and regenerate targets it.
const AdminTokenName = "_admin"

// CreateRequest is the body of POST /api/v3/enterprise/configure/token.
type CreateRequest struct {
	TokenName   string       `json:"token_name"`
	Permissions []Permission `json:"permissions"`
	// ExpirySecs nil means the token never expires.
	ExpirySecs *int64 `json:"expiry_secs"`
}

// NamedAdminRequest is the body of POST /api/v3/configure/token/named_admin.
type NamedAdminRequest struct {
	TokenName  string `json:"token_name"`
	ExpirySecs *int64 `json:"expiry_secs"`
}

// wirePermission accepts both the wire name resource_names and the older documented
// resource_identifier, which the seed documents and older docs use.
type wirePermission struct {
	ResourceType       string   `json:"resource_type"`
	ResourceNames      []string `json:"resource_names"`
	ResourceIdentifier []string `json:"resource_identifier"`
	Actions            []string `json:"actions"`
}

type wireCreateRequest struct {
	TokenName   *string          `json:"token_name"`
	Permissions []wirePermission `json:"permissions"`
	ExpirySecs  *int64           `json:"expiry_secs"`
}

// DecodeCreateRequest parses and validates a resource-token request. Errors are meant to be shown
// to a person as they are.
func DecodeCreateRequest(body []byte) (*CreateRequest, error) {
	var w wireCreateRequest
	if err := decodeStrict(body, &w); err != nil {
		return nil, err
	}
	if w.TokenName == nil {
		return nil, errors.New("missing field token_name")
	}
	if w.Permissions == nil {
		return nil, errors.New("missing field permissions")
	}
	req := &CreateRequest{TokenName: *w.TokenName, ExpirySecs: w.ExpirySecs}
	if err := validateTokenName(req.TokenName); err != nil {
		return nil, err
	}
	if err := validateExpiry(req.ExpirySecs); err != nil {
		return nil, err
	}
	if len(w.Permissions) == 0 {
		return nil, errors.New("permissions must contain at least one permission")
	}
	if len(w.Permissions) > maxPermissions {
		return nil, fmt.Errorf("permissions has %d entries, at most %d are allowed", len(w.Permissions), maxPermissions)
	}
	for i, wp := range w.Permissions {
		names := wp.ResourceNames
		switch {
		case wp.ResourceNames != nil && wp.ResourceIdentifier != nil:
			return nil, fmt.Errorf("permissions[%d]: give resource_names or its old name resource_identifier, not both", i)
		case wp.ResourceNames == nil && wp.ResourceIdentifier != nil:
			names = wp.ResourceIdentifier
		case wp.ResourceNames == nil:
			return nil, fmt.Errorf("permissions[%d]: missing field resource_names", i)
		}
		p := Permission{ResourceType: wp.ResourceType, Names: names, Actions: wp.Actions}
		if err := p.validate(i); err != nil {
			return nil, err
		}
		req.Permissions = append(req.Permissions, p)
	}
	return req, nil
}

// DecodeNamedAdminRequest parses and validates a named admin token request.
func DecodeNamedAdminRequest(body []byte) (*NamedAdminRequest, error) {
	var w struct {
		TokenName  *string `json:"token_name"`
		ExpirySecs *int64  `json:"expiry_secs"`
	}
	if err := decodeStrict(body, &w); err != nil {
		return nil, err
	}
	if w.TokenName == nil {
		return nil, errors.New("missing field token_name")
	}
	if err := validateTokenName(*w.TokenName); err != nil {
		return nil, err
	}
	if err := validateExpiry(w.ExpirySecs); err != nil {
		return nil, err
	}
	return &NamedAdminRequest{TokenName: *w.TokenName, ExpirySecs: w.ExpirySecs}, nil
}

// decodeStrict decodes exactly one JSON object, refusing unknown fields and trailing data, and
// rewrites encoding/json's messages into ones that do not need Go to understand.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("request body has data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Errorf("request body must be a JSON object, not %s", jsonKind(typ.Value))
		}
		return fmt.Errorf("field %s has the wrong type: got %s, want %s", field, jsonKind(typ.Value), jsonTypeName(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("request body is truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errors.New("request body has an unknown field: a resource token takes token_name, permissions (resource_type, resource_names, actions) and expiry_secs; a named admin token takes token_name and expiry_secs")
	default:
		return errors.New("request body is not valid for this endpoint")
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int64", "int", "uint64":
		return "an integer"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return kind
	}
}

// validateTokenName allows what the real server allows (any unique name, spaces and slashes
// included) except names that cannot be shown or typed: empty, over-long, invalid UTF-8 or with
// control characters.
func validateTokenName(n string) error {
	switch {
	case n == "":
		return errors.New("token_name must not be empty")
	case len(n) > maxTokenNameBytes:
		return fmt.Errorf("token_name is %d bytes long, at most %d are allowed", len(n), maxTokenNameBytes)
	case !utf8.ValidString(n):
		return errors.New("token_name is not valid UTF-8")
	case hasControl(n):
		return errors.New("token_name must not contain control characters")
	case strings.TrimSpace(n) != n:
		return errors.New("token_name must not start or end with white space")
	}
	return nil
}

// validateExpiry refuses expiry_secs <= 0: the real server would create a token that is already
// expired, which is never what a caller means.
func validateExpiry(secs *int64) error {
	if secs == nil {
		return nil
	}
	if *secs <= 0 {
		return fmt.Errorf("expiry_secs must be a positive number of seconds (got %d); omit it or send null for a token that never expires", *secs)
	}
	if *secs > maxExpirySecs {
		return fmt.Errorf("expiry_secs %d is more than 100 years; omit it for a token that never expires", *secs)
	}
	return nil
}

// jsonKind is the kind of a JSON value as encoding/json describes it ("number 1.5" → "number"),
// without the value: error bodies never echo request content (issue 16).
func jsonKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	return kind
}
