// Package cli holds the cobra commands of the token-operator binary.
package cli

import (
	"github.com/spf13/cobra"
)

// NewRootCommand returns the token-operator command with its subcommands.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "token-operator",
		Short:         "Manage InfluxDB database and system tokens as Kubernetes resources",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newManagerCommand(), newEngineCommand(), newDevCommand(), newGatewayCommand())
	return root
}
