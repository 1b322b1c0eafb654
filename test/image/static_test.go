// Package image keeps the Dockerfile honest without a Docker engine: it builds the binary with the
// Dockerfile's flags and checks what the distroless static image needs, a static executable.
package image

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/testenv"
)

// dockerfileBuild is the build command of the Dockerfile; the test fails if the two drift apart.
const dockerfileBuild = `CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/token-operator .`

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		dockerfileBuild,
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"COPY --from=build /out/token-operator /token-operator",
		"USER 65532:65532",
		`ENTRYPOINT ["/token-operator"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count(df, "\nFROM ") != 2 {
		t.Error("Dockerfile is not a two-stage build")
	}
}

func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	out := filepath.Join(t.TempDir(), "token-operator")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.0.0-test", "-o", out, ".")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}

	// Static: no program interpreter (the dynamic loader) and no shared libraries needed.
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %s program header: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}

	info, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings: CGO_ENABLED=%q -trimpath=%q", settings["CGO_ENABLED"], settings["-trimpath"])
	}

	// The version reaches the binary.
	v, err := exec.Command(out, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "v0.0.0-test") {
		t.Errorf("token-operator --version: %v %s", err, v)
	}
}
