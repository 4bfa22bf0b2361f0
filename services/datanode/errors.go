package datanode

import (
	"errors"
	"syscall"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// storageError is the datanode's one mapping from the replica store's
// errors to errs kinds (and so to RemoteException names and statuses):
// a replica it does not hold is ReplicaNotFoundException, one that exists
// already ReplicaAlreadyExistsException, bytes that fail their CRC (or a
// replica shorter than it should be) ChecksumException, and any other
// failure — a disk error — IOException; no room for the block is
// DiskOutOfSpaceException. Errors that already
// carry a kind pass through.
func storageError(err error, id int64) error {
	if err == nil || errs.KindOf(err) != errs.Internal {
		return err
	}
	switch {
	case errors.Is(err, storage.ErrNoReplica):
		return errs.Wrap(errs.ReplicaNotFound, err, "Replica not found for block %d", id)
	case errors.Is(err, storage.ErrReplicaExists):
		return errs.Wrap(errs.ReplicaAlreadyExists, err, "block %d", id)
	case errors.Is(err, storage.ErrChecksum):
		return errs.Wrap(errs.Checksum, err, "block %d", id)
	case errors.Is(err, storage.ErrOutOfSpace), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return errs.Wrap(errs.DiskOutOfSpace, err, "block %d", id)
	}
	return errs.Wrap(errs.IO, err, "block %d", id)
}

// openReplica opens a replica for reading; one found unreadable is
// reported at once (reportUnreadable).
func (s *Service) openReplica(bpid string, id int64) (*storage.ReplicaReader, error) {
	rr, err := s.store.OpenReplica(bpid, id)
	if err != nil {
		s.reportUnreadable(err)
	}
	return rr, err
}

// reportUnreadable tells the coordinator about a replica OpenReplica found
// unreadable, as HDFS's datanode does on a read: a replica whose block
// file is gone has left the replica map and is reported deleted (HDFS's
// invalidateMissingBlock), so it is no longer offered and is re-replicated;
// a damaged one is reported bad (reportBadBlocks), so it is replaced and
// then deleted.
func (s *Service) reportUnreadable(err error) {
	var u *storage.UnreadableError
	if !errors.As(err, &u) {
		return
	}
	r := u.Replica
	ref := dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}
	if u.Gone {
		s.log.Warn("replica file is gone: reported deleted", "block", r.ID, "err", err)
		s.queueIBR(u.BlockPoolID, dnproto.ReceivedDeleted{Block: ref, Status: dnproto.Deleted, StorageID: r.Volume.StorageID})
		return
	}
	s.log.Error("replica is damaged: reported bad", "block", r.ID, "err", err)
	s.reportBad(u.BlockPoolID, ref, r.Volume.StorageID)
}
