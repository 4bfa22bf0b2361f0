// Package localpg starts a throwaway PostgreSQL server from the machine's
// own binaries (initdb, pg_ctl), for `granary dev` and the tests. It never
// downloads anything: when no binaries are found it says so.
//
// PostgreSQL refuses to run as root; when we are root the server runs as
// the "postgres" system user through runuser, and its data folder is handed
// to that user.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Server is a running local PostgreSQL.
type Server struct {
	Dir  string
	Port int
	bin  string
	asPG bool
}

// ErrNoBinaries is returned when no PostgreSQL binaries are installed.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked in $GRANARY_PG_BIN, /usr/lib/postgresql/*/bin and $PATH): install PostgreSQL (Debian: apt-get install postgresql) or set GRANARY_DATABASE_URL")

// BinDir finds the directory holding initdb and pg_ctl.
func BinDir() (string, error) {
	if d := os.Getenv("GRANARY_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start initialises dir when it holds no cluster yet and starts a server on
// 127.0.0.1:port (a free port when 0). extra are additional "-c name=value"
// settings.
func Start(ctx context.Context, dir string, port int, extra ...string) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	s := &Server{Dir: dir, Port: port, bin: bin, asPG: os.Geteuid() == 0}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if s.asPG {
		if err := s.handToPostgres(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if out, err := s.run(ctx, "initdb", "-D", dir, "-U", "granary", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, out)
		}
	}
	opts := []string{
		"-c listen_addresses=127.0.0.1", "-p " + strconv.Itoa(port), "-k " + dir,
		"-c max_connections=300", "-c shared_buffers=128MB",
	}
	for _, e := range extra {
		opts = append(opts, "-c "+e)
	}
	logFile := filepath.Join(dir, "postgres.log")
	if out, err := s.run(ctx, "pg_ctl", "-D", dir, "-l", logFile, "-w", "-t", "60", "-o", strings.Join(opts, " "), "start"); err != nil {
		tail, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, lastLines(string(tail), 20))
	}
	return s, nil
}

// URL is the connection string of the server's database db, over its
// Unix-domain socket (in the data directory): a round trip costs a fifth
// of one over loopback TCP here, and every edit-log commit is one.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://granary@/%s?host=%s&port=%d&sslmode=disable", db, url.QueryEscape(s.Dir), s.Port)
}

// Stop stops the server (fast shutdown).
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := s.run(ctx, "pg_ctl", "-D", s.Dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asPG {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// handToPostgres gives dir to the postgres user and makes its ancestors
// traversable, as the server must own its data folder.
func (s *Server) handToPostgres() error {
	pg, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a \"postgres\" system user for PostgreSQL: %w", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	abs, err := filepath.Abs(s.Dir)
	if err != nil {
		return err
	}
	s.Dir = abs
	if err := filepath.Walk(abs, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return err
	}
	for d := filepath.Dir(abs); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PID is the postmaster's process ID (from postmaster.pid), for tests that
// kill the server abruptly.
func (s *Server) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// StartReplica makes dir a streaming replica of primary (pg_basebackup
// with -R: it follows the primary's WAL) and starts it on 127.0.0.1:port.
// Make the primary wait for it with the primary's
// synchronous_standby_names='*'.
func StartReplica(ctx context.Context, primary *Server, dir string, port int) (*Server, error) {
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	s := &Server{Dir: dir, Port: port, bin: primary.bin, asPG: primary.asPG}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if s.asPG {
		if err := s.handToPostgres(); err != nil {
			return nil, err
		}
	}
	if out, err := s.run(ctx, "pg_basebackup", "-D", s.Dir, "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", "granary",
		"-R", "-X", "stream", "--no-sync", "-c", "fast"); err != nil {
		return nil, fmt.Errorf("pg_basebackup: %v: %s", err, out)
	}
	return Start(ctx, s.Dir, port)
}

// Promote makes a replica the primary (pg_ctl promote) and waits until it
// accepts writes.
func (s *Server) Promote(ctx context.Context) error {
	if out, err := s.run(ctx, "pg_ctl", "-D", s.Dir, "-w", "-t", "60", "promote"); err != nil {
		return fmt.Errorf("pg_ctl promote: %v: %s", err, out)
	}
	return nil
}
