package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

const testdata = "../compat/testdata"

// TestOperators: the operators chosen for a migration are those whose state
// the savepoint check finds unrestorable and migratable; other errors are
// returned apart.
func TestOperators(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		savepoint string
		ids       []string
		other     string
	}{
		{"savepoints/pojo-list-1.20", []string{"2dbf5aee9f8a16190d7eb1a3893a94ca"}, ""},
		{"savepoints/pojo-map-1.20", []string{"297705169e6b542e5b8fb8d84d088ed1"}, ""},
		{"savepoints/counter-1.20", nil, ""},
		{"savepoints/kryo-generic-1.20", nil, ""}, // Kryo state 2.2 reads: a warning
	} {
		t.Run(filepath.Base(c.savepoint), func(t *testing.T) {
			ids, other, err := Operators(ctx, filepath.Join(testdata, c.savepoint), flinkplane.RuntimeFlink22)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ids, ",") != strings.Join(c.ids, ",") {
				t.Errorf("ids = %v, want %v", ids, c.ids)
			}
			var codes []string
			for _, f := range other {
				codes = append(codes, f.Code)
			}
			if got := strings.Join(codes, ","); !strings.Contains(got, c.other) || (c.other == "" && got != "") {
				t.Errorf("other errors %v, want %q", codes, c.other)
			}
		})
	}
}

func TestSavepointDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "_metadata"), []byte("x"), 0o644)
	for _, in := range []string{dir, "file:" + dir, "file://" + dir, filepath.Join(dir, "_metadata")} {
		if got, err := savepointDir(in); err != nil || got != dir {
			t.Errorf("savepointDir(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := savepointDir(filepath.Join(dir, "none")); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Errorf("missing: %v", err)
	}
	if _, err := savepointDir("s3p://bucket/sp"); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Errorf("s3: %v", err)
	}
}

// TestMigrateState_BadInput: bad input is refused before any JVM runs.
func TestMigrateState_BadInput(t *testing.T) {
	ctx := context.Background()
	m := &Migrator{RuntimesDir: t.TempDir(), CacheDir: t.TempDir()}
	sp := filepath.Join(testdata, "savepoints/pojo-list-1.20")
	jar := filepath.Join(t.TempDir(), "app.jar")
	os.WriteFile(jar, []byte("PK"), 0o644)
	out := t.TempDir() // exists
	spec := flinkplane.MigrationSpec{Savepoint: sp, From: flinkplane.RuntimeFlink120, To: flinkplane.RuntimeFlink22, NewJar: jar, Out: out}
	if _, err := m.MigrateState(ctx, spec); flinkplane.ErrorCode(err) != flinkplane.EINVALID || !strings.Contains(flinkplane.ErrorMessage(err), "exists") {
		t.Errorf("existing output: %v", err)
	}
	spec.Out = filepath.Join(out, "new")
	spec.NewJar = filepath.Join(out, "missing.jar")
	if _, err := m.MigrateState(ctx, spec); flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Errorf("missing jar: %v", err)
	}
	spec.NewJar = jar
	// The runtimes are not installed in this directory.
	if _, err := m.MigrateState(ctx, spec); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Errorf("no runtime: %v", err)
	}
	if _, err := os.Stat(spec.Out); err == nil {
		t.Error("a refused migration wrote its output")
	}
	// Nothing to migrate: counter's state restores as it is.
	spec.Savepoint = filepath.Join(testdata, "savepoints/counter-1.20")
	if _, err := m.MigrateState(ctx, spec); flinkplane.ErrorCode(err) != flinkplane.EINVALID || !strings.Contains(flinkplane.ErrorMessage(err), "no state that needs migrating") {
		t.Errorf("nothing to migrate: %v", err)
	}
	res, err := m.CheckMigration(ctx, spec)
	if err != nil || len(res.Operators) != 0 || res.Refused() {
		t.Errorf("check of nothing to migrate: %+v %v", res, err)
	}
}

func TestEscapeProperty(t *testing.T) {
	for in, want := range map[string]string{"a=b": `a\=b`, " x": `\ x`, "é": `\u00e9`, "a:b#c!": `a\:b\#c\!`, "l\nm": `l\nm`, "😀": `\ud83d\ude00`} {
		if got := escapeProperty(in); got != want {
			t.Errorf("escapeProperty(%q) = %q, want %q", in, got, want)
		}
	}
}
