// Package enginefactory turns an engine resource (ClusterTokenEngine or TokenEngine) and its
// credentials Secret into an engine.Engine. It holds the one switch over the EngineSpec union:
// each member maps to its adapter package here, wired explicitly rather than registered in init().
package enginefactory

import (
	"cmp"
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb1"
	"github.com/tokenops/token-operator/internal/engine/influxdb2"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
)

// Built is an engine client with its Description.
type Built struct {
	Description
	// Engine is the adapter client.
	Engine engine.Engine
	// SecretVersion is the resourceVersion of the credentials Secret the client was built from.
	SecretVersion string
}

// Factory builds engine clients. It reads credentials Secrets through Reader, which should be
// uncached: the manager caches only the Secrets the operator writes.
type Factory struct {
	// Reader reads credentials Secrets (the manager's API reader).
	Reader client.Reader
	// ManagerNamespace is where a ClusterTokenEngine's Secret reference points when it names no namespace.
	ManagerNamespace string
	// HTTP is the base HTTP configuration (timeouts, retries, test hooks); URL and TLS are
	// filled from the spec.
	HTTP httpapi.Config
}

// engineType is one member of the engine union: where it sits in the spec, what it says without
// building anything (Describe), and how its client is built (Build). Every engine type is one
// entry of engineTypes, so the two can never disagree.
type engineType struct {
	// Type is the tokensv1.EngineType* constant.
	Type string
	// SystemTokens is true where the engine has InfluxDB 3's system tokens.
	SystemTokens bool
	// member returns what the spec sets for this type, ok false when it sets another.
	member func(*tokensv1.EngineSpec) (m member, ok bool)
	// build makes the client from the member's HTTP settings and credentials; the credential
	// returned is the one the client was built from (for its Secret version and messages).
	build func(ctx context.Context, f *Factory, obj tokensv1.GenericEngine, cfg httpapi.Config, m member) (engine.Engine, credential, error)
}

// member is what one union member of an engine spec says.
type member struct {
	URL string
	// WorkloadURL is Cloud Dedicated's dataURL (describe uses URL for the other types).
	WorkloadURL string
	TLS         *tokensv1.TLSConfig
	// SecretNamespace and SecretName locate the credentials Secret (see SecretKey).
	SecretNamespace, SecretName string
	// spec is the typed member, for build.
	spec any
}

