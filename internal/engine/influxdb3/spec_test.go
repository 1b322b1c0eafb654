package influxdb3_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/engine/spectest"
)

// specFile is the official spec, kept beside the repository (see its README for provenance).
const specFile = "influxdb3-enterprise.yml"

// specOptions validate the requests the adapter sends against the InfluxDB 3 Enterprise spec.
// Known spec deviations, each with its reason:
//   - GET /api/v3/query_sql: the spec copies the POST operation's required request body onto
//     GET; the server reads only the query parameters on GET, so the body is not validated.
//   - db=_internal is not a database a user creates, but the spec's db parameter is a plain
//     string, so nothing is lost; system.tokens exists only there (docs/engines/facts.md §1).
//   - Requests of the unreachable and wrong-credential cases are validated too: they never
//     succeed, but they must be as well-formed as the others.
//   - Responses are not validated here: the spec's 201 schema for resource tokens repeats the
//     request (docs/engines/facts.md §1); internal/tokenengine's spec test covers the engine's responses.
var specOptions = spectest.Options{
	Scheme:          httpapi.SchemeBearer,
	SkipRequestBody: func(r httpapi.RecordedRequest) bool { return r.Method == http.MethodGet },
	Want: []string{
		http.MethodPost + " " + influxdb3.PathCreateToken,
		http.MethodDelete + " " + influxdb3.PathDeleteToken,
		http.MethodGet + " " + influxdb3.PathQuerySQL,
	},
}

func validateAgainstSpec(t *testing.T, reqs []httpapi.RecordedRequest) {
	spectest.Check(t, specFile, reqs, specOptions)
}

// TestSpecValidatorRejects makes sure the conformance check can fail: the docs' old
// resource_identifier field and a DELETE without token_name are not what the spec allows.
func TestSpecValidatorRejects(t *testing.T) {
	spec := spectest.Load(t, specFile, specOptions)
	header := http.Header{"Authorization": {"Bearer x"}, "Content-Type": {"application/json"}}
	for name, rec := range map[string]httpapi.RecordedRequest{
		"resource_identifier": {Method: http.MethodPost, URL: mustURL(t, "http://h"+influxdb3.PathCreateToken), Header: header,
			Body: []byte(`{"token_name":"a","permissions":[{"resource_type":"db","resource_identifier":["x"],"actions":["read"]}]}`)},
		"no token_name": {Method: http.MethodDelete, URL: mustURL(t, "http://h"+influxdb3.PathDeleteToken), Header: header},
	} {
		if _, err := spec.Validate(rec); err == nil {
			t.Errorf("%s: the spec validator accepted it", name)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
