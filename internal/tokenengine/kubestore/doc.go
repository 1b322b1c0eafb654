// Package kubestore is the token engine's store over the Kubernetes API, for several replicas:
// one EngineToken (api/enginestore/v1alpha1, group store.tokenops.dev) per token in the engine's
// namespace, named from the token name so that a duplicate is AlreadyExists (409). Reads are
// served from an in-memory index by digest that a client-go informer keeps current; writes go to
// the API server with preconditions (UID, resourceVersion) and are applied to the local index at
// once, so a replica reads its own writes and the others see them through their watch
// (docs/token-engine.md, "Stores" and "Replicas").
//
// Fail closed: Ready reports an error until the first list is applied and whenever the watch has
// been broken for longer than Config.MaxWatchGap; the engine then answers 503. A broken watch
// never resurrects a deleted token: the index only changes on events and on this replica's own
// successful writes, and a delete is remembered (by UID) until the watch confirms it.
package kubestore
