package metadata

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/granary-fs/granary/internal/diskspace"
)

// The low-resource check (HDFS's NameNodeResourceChecker). HDFS checks the
// volumes of its name and edits directories; this service keeps its image
// and edit log in PostgreSQL, so it checks the volumes of what it does
// write: PostgreSQL's data directory when the database runs on this machine
// (SHOW data_directory, readable by a superuser or pg_read_all_settings),
// the audit log's directory, and -resource-dirs. A volume with less free
// space than dfs.namenode.resource.du.reserved puts the service in safe
// mode for low resources, which only a manual leave ends (the resources
// are checked again at once: still low, it comes back).

// resourceDirs are the directories whose volumes are checked.
func (s *Service) resourceDirs(ctx context.Context) []string {
	dirs := append([]string(nil), s.cfg.ResourceDirs...)
	if s.cfg.AuditLog != "" {
		dirs = append(dirs, filepath.Dir(s.cfg.AuditLog))
	}
	var data string
	if err := s.store.Pool.QueryRow(ctx, `SHOW data_directory`).Scan(&data); err == nil {
		if _, err := os.Stat(data); err == nil {
			dirs = append(dirs, data)
		}
	}
	return dirs
}

// freeSpace is the space left to unprivileged writers on path's volume.
func freeSpace(path string) (int64, error) {
	_, free, err := diskspace.Of(path)
	return free, err
}

// lowResources returns the first directory whose volume has less than
// reserved bytes free, or "".
func lowResources(dirs []string, reserved int64, free func(string) (int64, error)) (dir string, avail int64) {
	for _, d := range dirs {
		if n, err := free(d); err == nil && n < reserved {
			return d, n
		}
	}
	return "", 0
}

// resourceLoop checks the volumes every dfs.namenode.resource.check.interval.
func (s *Service) resourceLoop(ctx context.Context) error {
	if s.cfg.ResourceReserved < 0 {
		return nil
	}
	dirs := s.resourceDirs(ctx)
	s.log.Info("checking free space for low resources", "dirs", dirs, "reserved", s.cfg.ResourceReserved)
	t := time.NewTicker(s.cfg.ResourceCheckInterval)
	defer t.Stop()
	for {
		if dir, avail := lowResources(dirs, s.cfg.ResourceReserved, freeSpace); dir != "" {
			msg := "NameNode low on available disk space. "
			if s.safe.On() {
				msg += "Already in safe mode."
			} else {
				msg += "Entering safe mode."
			}
			s.log.Warn(msg, "dir", dir, "available", avail, "reserved", s.cfg.ResourceReserved)
			s.safe.EnterResourceLow()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
