package testnode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tokenops/token-operator/internal/localcluster"
)

// ca signs the node's certificates: one CA for serving and client certificates, as kubeadm's
// single-CA layout minus the front proxy.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA() (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "token-operator-test-node-ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign}
	der, cert, err := localcluster.Sign(tmpl, &key.PublicKey, tmpl, key)
	if err != nil {
		return nil, err
	}
	return &ca{cert: cert, key: key, pem: localcluster.PEMBlock("CERTIFICATE", der)}, nil
}

// issue returns a PEM certificate and key: a client certificate for user in groups when ips and
// dns are empty, else a serving certificate for them.
func (c *ca) issue(user string, groups []string, ips []net.IP, dns []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: user, Organization: groups},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(ips)+len(dns) > 0 {
		tmpl.IPAddresses, tmpl.DNSNames = ips, dns
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, _, err := localcluster.Sign(tmpl, &key.PublicKey, c.cert, c.key)
	if err != nil {
		return nil, nil, err
	}
	kp, err := localcluster.ECKeyPEM(key)
	return localcluster.PEMBlock("CERTIFICATE", der), kp, err
}

// writeKubeconfig writes a kubeconfig for a client certificate of user in groups.
func (c *ca) writeKubeconfig(path, server, user string, groups ...string) error {
	certPEM, keyPEM, err := c.issue(user, groups, nil, nil)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["node"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: c.pem}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts["node"] = &clientcmdapi.Context{Cluster: "node", AuthInfo: user}
	cfg.CurrentContext = "node"
	return clientcmd.WriteToFile(*cfg, path)
}

// writePair writes cert and key PEM as dir/name.crt and dir/name.key and returns their paths.
func writePair(dir, name string, certPEM, keyPEM []byte) (string, string, error) {
	crt, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(crt, certPEM, 0o600); err != nil {
		return "", "", err
	}
	return crt, key, os.WriteFile(key, keyPEM, 0o600)
}

// serviceAccountKey writes the key kube-apiserver signs service-account tokens with and its
// public half, and returns their paths.
func serviceAccountKey(dir string) (pub, priv string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	kp, err := localcluster.ECKeyPEM(key)
	if err != nil {
		return "", "", err
	}
	pub, priv = filepath.Join(dir, "sa.pub"), filepath.Join(dir, "sa.key")
	if err := os.WriteFile(pub, localcluster.PEMBlock("PUBLIC KEY", pubDER), 0o600); err != nil {
		return "", "", err
	}
	return pub, priv, os.WriteFile(priv, kp, 0o600)
}
