// Package tokenengine is the in-cluster token engine: an HTTP server that speaks the token API of
// InfluxDB 3 Enterprise (create, delete, regenerate, list via system.tokens) so the operator's
// influxdb3 adapter works against it unchanged, and that answers authorization questions for a
// gateway in front of a database (GET /api/v3/authorize, also usable as Envoy ext_authz, NGINX
// auth_request and Traefik ForwardAuth).
//
// Only SHA-512 digests of tokens are stored, in one bbolt file that is fsynced on every commit;
// the plaintext exists once, in the create response. Authorization is served from an in-memory
// digest index and never touches disk. Expiry is enforced here, independently of the operator.
//
// docs/token-engine.md lists where the engine deliberately differs from the real server.
package tokenengine
