package metadata

import (
	"context"
	"fmt"
	"time"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// checkpointFormat names trash checkpoints (TrashPolicyDefault's
// "yyMMddHHmmss").
const checkpointFormat = "060102150405"

// trashLoop is HDFS's trash Emptier (TrashPolicyDefault), run when
// fs.trash.interval is set: every checkpoint interval it deletes the
// checkpoints older than fs.trash.interval from each /user/<name>/.Trash
// and turns .Trash/Current into a new checkpoint.
func (s *Service) trashLoop(ctx context.Context) error {
	deletion := time.Duration(s.cfg.TrashInterval) * time.Minute
	every := s.cfg.TrashCheckpointInterval
	if every <= 0 || every > deletion {
		every = deletion
	}
	s.log.Info("trash emptier started", "deletionInterval", deletion, "checkpointInterval", every)
	s.whileActive(ctx, every, func(now time.Time) { s.emptyTrash(ctx, now) })
	return nil
}

// emptyTrash deletes the expired checkpoints and checkpoints Current in
// every home directory's trash.
func (s *Service) emptyTrash(ctx context.Context, now time.Time) {
	ns := s.namespace()
	su := &namespace.User{Name: s.cfg.Superuser}
	homes, _, err := ns.List(su, "/user", "", 0)
	if err != nil {
		return // no home directories
	}
	deletion := time.Duration(s.cfg.TrashInterval) * time.Minute
	for _, h := range homes {
		if !h.IsDir {
			continue
		}
		root := "/user/" + h.Name + "/.Trash"
		entries, _, err := ns.List(su, root, "", 0)
		if err != nil {
			continue // no trash
		}
		current := false
		for _, e := range entries {
			if e.Name == "Current" {
				current = true
				continue
			}
			at, err := time.ParseInLocation(checkpointFormat, e.Name[:min(len(e.Name), len(checkpointFormat))], time.Local)
			if err != nil {
				s.log.Warn("unexpected item in trash", "path", root+"/"+e.Name)
				continue
			}
			if now.Sub(at) > deletion {
				if _, err := ns.Delete(ctx, su, root+"/"+e.Name, true); err != nil {
					s.log.Warn("deleting a trash checkpoint failed", "path", root+"/"+e.Name, "err", err)
					continue
				}
				s.log.Info("deleted trash checkpoint", "path", root+"/"+e.Name)
			}
		}
		if !current {
			continue
		}
		name := now.Format(checkpointFormat)
		for i := 1; ; i++ {
			if _, err := ns.GetFileInfo(su, root+"/"+name); errs.Is(err, errs.FileNotFound) {
				break
			}
			name = fmt.Sprintf("%s-%d", now.Format(checkpointFormat), i)
		}
		if ok, err := ns.Rename(ctx, su, root+"/Current", root+"/"+name); err != nil || !ok {
			s.log.Warn("creating a trash checkpoint failed", "path", root+"/"+name, "err", err)
			continue
		}
		s.log.Info("created trash checkpoint", "path", root+"/"+name)
	}
}
