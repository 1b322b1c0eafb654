// Package enginefactory turns an engine resource (ClusterTokenEngine or TokenEngine) and its
// credentials Secret into an engine.Engine. It holds the one switch over the EngineSpec union:
// each member maps to its adapter package here, wired explicitly rather than registered in init().
package enginefactory

import (
	"cmp"
	"context"
	"crypto/x509"
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

// Built is an engine client together with what the controllers say about it.
type Built struct {
	// Engine is the adapter client.
	Engine engine.Engine
	// Type is the union member: one of the tokensv1.EngineType* constants.
	Type string
	// URL is the address workloads use to reach the database (offered to templates as .EngineURL).
	URL string
	// SupportsSystemTokens is false for engines without InfluxDB 3's system tokens.
	SupportsSystemTokens bool
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

// Build returns a client for obj. Errors are *engine.Error with Reason set to a condition reason:
// CredentialsNotFound, InvalidConfig or Unauthorized (permanent until the spec or Secret changes),
// or a transient error when the Secret could not be read.
func (f *Factory) Build(ctx context.Context, obj tokensv1.GenericEngine) (*Built, error) {
	spec := obj.GetEngineSpec()
	switch {
	case spec.InfluxDB3 != nil:
		return f.influxDB3(ctx, obj, spec.InfluxDB3)
	case spec.InfluxDB2 != nil:
		return f.influxDB2(ctx, obj, spec.InfluxDB2)
	case spec.CloudDedicated != nil:
		return f.cloudDedicated(ctx, obj, spec.CloudDedicated)
	case spec.InfluxDB1 != nil:
		return f.influxDB1(ctx, obj, spec.InfluxDB1)
	}
	return nil, invalidConfig("the spec sets no engine: set exactly one of influxdb3, influxdb2, cloudDedicated or influxdb1")
}

// tokenEngine validates the TLS settings and reads the one credential of an engine
// authenticated by a single token.
func (f *Factory) tokenEngine(ctx context.Context, obj tokensv1.GenericEngine, url string, t *tokensv1.TLSConfig, ref tokensv1.SecretKeySelector) (httpapi.Config, credential, error) {
	cfg, err := f.httpConfig(url, t)
	if err != nil {
		return cfg, credential{}, err
	}
	cred, err := f.readKey(ctx, obj, ref.Namespace, ref.Name, ref.Key)
	return cfg, cred, err
}

func (f *Factory) influxDB3(ctx context.Context, obj tokensv1.GenericEngine, s *tokensv1.InfluxDB3Engine) (*Built, error) {
	cfg, cred, err := f.tokenEngine(ctx, obj, string(s.URL), s.TLS, s.AdminTokenSecretRef)
	if err != nil {
		return nil, err
	}
	// A trailing newline from `--from-file` is not part of the token; tokens hold no whitespace.
	c, err := influxdb3.New(cfg, engine.Plaintext(strings.TrimSpace(cred.value)))
	return built(c, err, cred, tokensv1.EngineTypeInfluxDB3, string(s.URL))
}

func (f *Factory) influxDB2(ctx context.Context, obj tokensv1.GenericEngine, s *tokensv1.InfluxDB2Engine) (*Built, error) {
	cfg, cred, err := f.tokenEngine(ctx, obj, string(s.URL), s.TLS, s.TokenSecretRef)
	if err != nil {
		return nil, err
	}
	c, err := influxdb2.New(influxdb2.Config{Config: cfg, Org: s.Org, Token: engine.Plaintext(strings.TrimSpace(cred.value))})
	return built(c, err, cred, tokensv1.EngineTypeInfluxDB2, string(s.URL))
}

// cloudDedicated builds a Management API client; workloads reach the cluster at dataURL, which
// is what templates get as .EngineURL (empty when not set).
func (f *Factory) cloudDedicated(ctx context.Context, obj tokensv1.GenericEngine, s *tokensv1.CloudDedicatedEngine) (*Built, error) {
	cfg, cred, err := f.tokenEngine(ctx, obj, string(s.URL), s.TLS, s.ManagementTokenSecretRef)
	if err != nil {
		return nil, err
	}
	c, err := clouddedicated.New(clouddedicated.Config{Config: cfg, AccountID: s.AccountID, ClusterID: s.ClusterID,
		ManagementToken: engine.Plaintext(strings.TrimSpace(cred.value))})
	return built(c, err, cred, tokensv1.EngineTypeCloudDedicated, string(s.DataURL))
}

// influxDB1 reads the admin username and password from one Secret.
func (f *Factory) influxDB1(ctx context.Context, obj tokensv1.GenericEngine, s *tokensv1.InfluxDB1Engine) (*Built, error) {
	cfg, err := f.httpConfig(string(s.URL), s.TLS)
	if err != nil {
		return nil, err
	}
	ref := s.CredentialsSecretRef
	creds, err := f.readKeys(ctx, obj, ref.Namespace, ref.Name, cmp.Or(ref.UsernameKey, "username"), cmp.Or(ref.PasswordKey, "password"))
	if err != nil {
		return nil, err
	}
	user, pass := creds[0], creds[1]
	c, err := influxdb1.New(influxdb1.Config{Config: cfg, Username: strings.TrimSpace(user.value),
		Password: engine.Plaintext(strings.TrimSpace(pass.value))})
	if engine.IsUnauthorized(err) {
		return nil, engine.UnauthorizedErrorf("the admin username or password in %s is empty: put an InfluxDB 1.x admin user's credentials there", pass.where).
			WithReason(tokensv1.ReasonUnauthorized)
	}
	return built(c, err, pass, tokensv1.EngineTypeInfluxDB1, string(s.URL))
}

// built wraps an adapter constructor's outcome. Only InfluxDB 3 has system tokens.
func built(e engine.Engine, err error, cred credential, typ, url string) (*Built, error) {
	if err != nil {
		return nil, asBuildError(err, cred.where)
	}
	return &Built{Engine: e, Type: typ, URL: url, SupportsSystemTokens: typ == tokensv1.EngineTypeInfluxDB3, SecretVersion: cred.version}, nil
}

// httpConfig validates the TLS settings up front, so that a bad CA bundle is reported as such
// rather than as whatever the adapter makes of it.
func (f *Factory) httpConfig(url string, t *tokensv1.TLSConfig) (httpapi.Config, error) {
	cfg := f.HTTP
	cfg.URL = url
	if t == nil {
		return cfg, nil
	}
	if t.CABundle != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(t.CABundle)) {
			return cfg, invalidConfig("spec tls.caBundle holds no PEM certificate: paste the CA certificate(s) that signed the engine's certificate, in PEM form")
		}
		cfg.CABundle = []byte(t.CABundle)
	}
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	return cfg, nil
}

