package metadata

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// fsckOptions are fsck's switches.
type fsckOptions struct {
	files, blocks, locations, racks, openForWrite bool
}

// fsck godoc
//
//	@Summary		Check the health of a subtree (hdfs fsck)
//	@Description	A text report as HDFS's fsck prints it: per file (with files=true) its blocks (blocks=true), their locations (locations=true) and racks (racks=true); then the totals (minimally, under-, over- and mis-replicated, missing and corrupt blocks) and the status, HEALTHY or CORRUPT (missing blocks). The X-Granary-Fsck-Status header carries the status too.
//	@Tags			admin
//	@Produce		plain,json
//	@Param			path		query		string	true	"absolute path"
//	@Param			files		query		boolean	false	"list files"
//	@Param			blocks		query		boolean	false	"list blocks"
//	@Param			locations	query		boolean	false	"list block locations"
//	@Param			racks		query		boolean	false	"list racks"
//	@Param			openforwrite	query	boolean	false	"check files open for write too (left out by default, counted apart, as HDFS)"
//	@Param			user.name	query		string	false	"caller"
//	@Success		200			{string}	string	"the report"
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			fsck
//	@Router			/api/v1/admin/fsck [get]
func (s *Service) fsck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path := q.Get("path")
	opts := fsckOptions{}
	for _, f := range []struct {
		name string
		v    *bool
	}{{"files", &opts.files}, {"blocks", &opts.blocks}, {"locations", &opts.locations}, {"racks", &opts.racks}, {"openforwrite", &opts.openForWrite}} {
		*f.v = q.Get(f.name) == "true" || q.Get(f.name) == "1"
		q.Del(f.name)
	}
	var err error
	if s.ns.Load() == nil {
		err = errs.E(errs.Retriable, "NameNode still not started")
	}
	var u *namespace.User
	switch {
	case err != nil:
	case s.authn.TokenMode():
		// fsck lists block IDs and locations: the superuser's in token
		// mode, where block IDs are not handed out.
		u, err = s.adminUser(r)
	default:
		u, err = s.user(r)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	var b strings.Builder
	healthy, err := s.runFsck(r.Context(), &b, u, path, opts, clientHost(r))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	status := "HEALTHY"
	if !healthy {
		status = "CORRUPT"
	}
	w.Header().Set("X-Granary-Fsck-Status", status)
	_, _ = io.WriteString(w, b.String())
}

