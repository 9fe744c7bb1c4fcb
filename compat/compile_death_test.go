package compat_test

import (
	"archive/zip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
)

// blockingJar builds a jar whose main() never returns.
func blockingJar(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("javac"); err != nil {
		need(t, "javac (JDK 17)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "Block.java")
	os.WriteFile(src, []byte("public class Block { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n"), 0o644)
	if out, err := exec.Command("javac", "--release", "11", "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	jar := filepath.Join(dir, "block.jar")
	f, err := os.Create(jar)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("META-INF/MANIFEST.MF")
	w.Write([]byte("Manifest-Version: 1.0\r\nMain-Class: Block\r\n\r\n"))
	w, _ = zw.Create("Block.class")
	b, _ := os.ReadFile(filepath.Join(dir, "Block.class"))
	w.Write(b)
	zw.Close()
	f.Close()
	return jar
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// A control plane killed (SIGKILL) while a job's main() runs in the dry
// compile leaves no JVM behind: the kernel kills the dry compile's JVM with
// it.
func TestCompileJob_DiesWithControlPlane(t *testing.T) {
	if jar := os.Getenv("FLINKPLANE_TEST_DRY_COMPILE_CHILD"); jar != "" {
		// The control plane: compiles, and is killed meanwhile.
		c := testChecker(t, flinkplane.RuntimeFlink22)
		cc := &compat.Checker{RuntimesDir: c.RuntimesDir, CacheDir: os.Getenv("FLINKPLANE_TEST_DRY_COMPILE_CACHE"), CompileTimeout: 10 * time.Minute}
		cc.CompileJob(context.Background(), flinkplane.RuntimeFlink22, flinkplane.CompileSpec{JarPath: jar})
		return
	}
	if testing.Short() {
		t.Skip("runs a JVM")
	}
	c := testChecker(t, flinkplane.RuntimeFlink22)
	jar := blockingJar(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCompileJob_DiesWithControlPlane$")
	cmd.Env = append(os.Environ(), "FLINKPLANE_TEST_DRY_COMPILE_CHILD="+jar, "FLINKPLANE_TEST_DRY_COMPILE_CACHE="+c.CacheDir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var jvm int
	for deadline := time.Now().Add(2 * time.Minute); jvm == 0; {
		for _, p := range children(cmd.Process.Pid) {
			if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline")); strings.Contains(string(b), "dev.flinkplane.dryrun.DryCompile") {
				jvm = p
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no dry compile JVM started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // main() is running (sleeping)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(jvm))); err != nil {
			t.Logf("gone after %v", time.Since(deadline.Add(-10*time.Second)))
			return // gone
		}
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(jvm), "stat")); strings.Contains(string(b), ") Z ") {
			return // a zombie: dead, waiting for init to reap it
		}
		if time.Now().After(deadline) {
			syscall.Kill(jvm, syscall.SIGKILL)
			t.Fatalf("the dry compile's JVM %d outlived its control plane", jvm)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