// asBuildError gives an adapter constructor's error a condition reason.
func asBuildError(err error, where string) error {
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
	// Secret is the credentials Secret, resolved as SecretKey does; empty Name when no member is set.
	Secret types.NamespacedName
}

// Describe returns obj's Description; managerNamespace is where a ClusterTokenEngine's Secret
// reference points when it names no namespace.
func Describe(obj tokensv1.GenericEngine, managerNamespace string) Description {
	spec := obj.GetEngineSpec()
	var d Description
	var refNS, refName string
	switch {
	case spec.InfluxDB3 != nil:
		d.Type, d.URL = tokensv1.EngineTypeInfluxDB3, string(spec.InfluxDB3.URL)
		refNS, refName = spec.InfluxDB3.AdminTokenSecretRef.Namespace, spec.InfluxDB3.AdminTokenSecretRef.Name
	case spec.InfluxDB2 != nil:
		d.Type, d.URL = tokensv1.EngineTypeInfluxDB2, string(spec.InfluxDB2.URL)
		refNS, refName = spec.InfluxDB2.TokenSecretRef.Namespace, spec.InfluxDB2.TokenSecretRef.Name
	case spec.CloudDedicated != nil:
		d.Type, d.URL = tokensv1.EngineTypeCloudDedicated, string(spec.CloudDedicated.URL)
		refNS, refName = spec.CloudDedicated.ManagementTokenSecretRef.Namespace, spec.CloudDedicated.ManagementTokenSecretRef.Name
	case spec.InfluxDB1 != nil:
		d.Type, d.URL = tokensv1.EngineTypeInfluxDB1, string(spec.InfluxDB1.URL)
		refNS, refName = spec.InfluxDB1.CredentialsSecretRef.Namespace, spec.InfluxDB1.CredentialsSecretRef.Name
	default:
		return d
	}
	d.Secret = SecretKey(obj, refNS, refName, managerNamespace)
	return d
}
