// Command token-operator runs the operator manager, the in-cluster token engine, or the
// single-machine dev environment.
package main

import (
	"os"

	"github.com/tokenops/token-operator/internal/cli"
)

// version is set at link time (-ldflags "-X main.version=v0.1.0", see the Dockerfile).
var version = "dev"

func main() {
	root := cli.NewRootCommand()
	root.Version = version
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
