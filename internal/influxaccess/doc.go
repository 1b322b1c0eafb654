// Package influxaccess maps an InfluxDB HTTP request (the v1, v2 and v3 APIs) to what a token needs
// to send it: actions on named databases, a system resource, or an admin token. It follows what
// InfluxDB 1.x and 3 execute, not what a request appears to ask for: InfluxQL is parsed
// (github.com/influxdata/influxql), the database of a POST query is taken from the body where the
// server takes it from, and duplicated parameters are refused because servers disagree on which
// copy wins.
//
// The token engine's forward-auth endpoints (internal/tokenengine) and the authorizing proxy
// (internal/gateway) both use Map and Credential, so they cannot disagree. docs/gateway.md records
// the facts about InfluxDB this package relies on.
package influxaccess
