// Package fake is an in-memory token engine for controller tests. It behaves like the InfluxDB 3
// token API as the contract suite (internal/engine/enginetest) specifies it, which it passes:
// unique names (Conflict), idempotent Revoke, metadata-only Lookup and List, expiry enforced
// against an injected clock, random apiv3_ tokens, and an Accepts/Allows check that tells a test
// whether the token in a Secret is live and what it may do.
//
// Tests steer it with hooks: FailNext queues errors per operation, SetFailFunc decides per call,
// SetLatency delays every call, SetDown and SetUnauthorized simulate an unreachable engine and
// rejected credentials, LoseNextMintResponses mints but reports a failure (the lost-response
// path of docs/design.md §3), and WithDatabases makes unknown databases Pending. MintCount, RevokeCount,
// Calls and Live report what happened. Every method is safe for concurrent use.
package fake
