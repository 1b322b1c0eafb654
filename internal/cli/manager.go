package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newManagerCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "manager",
		Short: "Run the controllers that reconcile DatabaseToken, SystemToken and engine resources",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("manager: not implemented yet")
		},
	}
}
