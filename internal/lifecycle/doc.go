// Package lifecycle is the token lifecycle both token reconcilers share: the crash-safe mint
// protocol of docs/design.md §3, the Secret, expiry and revocation on deletion (docs/design.md §4).
//
// The reconcilers for DatabaseToken and SystemToken differ only in how they turn their spec into
// engine permissions (Kind.Permissions); everything else lives here, once.
//
// The shape follows Cluster API: Reconcile gets the object, ensures the finalizer, defers one
// status patch and runs reconcileDelete or reconcileNormal over a scope. What to do next is a
// pure function (Decide) of the status, the Secret and the time, table-tested on its own. Errors
// (engine, resolution, Kubernetes, Secret writes) are mapped to conditions, events and a requeue,
// backoff or terminal outcome by one pure function too (MapError, outcome.go).
//
// Every status write is a merge patch with a resourceVersion precondition: caches are stale and
// leader election gives no fencing, so a write based on an old view must fail rather than win.
package lifecycle