var engineTypes = []engineType{
	{Type: tokensv1.EngineTypeInfluxDB3, SystemTokens: true,
		member: func(s *tokensv1.EngineSpec) (member, bool) {
			if s.InfluxDB3 == nil {
				return member{}, false
			}
			ref := s.InfluxDB3.AdminTokenSecretRef
			return member{URL: string(s.InfluxDB3.URL), TLS: s.InfluxDB3.TLS, SecretNamespace: ref.Namespace, SecretName: ref.Name, spec: s.InfluxDB3}, true
		},
		build: withToken(func(m member) tokensv1.SecretKeySelector {
			return m.spec.(*tokensv1.InfluxDB3Engine).AdminTokenSecretRef
		},
			func(cfg httpapi.Config, _ member, token engine.Plaintext) (engine.Engine, error) {
				return influxdb3.New(cfg, token)
			})},
	{Type: tokensv1.EngineTypeInfluxDB2,
		member: func(s *tokensv1.EngineSpec) (member, bool) {
			if s.InfluxDB2 == nil {
				return member{}, false
			}
			ref := s.InfluxDB2.TokenSecretRef
			return member{URL: string(s.InfluxDB2.URL), TLS: s.InfluxDB2.TLS, SecretNamespace: ref.Namespace, SecretName: ref.Name, spec: s.InfluxDB2}, true
		},
		build: withToken(func(m member) tokensv1.SecretKeySelector { return m.spec.(*tokensv1.InfluxDB2Engine).TokenSecretRef },
			func(cfg httpapi.Config, m member, token engine.Plaintext) (engine.Engine, error) {
				return influxdb2.New(influxdb2.Config{Config: cfg, Org: m.spec.(*tokensv1.InfluxDB2Engine).Org, Token: token})
			})},
	// Cloud Dedicated: the client talks to the Management API; workloads reach the cluster at
	// dataURL, which is what templates get as .EngineURL (empty when not set).
	{Type: tokensv1.EngineTypeCloudDedicated,
		member: func(s *tokensv1.EngineSpec) (member, bool) {
			if s.CloudDedicated == nil {
				return member{}, false
			}
			ref := s.CloudDedicated.ManagementTokenSecretRef
			return member{URL: string(s.CloudDedicated.URL), WorkloadURL: string(s.CloudDedicated.DataURL), TLS: s.CloudDedicated.TLS,
				SecretNamespace: ref.Namespace, SecretName: ref.Name, spec: s.CloudDedicated}, true
		},
		build: withToken(func(m member) tokensv1.SecretKeySelector {
			return m.spec.(*tokensv1.CloudDedicatedEngine).ManagementTokenSecretRef
		}, func(cfg httpapi.Config, m member, token engine.Plaintext) (engine.Engine, error) {
			s := m.spec.(*tokensv1.CloudDedicatedEngine)
			return clouddedicated.New(clouddedicated.Config{Config: cfg, AccountID: s.AccountID, ClusterID: s.ClusterID, ManagementToken: token})
		})},
	// InfluxDB 1.x: the admin username and password from one Secret.
	{Type: tokensv1.EngineTypeInfluxDB1,
		member: func(s *tokensv1.EngineSpec) (member, bool) {
			if s.InfluxDB1 == nil {
				return member{}, false
			}
			ref := s.InfluxDB1.CredentialsSecretRef
			return member{URL: string(s.InfluxDB1.URL), TLS: s.InfluxDB1.TLS, SecretNamespace: ref.Namespace, SecretName: ref.Name, spec: s.InfluxDB1}, true
		},
		build: func(ctx context.Context, f *Factory, obj tokensv1.GenericEngine, cfg httpapi.Config, m member) (engine.Engine, credential, error) {
			ref := m.spec.(*tokensv1.InfluxDB1Engine).CredentialsSecretRef
			creds, err := f.readKeys(ctx, obj, ref.Namespace, ref.Name, cmp.Or(ref.UsernameKey, "username"), cmp.Or(ref.PasswordKey, "password"))
			if err != nil {
				return nil, credential{}, err
			}
			user, pass := creds[0], creds[1]
			c, err := influxdb1.New(influxdb1.Config{Config: cfg, Username: strings.TrimSpace(user.value),
				Password: engine.Plaintext(strings.TrimSpace(pass.value))})
			if engine.IsUnauthorized(err) {
				return nil, pass, engine.UnauthorizedErrorf("the admin username or password in %s is empty: put an InfluxDB 1.x admin user's credentials there", pass.where).
					WithReason(tokensv1.ReasonUnauthorized)
			}
			return c, pass, asBuildError(err, pass.where)
		}},
}

// withToken is the build of an engine authenticated by one token in one Secret key.
func withToken(ref func(member) tokensv1.SecretKeySelector, newClient func(httpapi.Config, member, engine.Plaintext) (engine.Engine, error)) func(context.Context, *Factory, tokensv1.GenericEngine, httpapi.Config, member) (engine.Engine, credential, error) {
	return func(ctx context.Context, f *Factory, obj tokensv1.GenericEngine, cfg httpapi.Config, m member) (engine.Engine, credential, error) {
		r := ref(m)
		cred, err := f.readKey(ctx, obj, r.Namespace, r.Name, r.Key)
		if err != nil {
			return nil, cred, err
		}
		// A trailing newline from `--from-file` is not part of the token; tokens hold no whitespace.
		c, err := newClient(cfg, m, engine.Plaintext(strings.TrimSpace(cred.value)))
		return c, cred, asBuildError(err, cred.where)
	}
}

