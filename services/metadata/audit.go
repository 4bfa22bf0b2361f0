package metadata

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// The audit log: one line per namespace operation in HDFS's hdfs-audit.log
// format (FSNamesystem's DefaultAuditLogger behind log4j's
// "%d{ISO8601} %p %c{2}: %m%n"):
//
//	2026-11-30 01:50:10,123 INFO FSNamesystem.audit: allowed=true	ugi=alice (auth:SIMPLE)	ip=/127.0.0.1	cmd=create	src=/a	dst=null	perm=alice:supergroup:rw-r--r--	proto=webhdfs
//
// As HDFS, an operation is logged when it succeeded or was refused for
// permission (allowed=false); other failures are not. Lines are handed to
// a writer goroutine (HDFS's dfs.namenode.audit.log.async), so a request
// never waits for the disk; the queue is large and never drops a line.

// auditEvent is one audited operation.
type auditEvent struct {
	at       time.Time
	allowed  bool
	user     string
	ip       string
	cmd      string
	src, dst string
	perm     string // owner:group:mode, or "null"
	proto    string // webhdfs or rpc
}

// auditQueue is how many lines may wait for the writer.
const auditQueue = 1 << 16

// auditLog writes queued events to w.
type auditLog struct {
	events chan auditEvent
	w      io.Writer
	close  func() error
}

// openAuditLog opens the audit log at dest: "-" is standard error, any
// other value a file appended to.
func openAuditLog(dest string) (*auditLog, error) {
	a := &auditLog{events: make(chan auditEvent, auditQueue), w: os.Stderr, close: func() error { return nil }}
	if dest != "-" {
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		a.w, a.close = f, f.Close
	}
	return a, nil
}

// run writes events until ctx is done and the HTTP server has stopped
// (no request can add one any more), then what is still queued.
func (a *auditLog) run(ctx context.Context, httpStopped <-chan struct{}) error {
	bw := bufio.NewWriterSize(a.w, 64<<10)
	write := func(e auditEvent) {
		fmt.Fprintf(bw, "%s INFO FSNamesystem.audit: allowed=%t\tugi=%s\tip=/%s\tcmd=%s\tsrc=%s\tdst=%s\tperm=%s\tproto=%s\n",
			e.at.Format("2006-01-02 15:04:05,000"), e.allowed, e.user, e.ip, e.cmd, e.src, e.dst, e.perm, e.proto)
	}
	defer a.close()
	for {
		select {
		case e := <-a.events:
			write(e)
			// Flush once the queue is empty: bursts are written together.
			if len(a.events) == 0 {
				if err := bw.Flush(); err != nil {
					return fmt.Errorf("audit log: %w", err)
				}
			}
		case <-ctx.Done():
			<-httpStopped
			for {
				select {
				case e := <-a.events:
					write(e)
				default:
					return bw.Flush()
				}
			}
		}
	}
}

// auditCmds names WebHDFS ops as HDFS's audit log does.
// CREATE and APPEND are absent: the metadata service only redirects them,
// and the datanode's client creates or appends through the native API,
// which is audited (as HDFS's startFile behind the redirect).
var auditCmds = map[string]string{
	"MKDIRS": "mkdirs", "OPEN": "open", "DELETE": "delete", "RENAME": "rename",
	"SETPERMISSION": "setPermission", "SETOWNER": "setOwner", "SETTIMES": "setTimes",
	"SETREPLICATION": "setReplication", "SETQUOTA": "setQuota", "LISTSTATUS": "listStatus",
	"LISTSTATUS_BATCH": "listStatus", "GETFILESTATUS": "getfileinfo", "GETCONTENTSUMMARY": "contentSummary",
	"GETQUOTAUSAGE": "quotaUsage", "CONCAT": "concat", "TRUNCATE": "truncate",
	"GETFILECHECKSUM": "open", "GETFILEBLOCKLOCATIONS": "open",
	"GETDELEGATIONTOKEN": "getDelegationToken", "RENEWDELEGATIONTOKEN": "renewDelegationToken",
	"CANCELDELEGATIONTOKEN": "cancelDelegationToken",
}

// withPerm are the commands whose line carries the path's status after
// the operation, as HDFS's.
var withPerm = map[string]bool{"mkdirs": true, "create": true, "setPermission": true, "setOwner": true, "rename": true, "append": true}

// audit logs cmd by u on src (and dst) if the audit log is on and the
// operation succeeded or was refused for permission.
func (s *Service) audit(u *namespace.User, ip, cmd, src, dst, proto string, err error) {
	if s.auditLog == nil || u == nil || cmd == "" {
		return
	}
	if err != nil && !errs.Is(err, errs.AccessControl) {
		return
	}
	perm := "null"
	if err == nil && withPerm[cmd] {
		target := src
		if cmd == "rename" {
			target = dst
		}
		if ns := s.namespace(); ns != nil {
			su := &namespace.User{Name: s.cfg.Superuser, Groups: s.auth().Groups(s.cfg.Superuser)}
			if st, serr := ns.GetFileInfo(su, target); serr == nil {
				perm = st.Owner + ":" + st.Group + ":" + namespace.ModeString(st.Mode)
			}
		}
	}
	if dst == "" {
		dst = "null"
	}
	s.auditLog.events <- auditEvent{at: time.Now(), allowed: err == nil, user: ugi(u), ip: ip, cmd: cmd, src: src, dst: dst, perm: perm, proto: proto}
}

// ugi is how the audit log names the caller: "alice (auth:SIMPLE)".
func ugi(u *namespace.User) string {
	if u.UGI != "" {
		return u.UGI
	}
	return u.Name + " (auth:SIMPLE)"
}