func (s *Service) runFsck(ctx context.Context, out io.Writer, u *namespace.User, path string, o fsckOptions, client string) (bool, error) {
	start := time.Now()
	files, dirs, err := s.namespace().Walk(u, path)
	if err != nil {
		return false, err
	}
	var ids []int64
	for _, f := range files {
		for _, b := range f.Blocks {
			ids = append(ids, b.ID)
		}
	}
	locs := map[int64]dnproto.BlockLocation{}
	for i := 0; i < len(ids); i += 1000 {
		part, err := s.locations(ctx, ids[i:min(len(ids), i+1000)], "")
		if err != nil {
			return false, err
		}
		for _, l := range part {
			locs[l.ID] = l
		}
	}
	fmt.Fprintf(out, "FSCK started by %s (auth:SIMPLE) from /%s for path %s at %s\n\n", u.Name, client, path, start.Format(javaDate))
	var st struct {
		size, blocks, minimal, over, under, mis, missing, missingSize, corrupt, missingReplicas, replicas, expected int64
		files, openFiles, openSize, openBlocks                                                                      int64
	}
	racksSeen, nodesSeen := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		blocks := f.Blocks
		if f.UC {
			// HDFS checks an open file only with -openforwrite, and never
			// its last block, still being written: it is not missing.
			if !o.openForWrite {
				st.openFiles++
				st.openSize += f.Length
				st.openBlocks += int64(len(blocks))
				continue
			}
			if len(blocks) > 0 {
				blocks = blocks[:len(blocks)-1]
			}
		}
		st.files++
		var line strings.Builder
		var lines []string
		fileMissing, fileMissingSize := 0, int64(0)
		for i, b := range blocks {
			l := locs[b.ID]
			live := len(l.Locations)
			racks := map[string]bool{}
			for _, d := range l.Locations {
				racks[d.Rack] = true
				racksSeen[d.Rack] = true
				nodesSeen[d.UUID] = true
			}
			st.blocks++
			st.size += b.NumBytes
			st.replicas += int64(live)
			st.expected += int64(f.Replication)
			name := fmt.Sprintf("%s:blk_%d_%d", s.info.BlockPoolID, b.ID, b.GenStamp)
			switch {
			case live == 0:
				st.missing++
				st.missingSize += b.NumBytes
				fileMissing++
				fileMissingSize += b.NumBytes
				fmt.Fprintf(&line, "\n%s: MISSING!", name)
			case live < f.Replication:
				st.under++
				fmt.Fprintf(&line, "\n%s: Under replicated %s. Target Replicas is %d but found %d live replica(s), 0 decommissioned replica(s), 0 decommissioning replica(s).", f.Path, name, f.Replication, live)
			case live > f.Replication:
				st.over++
			}
			if live > 0 {
				st.minimal++
				st.missingReplicas += int64(max(0, f.Replication-live))
			}
			if live > 0 && f.Replication > 1 && len(racks) < 2 && len(racksSeen) > 1 {
				st.mis++
			}
			if l.Corrupt {
				st.corrupt++
			}
			if o.blocks {
				bl := fmt.Sprintf("%d. %s len=%d Live_repl=%d", i, name, b.NumBytes, live)
				if o.locations || o.racks {
					var ds []string
					for _, d := range l.Locations {
						if o.racks {
							ds = append(ds, fmt.Sprintf("%s/%s:%d", d.Rack, d.IPAddr, d.HTTPPort))
						} else {
							ds = append(ds, fmt.Sprintf("DatanodeInfoWithStorage[%s:%d,%s,DISK]", d.IPAddr, d.HTTPPort, d.StorageID))
						}
					}
					bl += "  [" + strings.Join(ds, ", ") + "]"
				}
				lines = append(lines, bl)
			}
		}
		if o.files {
			state := "  OK"
			if fileMissing > 0 {
				state = fmt.Sprintf("  MISSING %d blocks of total size %d B.", fileMissing, fileMissingSize)
			}
			sep := ":"
			if f.UC {
				sep = ", OPENFORWRITE:"
			}
			fmt.Fprintf(out, "%s %d bytes, replicated: replication=%d, %d block(s)%s %s%s\n", f.Path, f.Length, f.Replication, len(blocks), sep, line.String(), state)
			for _, l := range lines {
				fmt.Fprintln(out, l)
			}
			if len(lines) > 0 {
				fmt.Fprintln(out)
			}
		}
	}
	healthy := st.missing == 0 && st.corrupt == 0
	status := "HEALTHY"
	if !healthy {
		status = "CORRUPT"
	}
	pct := func(n int64) float64 {
		if st.blocks == 0 {
			return 0
		}
		return float64(n) * 100 / float64(st.blocks)
	}
	live := 0
	if s.coord != nil {
		live = s.coord.LiveDatanodes()
	}
	avgRepl, avgSize := 0.0, int64(0)
	if st.blocks > 0 {
		avgRepl = float64(st.replicas) / float64(st.blocks)
		avgSize = st.size / st.blocks
	}
	missingReplicasPct := 0.0
	if st.expected > 0 {
		missingReplicasPct = float64(st.missingReplicas) * 100 / float64(st.expected)
	}
	fmt.Fprintf(out, "\nStatus: %s\n", status)
	fmt.Fprintf(out, " Number of data-nodes:\t%d\n Number of racks:\t\t%d\n Total dirs:\t\t\t%d\n Total symlinks:\t\t0\n\n", live, max(1, len(racksSeen)), dirs)
	fmt.Fprintf(out, "Replicated Blocks:\n Total size:\t%d B", st.size)
	if st.openSize != 0 {
		fmt.Fprintf(out, " (Total open files size: %d B)", st.openSize)
	}
	fmt.Fprintf(out, "\n Total files:\t%d", st.files)
	if st.openFiles != 0 {
		fmt.Fprintf(out, " (Files currently being written: %d)", st.openFiles)
	}
	fmt.Fprintf(out, "\n Total blocks (validated):\t%d", st.blocks)
	if st.blocks > 0 {
		fmt.Fprintf(out, " (avg. block size %d B)", avgSize)
	}
	if st.openBlocks != 0 {
		fmt.Fprintf(out, " (Total open file blocks (not validated): %d)", st.openBlocks)
	}
	fmt.Fprintln(out)
	if st.missing > 0 {
		fmt.Fprintf(out, "  ********************************\n  UNDER MIN REPL'D BLOCKS:\t%d (%.1f %%)\n  MISSING BLOCKS:\t%d\n  MISSING SIZE:\t\t%d B\n  ********************************\n", st.missing, pct(st.missing), st.missing, st.missingSize)
	}
	fmt.Fprintf(out, " Minimally replicated blocks:\t%d (%.1f %%)\n Over-replicated blocks:\t%d (%.1f %%)\n Under-replicated blocks:\t%d (%.1f %%)\n Mis-replicated blocks:\t\t%d (%.1f %%)\n",
		st.minimal, pct(st.minimal), st.over, pct(st.over), st.under, pct(st.under), st.mis, pct(st.mis))
	fmt.Fprintf(out, " Default replication factor:\t%d\n Average block replication:\t%.1f\n Missing blocks:\t\t%d\n Corrupt blocks:\t\t%d\n Missing replicas:\t\t%d (%.1f %%)\n\n",
		namespace.DefaultReplication, avgRepl, st.missing, st.corrupt, st.missingReplicas, missingReplicasPct)
	fmt.Fprintf(out, "FSCK ended at %s in %d milliseconds\n\n\nThe filesystem under path '%s' is %s\n", time.Now().Format(javaDate), time.Since(start).Milliseconds(), path, status)
	return healthy, nil
}

// javaDate is java.util.Date's toString layout, which fsck prints.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"
