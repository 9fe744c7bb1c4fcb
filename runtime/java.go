package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/flinkplane/flinkplane"
)

// JavaCommand returns the java executable: $JAVA_HOME/bin/java if set, else
// "java" from PATH.
func JavaCommand() string {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		if p := filepath.Join(h, "bin", "java"); fileExists(p) {
			return p
		}
	}
	return "java"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var javaVersionRe = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)

// JavaVersion runs `java -version` and returns the feature release (8, 11,
// 17, ...).
func JavaVersion(ctx context.Context, java string) (int, error) {
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s -version: %w", java, err)
	}
	m := javaVersionRe.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s -version: unrecognised output %q", java, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	if major == 1 && m[2] != nil { // 1.8 → 8
		major, _ = strconv.Atoi(string(m[2]))
	}
	return major, nil
}

// Check reports whether runtime id is installed in dir and runnable with the
// given Java feature release. Returns EINVALIDCONFIG with the install command
// when it is not.
func Check(dir string, id flinkplane.RuntimeID, javaVersion int) (Manifest, error) {
	v, err := Lookup(id)
	if err != nil {
		return Manifest{}, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime %s is not supported by this service.", id)
	}
	m, err := ReadManifest(dir, id)
	if err != nil {
		return Manifest{}, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime %s is not installed. Run: flinkplane runtime install %s", id, id)
	}
	if _, err := Classpath(dir, m); err != nil {
		return Manifest{}, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime %s is damaged (%v). Run: flinkplane runtime install %s", id, err, id)
	}
	// The catalog, not the manifest, says which Java a runtime runs on.
	if javaVersion < v.JavaMin || (v.JavaMax > 0 && javaVersion > v.JavaMax) {
		return Manifest{}, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime %s needs Java %s; the installed Java is %d.", id, javaRange(v.JavaMin, v.JavaMax), javaVersion)
	}
	return m, nil
}

func javaRange(lo, hi int) string {
	if hi > 0 {
		return fmt.Sprintf("%d to %d", lo, hi)
	}
	return fmt.Sprintf("%d or newer", lo)
}

// java17Opens are flink-dist's env.java.opts.all for Java 17: every JVM
// that runs Flink and user code (the cluster's, the dry compile's) gets
// them, so that user code reflecting into the JDK behaves the same in each.
var java17Opens = []string{
	"--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
	"--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED",
	"--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
	"--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED",
	"--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED",
	"--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED",
	"--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
	"--add-opens=java.base/java.lang=ALL-UNNAMED",
	"--add-opens=java.base/java.net=ALL-UNNAMED",
	"--add-opens=java.base/java.io=ALL-UNNAMED",
	"--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
	"--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
	"--add-opens=java.base/java.text=ALL-UNNAMED",
	"--add-opens=java.base/java.time=ALL-UNNAMED",
	"--add-opens=java.base/java.util=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
}

// JavaOpens returns the module flags every JVM running runtime id's Flink
// classes gets (flink-dist's env.java.opts.all, plus what Flink 1.x needs).
func JavaOpens(id flinkplane.RuntimeID) []string {
	var f []string
	if major, _, _ := id.Version(); major == 1 {
		f = append(f, "--add-exports=java.base/sun.net.util=ALL-UNNAMED")
	}
	return append(f, java17Opens...)
}
