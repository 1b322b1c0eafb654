package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity covers a long-running dev session; certificates are made anew at every start.
const certValidity = 30 * 24 * time.Hour

// pki is what writePKI wrote: file paths for kube-apiserver, PEM for the admin client.
type pki struct {
	caCert, servingCert, servingKey, saPub, saKey string
	caPEM, adminCertPEM, adminKeyPEM              []byte
}

// writePKI writes one CA, kube-apiserver's serving certificate for 127.0.0.1 and localhost, a
// service-account signing key, and returns an admin client certificate in system:masters.
func writePKI(dir string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "token-operator-dev-ca"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, ca, err := Sign(caTmpl, caKey, nil, nil)
	if err != nil {
		return nil, err
	}
	p := &pki{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
		saKey:       filepath.Join(dir, "sa.key"),
		caPEM:       PEMBlock("CERTIFICATE", caDER),
	}

	servKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	servDER, _, err := Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, &servKey.PublicKey, ca, caKey)
	if err != nil {
		return nil, err
	}

	adminKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	adminDER, _, err := Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, &adminKey.PublicKey, ca, caKey)
	if err != nil {
		return nil, err
	}
	p.adminCertPEM = PEMBlock("CERTIFICATE", adminDER)
	if p.adminKeyPEM, err = ECKeyPEM(adminKey); err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	servKeyPEM, err := ECKeyPEM(servKey)
	if err != nil {
		return nil, err
	}
	saKeyPEM, err := ECKeyPEM(saKey)
	if err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{
		p.caCert:      p.caPEM,
		p.servingCert: PEMBlock("CERTIFICATE", servDER),
		p.servingKey:  servKeyPEM,
		p.saPub:       PEMBlock("PUBLIC KEY", saPubDER),
		p.saKey:       saKeyPEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Sign makes a certificate from tmpl for pub, signed by parent (self-signed when parent is nil),
// valid from an hour ago for 30 days. internal/testnode makes its node's PKI with it too.
func Sign(tmpl *x509.Certificate, pub any, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(certValidity)
	if parent == nil {
		key := pub.(*ecdsa.PrivateKey)
		parent, parentKey, pub = tmpl, key, &key.PublicKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}

// ECKeyPEM encodes k as an "EC PRIVATE KEY" PEM block.
func ECKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return PEMBlock("EC PRIVATE KEY", der), nil
}

// PEMBlock encodes der as one PEM block of type typ.
func PEMBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
