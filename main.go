// Command token-operator runs the operator manager, the in-cluster token engine, or the
// single-machine dev environment.
package main

import (
	"os"

	"github.com/tokenops/token-operator/internal/cli"
)

func main() {
	if err := cli.NewRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
