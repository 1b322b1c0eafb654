package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newDevCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product on this machine: control plane, token engine and manager",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("dev: not implemented yet")
		},
	}
}
