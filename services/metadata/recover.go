package metadata

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// RecoverOptions are those of `granary metadata recover` (HDFS's
// `namenode -recover`).
type RecoverOptions struct {
	Force bool      // take the first choice without asking (-force)
	In    io.Reader // the operator's answers
	Out   io.Writer
}

// ErrRecoveryAborted is returned when the operator quits a recovery.
var ErrRecoveryAborted = errors.New("RECOVERY ABORTED")

// Recover is HDFS's metadata recovery mode for a namespace whose start-up
// stops at a corrupt or missing edit: it loads the newest valid image,
// replays the edit log up to the first edit it cannot read or apply, and —
// once the operator chooses to (or at once with Force) — saves an image of
// what was read and drops the edits from the bad one on, saying how many.
// No metadata service may run on the database meanwhile.
func Recover(ctx context.Context, cfg Config, opts RecoverOptions) error {
	cfg.Defaults()
	st, release, err := openOffline(ctx, cfg, "recovering")
	if err != nil {
		return err
	}
	defer release()
	nscfg := namespace.Config{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup, MinBlockSize: cfg.MinBlockSize}
	images, err := st.Images(ctx)
	if err != nil {
		return err
	}
	var ns *namespace.Namespace
	var loaded int64
	for _, img := range images {
		loaded = img.TxID
		data, rerr := st.ReadImage(ctx, img.TxID)
		if rerr == nil {
			if ns, rerr = namespace.LoadImage(nscfg, data, nil); rerr == nil {
				break
			}
		}
		fmt.Fprintf(opts.Out, "The fsimage at txid %d cannot be read (%v): trying the previous one.\n", img.TxID, rerr)
	}
	if ns == nil {
		return errors.New("no fsimage can be read: nothing to recover from")
	}
	fmt.Fprintf(opts.Out, "Loaded the fsimage at txid %d.\n", ns.TxID())
	last, readErr := st.ReadEdits(ctx, ns.TxID(), ns.Replay)
	if readErr == nil {
		fmt.Fprintf(opts.Out, "Read the edit log to its end (txid %d): nothing to recover.\n", last)
		return nil
	}
	end, err := st.MaxTxID(ctx)
	if err != nil {
		return err
	}
	dropped := max(end-last, 0)
	fmt.Fprintf(opts.Out, "Encountered an error reading the edit log after txid %d: %v\n", last, readErr)
	choice := "c"
	if opts.Force {
		fmt.Fprintf(opts.Out, "automatically choosing c: stop reading the edit log here, abandoning %d edits (txids %d to %d)\n", dropped, last+1, end)
	} else {
		fmt.Fprintf(opts.Out, "Enter 'c' to continue, stopping reading the edit log here and abandoning %d edits (txids %d to %d)\nEnter 'q' to quit without saving\n(c/q) ", dropped, last+1, end)
		answer, _ := bufio.NewReader(opts.In).ReadString('\n')
		choice = strings.TrimSpace(answer)
	}
	if choice != "c" {
		fmt.Fprintln(opts.Out, "RECOVERY ABORTED: nothing was changed.")
		return ErrRecoveryAborted
	}
	// The next epoch first: no writer of an earlier one may commit after.
	if _, err := st.ClaimEpoch(ctx); err != nil {
		return err
	}
	var buf bytes.Buffer
	inodes, err := ns.WriteImage(&buf)
	if err != nil {
		return err
	}
	if ns.TxID() != loaded { // at the loaded image's txid, that image is the one
		if err := st.SaveImage(ctx, ns.TxID(), buf.Bytes(), inodes); err != nil {
			return fmt.Errorf("saving the recovered image: %w", err)
		}
	}
	n, err := st.DeleteEditsAfter(ctx, ns.TxID())
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "RECOVERY COMPLETE: saved an fsimage at txid %d; %d edits dropped.\n", ns.TxID(), n)
	return nil
}
