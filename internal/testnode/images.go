package testnode

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tokenops/token-operator/internal/ociimage"
)

// pausePackage is the sandbox image's program.
const pausePackage = "github.com/tokenops/token-operator/internal/testnode/pause"

// BuildGoImage builds the Go package pkg (static, for linux) from the module at moduleDir and
// writes a docker-archive image ref holding only that binary at /<base of pkg>, its entrypoint,
// run as ociimage.NonRootUID. It returns the archive's path, under dir.
func BuildGoImage(moduleDir, pkg, ref, dir string) (string, error) {
	bin := filepath.Join(dir, path.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path.Base(pkg), Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return "", err
	}
	if _, err := tw.Write(data); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return "", err
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/" + path.Base(pkg)}, User: ociimage.User})
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	archive := filepath.Join(dir, path.Base(pkg)+".tar")
	return archive, tarball.WriteToFile(archive, tag, img)
}

// loadPause builds the sandbox image and loads it before the kubelet starts its first pod.
func (n *Node) loadPause(t testing.TB) error {
	dir := filepath.Join(n.Dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive, err := BuildGoImage(moduleRoot(), pausePackage, SandboxImage, dir)
	if err != nil {
		return err
	}
	if _, err := n.Ctr("images", "import", "--snapshotter", "overlayfs", archive); err != nil {
		return err
	}
	t.Logf("loaded the sandbox image %s", SandboxImage)
	return nil
}

// moduleRoot is the repository root, found from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
