package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Engine types: the values of status.type, one per member of the EngineSpec union.
const (
	// EngineTypeInfluxDB3 is InfluxDB 3 Enterprise or the in-cluster token engine.
	EngineTypeInfluxDB3 = "influxdb3"
	// EngineTypeInfluxDB2 is an InfluxDB 2.x server.
	EngineTypeInfluxDB2 = "influxdb2"
	// EngineTypeCloudDedicated is an InfluxDB Cloud Dedicated cluster.
	EngineTypeCloudDedicated = "cloudDedicated"
	// EngineTypeInfluxDB1 is an InfluxDB 1.x server.
	EngineTypeInfluxDB1 = "influxdb1"
)

// GenericEngine is what ClusterTokenEngine and TokenEngine have in common, so that the engine
// reconciler, the client factory and the resolver are written once for both kinds (the same idea
// as cert-manager's GenericIssuer).
// +kubebuilder:object:generate=false
type GenericEngine interface {
	runtime.Object
	metav1.Object
	// EngineKind is ClusterTokenEngineKind or TokenEngineKind.
	EngineKind() EngineKind
	// GetEngineSpec returns the engine union of the spec.
	GetEngineSpec() *EngineSpec
	// GetEngineStatus returns the status, for reading and writing.
	GetEngineStatus() *EngineStatus
	// GetAllowedNamespaces returns who may use the engine; nil means no namespace for a
	// ClusterTokenEngine. A TokenEngine returns nil: it serves only its own namespace.
	GetAllowedNamespaces() *AllowedNamespaces
	// GetPolicy returns the engine's policy; nil means no limits.
	GetPolicy() *EnginePolicy
}

var (
	_ GenericEngine = (*ClusterTokenEngine)(nil)
	_ GenericEngine = (*TokenEngine)(nil)
)

// EngineKind implements GenericEngine.
func (e *ClusterTokenEngine) EngineKind() EngineKind { return ClusterTokenEngineKind }

// GetEngineSpec implements GenericEngine.
func (e *ClusterTokenEngine) GetEngineSpec() *EngineSpec { return &e.Spec.EngineSpec }

// GetEngineStatus implements GenericEngine.
func (e *ClusterTokenEngine) GetEngineStatus() *EngineStatus { return &e.Status }

// GetAllowedNamespaces implements GenericEngine.
func (e *ClusterTokenEngine) GetAllowedNamespaces() *AllowedNamespaces {
	return e.Spec.AllowedNamespaces
}

// GetPolicy implements GenericEngine.
func (e *ClusterTokenEngine) GetPolicy() *EnginePolicy { return e.Spec.Policy }

// EngineKind implements GenericEngine.
func (e *TokenEngine) EngineKind() EngineKind { return TokenEngineKind }

// GetEngineSpec implements GenericEngine.
func (e *TokenEngine) GetEngineSpec() *EngineSpec { return &e.Spec.EngineSpec }

// GetEngineStatus implements GenericEngine.
func (e *TokenEngine) GetEngineStatus() *EngineStatus { return &e.Status }

// GetAllowedNamespaces implements GenericEngine; a TokenEngine serves only its own namespace.
func (e *TokenEngine) GetAllowedNamespaces() *AllowedNamespaces { return nil }

// GetPolicy implements GenericEngine.
func (e *TokenEngine) GetPolicy() *EnginePolicy { return e.Spec.Policy }
