package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/kubestore"
)

// migrateAction is what the migration does with one token.
type migrateAction string

const (
	migrateCreate    migrateAction = "create"
	migrateUpdate    migrateAction = "update"
	migrateUnchanged migrateAction = "unchanged"
)

// planMigration decides, per token of the source, what the target needs: pure, so that the
// idempotence of `engine migrate` is a table test (TestPlanMigration).
func planMigration(src *tokenengine.Record, dst *tokenengine.Record) migrateAction {
	switch {
	case dst == nil:
		return migrateCreate
	case sameRecord(src, dst):
		return migrateUnchanged
	}
	return migrateUpdate
}

func sameRecord(a, b *tokenengine.Record) bool {
	eqT := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	eqU := func(x, y *uint64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.ID == b.ID && a.Name == b.Name && a.Digest == b.Digest && a.Admin == b.Admin &&
		a.CreatedAt.Equal(b.CreatedAt) && eqT(a.Expiry, b.Expiry) && eqT(a.UpdatedAt, b.UpdatedAt) &&
		eqU(a.CreatedByTokenID, b.CreatedByTokenID) && eqU(a.UpdatedByTokenID, b.UpdatedByTokenID) &&
		slices.EqualFunc(a.Permissions, b.Permissions, func(p, q tokenengine.Permission) bool {
			return p.ResourceType == q.ResourceType && slices.Equal(p.Names, q.Names) && slices.Equal(p.Actions, q.Actions)
		})
}

func newEngineMigrateCommand() *cobra.Command {
	var (
		from, to string
		dryRun   bool
		kube     kubeStoreFlags
	)
	cmd := &cobra.Command{
		Use:   "migrate --from bbolt:DIR --to kubernetes",
		Short: "Copy the engine's tokens (digests and metadata; no plaintext exists) from the bbolt store to the kubernetes store",
		Long: `Copies every token of the bbolt store in DIR into EngineTokens in --namespace, keeping ids,
digests, permissions and times. Tokens already copied are left alone, so running it again is safe;
a token that differs in the target is overwritten from the source. Tokens only in the target are
kept. The engine using DIR must be stopped: bbolt allows one opener. --dry-run prints the plan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, ok := strings.CutPrefix(from, storeBbolt+":")
			if !ok || dir == "" {
				return fmt.Errorf("--from must be bbolt:DIR, got %q", from)
			}
			if to != storeKubernetes {
				return fmt.Errorf("--to must be %s, got %q", storeKubernetes, to)
			}
			src, err := tokenengine.OpenBoltStore(dir)
			if err != nil {
				return err
			}
			defer func() { _ = src.Close() }()
			logger, _ := newLogger("text")
			dst, err := kube.open(cmd.Context(), logger)
			if err != nil {
				return err
			}
			defer func() { _ = dst.Close() }()
			return migrate(cmd, src, dst, dryRun, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source store: bbolt:DIR (the engine's --data-dir)")
	f.StringVar(&to, "to", storeKubernetes, "target store: kubernetes")
	f.BoolVar(&dryRun, "dry-run", false, "print what would be copied, write nothing")
	kube.bind(cmd)
	return cmd
}

// migrate copies src into dst by name and prints one line per token (name and action, never a
// digest) and a summary.
func migrate(cmd *cobra.Command, src *tokenengine.BoltStore, dst *kubestore.Store, dryRun bool, out io.Writer) error {
	recs := src.List()
	slices.SortFunc(recs, func(a, b *tokenengine.Record) int { return strings.Compare(a.Name, b.Name) })
	counts := map[migrateAction]int{}
	for _, r := range recs {
		act := planMigration(r, dst.ByName(r.Name))
		counts[act]++
		if act != migrateUnchanged && !dryRun {
			if _, err := dst.PutRaw(cmd.Context(), r); err != nil {
				return fmt.Errorf("copying token %q: %w", r.Name, err)
			}
		}
		fmt.Fprintf(out, "%s\t%q\n", act, r.Name)
	}
	verb := "migrated"
	if dryRun {
		verb = "would migrate (dry run)"
	}
	fmt.Fprintf(out, "%s %d tokens: %d created, %d updated, %d unchanged\n", verb, len(recs), counts[migrateCreate], counts[migrateUpdate], counts[migrateUnchanged])
	return nil
}
