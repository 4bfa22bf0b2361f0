package metadata

import (
	"context"
	"fmt"
	"io"

	"github.com/granary-fs/granary/services/metadata/internal/store"
)

// RollbackUpgrade is `granary metadata rollback` (HDFS's namenode
// -rollback): with no metadata service running, the namespace goes back to
// the image an upgrade kept; the edits and images after it are dropped.
func RollbackUpgrade(ctx context.Context, cfg Config, out io.Writer) error {
	cfg.Defaults()
	st, release, err := openOffline(ctx, cfg, "rolling back")
	if err != nil {
		return err
	}
	defer release()
	if _, err := st.ClaimEpoch(ctx); err != nil {
		return err
	}
	txid, dropped, err := st.RollbackUpgrade(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Rollback of the upgrade complete: the namespace is back at the image of txid %d; %d edits made since were dropped.\n", txid, dropped)
	return nil
}

// FinalizeUpgrade ends an upgrade in progress (HDFS's -finalize): the image
// kept for a rollback may go. It reports whether there was one.
func FinalizeUpgrade(ctx context.Context, cfg Config) (bool, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return false, err
	}
	defer st.Close()
	return st.FinalizeUpgrade(ctx)
}

// openOffline opens the namespace's database for an offline command
// (rollback, recover) and takes the writer lock, which no metadata service
// may hold meanwhile; release unlocks and closes.
func openOffline(ctx context.Context, cfg Config, doing string) (st *store.Store, release func(), err error) {
	st, err = store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return nil, nil, err
	}
	lock, err := st.LockWriter(ctx)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("a metadata service holds this namespace: stop it before %s (%w)", doing, err)
	}
	return st, func() { lock.Release(); st.Close() }, nil
}
