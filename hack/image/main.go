// Command image writes token-operator's image as a docker-archive tarball (what `docker load`,
// `kind load image-archive` and `ctr images import` read), built by internal/ociimage without a
// Docker daemon. `make image` runs it; docs/install-helm.md says how to load the archive.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tokenops/token-operator/internal/ociimage"
)

func main() {
	var o ociimage.Options
	var out, ref, epoch string
	flag.StringVar(&o.Binary, "binary", "", "static linux binary to put at "+ociimage.BinaryPath)
	flag.StringVar(&o.OS, "os", "linux", "the binary's OS")
	flag.StringVar(&o.Architecture, "arch", "amd64", "the binary's architecture")
	flag.StringVar(&o.Source, "source", "https://github.com/tokenops/token-operator", "org.opencontainers.image.source")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision (the git commit)")
	flag.StringVar(&o.Version, "version", "", "org.opencontainers.image.version")
	flag.StringVar(&epoch, "created", "0", "creation time in seconds since the epoch (SOURCE_DATE_EPOCH)")
	flag.StringVar(&out, "out", "bin/token-operator-image.tar", "archive to write")
	flag.StringVar(&ref, "name", "", "image reference recorded in the archive (repository:tag)")
	flag.Parse()
	if err := run(o, out, ref, epoch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o ociimage.Options, out, ref, epoch string) error {
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("--created %q: %w", epoch, err)
	}
	o.Created = time.Unix(secs, 0).UTC()
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("--name %q: %w", ref, err)
	}
	img, err := ociimage.Build(o)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image: wrote %s (%s, %s)\n", out, tag.Name(), digest)
	return nil
}
