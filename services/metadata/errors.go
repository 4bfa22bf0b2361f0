package metadata

import (
	"context"
	"errors"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/store"
)

// remoteError is the metadata service's one mapping from internal errors
// to errs kinds (and so to RemoteException names and statuses); errors
// that already carry a kind pass through unchanged.
//
// An edit the log could not commit was never acknowledged and is lost with
// the process that is now stopping: the client retries (RetriableException,
// as HDFS's client retries a NameNode that is going away). A fenced writer
// is no longer the namespace's writer: IOException, as HDFS's journal
// answers a NameNode whose epoch is stale.
func remoteError(err error) error {
	if err == nil || errs.KindOf(err) != errs.Internal {
		return err
	}
	switch {
	case errors.Is(err, store.ErrFenced):
		return errs.Wrap(errs.IO, err, "this metadata service is no longer the writer of the namespace")
	case errors.Is(err, store.ErrCommitFailed):
		return errs.Wrap(errs.Retriable, err, "the edit was not committed; retry")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errs.Wrap(errs.Retriable, err, "the operation did not finish")
	}
	return err
}
