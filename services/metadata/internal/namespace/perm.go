package namespace

import (
	"slices"

	"github.com/granary-fs/granary/internal/errs"
)

// FsAction bits, as HDFS's FsAction.
const (
	actRead    uint16 = 4
	actWrite   uint16 = 2
	actExecute uint16 = 1
	actAll     uint16 = 7
)

var actionNames = [8]string{"NONE", "EXECUTE", "WRITE", "WRITE_EXECUTE", "READ", "READ_EXECUTE", "READ_WRITE", "ALL"}

// User is the caller of an operation: simple authentication, so a name and
// the groups the group mapping gives it.
type User struct {
	Name   string
	Groups []string
	UGI    string // how the caller authenticated, as the audit log prints it
}

// check is one permission check, shaped like HDFS's
// FSPermissionChecker.checkPermission: traverse (EXECUTE on every ancestor)
// is always done; the other fields are optional.
type check struct {
	owner    bool   // the caller must own the last inode
	ancestor uint16 // on the last existing ancestor
	parent   uint16 // on the parent of the last inode
	access   uint16 // on the last inode
	sub      uint16 // on every directory of the subtree
}

func (ns *Namespace) isSuper(u *User) bool {
	return u.Name == ns.superuser || slices.Contains(u.Groups, ns.supergroup)
}

func (u *User) inGroup(g string) bool {
	return slices.Contains(u.Groups, g)
}

// checkPermission applies c to the resolved path ip. The last entry of ip
// may be nil (the path does not exist yet).
func (ns *Namespace) checkPermission(u *User, ip []*Inode, c check) error {
	if ns.isSuper(u) {
		return nil
	}
	last := len(ip) - 1
	// Traverse: EXECUTE on every existing ancestor directory.
	for i := 0; i < last; i++ {
		if ip[i] == nil {
			break
		}
		if err := ns.hasAccess(u, ip[i], actExecute); err != nil {
			return err
		}
	}
	if c.ancestor != 0 {
		i := last - 1
		for i > 0 && ip[i] == nil {
			i--
		}
		if err := ns.hasAccess(u, ip[i], c.ancestor); err != nil {
			return err
		}
	}
	if c.parent != 0 && last > 0 && ip[last-1] != nil {
		if err := ns.hasAccess(u, ip[last-1], c.parent); err != nil {
			return err
		}
	}
	n := ip[last]
	if n == nil {
		return nil
	}
	if c.owner && ns.strings.name(n.owner) != u.Name {
		return errs.E(errs.AccessControl, "Permission denied. user=%s is not the owner of inode=%s", u.Name, n.path())
	}
	if c.access != 0 {
		if err := ns.hasAccess(u, n, c.access); err != nil {
			return err
		}
	}
	if c.sub != 0 && n.dir != nil {
		return ns.checkSubtree(u, n, c.sub)
	}
	return nil
}

func (ns *Namespace) checkSubtree(u *User, d *Inode, want uint16) error {
	if err := ns.hasAccess(u, d, want); err != nil {
		return err
	}
	for _, c := range d.dir.children {
		if c.dir != nil {
			if err := ns.checkSubtree(u, c, want); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasAccess checks the POSIX bits of n for u (owner, else group, else other).
func (ns *Namespace) hasAccess(u *User, n *Inode, want uint16) error {
	var bits uint16
	switch {
	case ns.strings.name(n.owner) == u.Name:
		bits = n.mode >> 6 & 7
	case u.inGroup(ns.strings.name(n.group)):
		bits = n.mode >> 3 & 7
	default:
		bits = n.mode & 7
	}
	if bits&want == want {
		return nil
	}
	return errs.E(errs.AccessControl, "Permission denied: user=%s, access=%s, inode=\"%s\":%s:%s:%s",
		u.Name, actionNames[want], n.path(), ns.strings.name(n.owner), ns.strings.name(n.group), modeString(n))
}

// checkSticky enforces the sticky bit of parent on deleting or renaming
// child: only the owner of the child or of the parent may do it.
func (ns *Namespace) checkSticky(u *User, parent, child *Inode) error {
	if ns.isSuper(u) || parent.mode&StickyBit == 0 {
		return nil
	}
	if ns.strings.name(parent.owner) == u.Name || ns.strings.name(child.owner) == u.Name {
		return nil
	}
	return errs.E(errs.AccessControl, "Permission denied by sticky bit: user=%s, path=\"%s\":%s:%s:%s, parent=\"%s\":%s:%s:%s",
		u.Name, child.path(), ns.strings.name(child.owner), ns.strings.name(child.group), modeString(child),
		parent.path(), ns.strings.name(parent.owner), ns.strings.name(parent.group), modeString(parent))
}

// modeString renders mode bits like ls: drwxr-xr-x, with t/T for sticky.
func modeString(n *Inode) string {
	if n.dir != nil {
		return "d" + ModeString(n.mode)
	}
	return "-" + ModeString(n.mode)
}

// ModeString renders permission bits as Hadoop's FsPermission.toString:
// rwxr-xr-x, the sticky bit as t (or T without other-execute).
func ModeString(mode uint16) string {
	const rwx = "rwxrwxrwx"
	b := []byte("---------")
	for i := range b {
		if mode&(1<<(8-i)) != 0 {
			b[i] = rwx[i]
		}
	}
	if mode&StickyBit != 0 {
		if b[8] == 'x' {
			b[8] = 't'
		} else {
			b[8] = 'T'
		}
	}
	return string(b)
}
