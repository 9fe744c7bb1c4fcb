// Package pgtest runs a real PostgreSQL server for tests: initdb into a
// temporary directory, pg_ctl start on a Unix socket in it (no TCP port to
// clash with), one server per test package (Server, from TestMain), a fresh
// database per test (NewDatabase). Debian's postgresql package provides the
// binaries (scripts/install-postgres.sh installs it; `make test` runs that).
//
// Running as root (CI does), the server runs as the "postgres" user (or
// "nobody"): PostgreSQL refuses to run as root.
//
// Under CI=true a missing PostgreSQL fails the test; elsewhere it skips.
// -short skips.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one running PostgreSQL server.
type Server struct {
	// Dir holds the data directory (data/) and the socket (sock/).
	Dir  string
	Port int
	bin  string
	cred *syscall.Credential
	n    atomic.Int64
}

var (
	mu     sync.Mutex
	shared *Server
	err0   error
)

// Bin returns the directory of initdb and pg_ctl: $FLINKPLANE_PG_BIN, the
// newest /usr/lib/postgresql/<v>/bin, or the PATH's; "" if none.
func Bin() string {
	if d := os.Getenv("FLINKPLANE_PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Need returns the package's shared server, starting it on first use; it
// skips the test (fails under CI=true) when PostgreSQL is not installed.
func Need(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("real PostgreSQL: skipped with -short")
	}
	mu.Lock()
	defer mu.Unlock()
	if shared == nil && err0 == nil {
		shared, err0 = Start()
	}
	if err0 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL: %v (scripts/install-postgres.sh installs it)", err0)
		}
		t.Skipf("PostgreSQL: %v (scripts/install-postgres.sh installs it)", err0)
	}
	return shared
}

// StopShared stops the package's shared server, if it was started (call it
// from TestMain after m.Run).
func StopShared() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// Start initializes and starts a server for tests in a new temporary
// directory: fsync off.
func Start() (*Server, error) { return StartServer(false) }

// StartServer initializes and starts a server in a new temporary
// directory; durable keeps PostgreSQL's default durability (fsync on,
// synchronous commit: benchmarks compare it with SQLite's synchronous
// FULL), else fsync is off.
func StartServer(durable bool) (*Server, error) {
	bin := Bin()
	if bin == "" {
		return nil, errors.New("initdb/pg_ctl not found (no /usr/lib/postgresql/*/bin, none on PATH)")
	}
	// A short path: a Unix socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "fp-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, Port: 5432}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres or nobody user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"sock"} {
		if err := s.mkdir(filepath.Join(dir, d)); err != nil {
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	// No TCP, a socket in dir, room for three replicas' pools; for tests
	// fsync off (a test server need not survive the machine's crash).
	opts := "-c listen_addresses='' -c unix_socket_directories=" + filepath.Join(dir, "sock") +
		" -c max_connections=200 -c shared_buffers=64MB"
	if !durable {
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if out, err := s.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	return s, nil
}

func (s *Server) mkdir(d string) error {
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	if s.cred != nil {
		return os.Chown(d, int(s.cred.Uid), int(s.cred.Gid))
	}
	return nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.Dir)
}

// URL returns the connection URL of a database of the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", db, filepath.Join(s.Dir, "sock"), s.Port)
}

// NewDatabase creates an empty database and returns its URL; it is
// dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.n.Add(1))
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { s.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	return s.URL(name)
}

func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

// Exec runs one statement in a database of the server (by its URL).
func Exec(url, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// Escape quotes s as an SQL string literal.
func Escape(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
