// Package ociimage builds token-operator's container image without a Docker daemon, with
// go-containerregistry: the static binary, CA certificates, a passwd entry for uid 65532
// (nonroot) and the same user, entrypoint and paths as the Dockerfile's distroless image
// (docs/install-helm.md, "Building and loading the image"). Every timestamp is Options.Created
// and every file is owned by a fixed uid, so the same inputs give the same digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's fixed facts; the Dockerfile's distroless base has the same.
const (
	// BinaryPath is the entrypoint.
	BinaryPath = "/token-operator"
	// NonRootUID is distroless's nonroot user; the chart's podSecurityContext runs as it.
	NonRootUID = 65532
	// User is numeric so that the kubelet can check runAsNonRoot without reading /etc/passwd.
	User = "65532:65532"
	// HomeDir is nonroot's home; read-only in the pod unless a volume is mounted on it.
	HomeDir = "/home/nonroot"
	// CACertsPath is where Go's crypto/x509 looks first on Linux (SSL_CERT_FILE says so too).
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// DefaultCommand is the Dockerfile's CMD.
	DefaultCommand = "manager"

	// OCI annotation keys used as labels (image-spec annotations.md).
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelVersion  = "org.opencontainers.image.version"
	LabelTitle    = "org.opencontainers.image.title"
)

// Options are the inputs of an image; equal Options over an equal binary give an equal digest.
type Options struct {
	// Binary is the static linux binary's path.
	Binary string
	// OS and Architecture of the binary (linux, amd64).
	OS, Architecture string
	// Source, Revision and Version become OCI labels.
	Source, Revision, Version string
	// Created stamps the config and every file (SOURCE_DATE_EPOCH).
	Created time.Time
}

// file is one entry of a layer.
type file struct {
	name string
	mode int64
	uid  int
	dir  bool
	data []byte
}

// Build returns the image.
func Build(o Options) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	certs, err := CABundle()
	if err != nil {
		return nil, err
	}
	// The base layer changes only with the CA bundle; the binary gets a layer of its own so that a
	// new release pulls one layer.
	base, err := layer(o.Created, []file{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		// Go's resolver reads it; "files dns" is what glibc systems and distroless default to.
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: CACertsPath[1:], mode: 0o644, data: certs},
		{name: "home", mode: 0o755, dir: true},
		{name: HomeDir[1:], mode: 0o700, uid: NonRootUID, dir: true},
		{name: "root", mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
	})
	if err != nil {
		return nil, err
	}
	app, err := layer(o.Created, []file{{name: BinaryPath[1:], mode: 0o755, data: bin}})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), base, app)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = o.OS, o.Architecture
	cf.Created = v1.Time{Time: o.Created.UTC()}
	cf.Author = "token-operator"
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{DefaultCommand},
		WorkingDir: HomeDir,
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"SSL_CERT_FILE=" + CACertsPath,
		},
		Labels: map[string]string{
			LabelSource:   o.Source,
			LabelRevision: o.Revision,
			LabelVersion:  o.Version,
			LabelTitle:    "token-operator",
		},
	}
	// History entries carry the same timestamp, or the config (and so the digest) would differ.
	for i := range cf.History {
		cf.History[i].Created = cf.Created
	}
	return mutate.ConfigFile(img, cf)
}

// CABundle returns Mozilla's root store as shipped in golang.org/x/crypto/x509roots/fallback, as
// PEM: pinned by go.mod, so the image does not depend on the building machine's certificates.
// Roots with constraints (a distrust-after date) are left out: a PEM file cannot express them.
func CABundle() ([]byte, error) {
	var buf bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if buf.Len() == 0 {
		return nil, fmt.Errorf("the CA bundle is empty")
	}
	return buf.Bytes(), nil
}

// layer makes a gzip layer from files, in name order, with fixed times and owners.
func layer(created time.Time, files []file) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.uid,
			ModTime: created.UTC(),
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Unpack writes img's flattened filesystem into dir (for running it under runc). Owners are
// kept, as a container runtime's snapshotter keeps them.
func Unpack(img v1.Image, dir string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := path.Join(dir, path.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(path.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected tar entry %s (type %c)", h.Name, h.Typeflag)
		}
		// Mode bits beyond the permissions (sticky on /tmp) need an explicit chmod.
		if err := os.Chmod(target, tarMode(h)); err != nil {
			return err
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil && !os.IsPermission(err) {
			return err
		}
	}
}

func tarMode(h *tar.Header) os.FileMode {
	m := os.FileMode(h.Mode).Perm()
	if h.Mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