// typeOf finds the member obj's spec sets.
func typeOf(spec *tokensv1.EngineSpec) (engineType, member, bool) {
	for _, t := range engineTypes {
		if m, ok := t.member(spec); ok {
			return t, m, true
		}
	}
	return engineType{}, member{}, false
}

// Build returns a client for obj. Errors are *engine.Error with Reason set to a condition reason:
// CredentialsNotFound, InvalidConfig or Unauthorized (permanent until the spec or Secret changes),
// or a transient error when the Secret could not be read.
func (f *Factory) Build(ctx context.Context, obj tokensv1.GenericEngine) (*Built, error) {
	t, m, ok := typeOf(obj.GetEngineSpec())
	if !ok {
		return nil, invalidConfig("the spec sets no engine: set exactly one of influxdb3, influxdb2, cloudDedicated or influxdb1")
	}
	c, cred, err := t.build(ctx, f, obj, f.httpConfig(m.URL, m.TLS), m)
	if err != nil {
		return nil, err
	}
	return &Built{Description: describe(t, m, obj, f.ManagerNamespace), Engine: c, SecretVersion: cred.version}, nil
}

// httpConfig is the factory's HTTP settings with the member's URL and TLS. httpapi checks them
// (a bad CA bundle is InvalidConfig there), so they are parsed once.
func (f *Factory) httpConfig(url string, t *tokensv1.TLSConfig) httpapi.Config {
	cfg := f.HTTP
	cfg.URL = url
	if t != nil {
		if t.CABundle != "" {
			cfg.CABundle = []byte(t.CABundle)
		}
		cfg.InsecureSkipVerify = t.InsecureSkipVerify
	}
	return cfg
}

// asBuildError gives an adapter constructor's error a condition reason, keeping the one the
// adapter gave.
func asBuildError(err error, where string) error {
	if err == nil || engine.ReasonOf(err) != "" {
		return err
	}
	switch engine.KindOf(err) {
	case engine.Unauthorized:
		return engine.UnauthorizedErrorf("the admin token in %s is empty: put the engine's admin token there", where).
			WithReason(tokensv1.ReasonUnauthorized)
	case engine.Permanent:
		return invalidConfig("the engine client cannot be built: %v", err)
	}
	return err
}

func invalidConfig(format string, args ...any) *engine.Error {
	return engine.PermanentErrorf(format, args...).WithReason(tokensv1.ReasonInvalidConfig)
}

// Description is what the spec says about an engine, known without building anything, so that
// status can show it even when no client can be built.
type Description struct {
	// Type is one of the tokensv1.EngineType* constants; empty when no member is set.
	Type string
	// URL is the engine's API URL.
	URL string
	// WorkloadURL is the address workloads use to reach the database (offered to templates as
	// .EngineURL): the API URL, or Cloud Dedicated's dataURL (empty when not set).
	WorkloadURL string
	// Secret is the credentials Secret, resolved as SecretKey does; empty Name when no member is set.
	Secret types.NamespacedName
	// SupportsSystemTokens is false for engines without InfluxDB 3's system tokens.
	SupportsSystemTokens bool
}

// Describe returns obj's Description; managerNamespace is where a ClusterTokenEngine's Secret
// reference points when it names no namespace.
func Describe(obj tokensv1.GenericEngine, managerNamespace string) Description {
	t, m, ok := typeOf(obj.GetEngineSpec())
	if !ok {
		return Description{}
	}
	return describe(t, m, obj, managerNamespace)
}

func describe(t engineType, m member, obj tokensv1.GenericEngine, managerNamespace string) Description {
	workloads := m.URL
	if t.Type == tokensv1.EngineTypeCloudDedicated {
		workloads = m.WorkloadURL
	}
	return Description{Type: t.Type, URL: m.URL, WorkloadURL: workloads, SupportsSystemTokens: t.SystemTokens,
		Secret: SecretKey(obj, m.SecretNamespace, m.SecretName, managerNamespace)}
}
