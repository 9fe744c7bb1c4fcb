package local

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/appjar"
)

// propertiesFile is the cluster's EnvironmentProperties file, in the JSON
// shape the managed service writes to /etc/flink/application_properties.json:
// [{"PropertyGroupId": "...", "PropertyMap": {"k": "v"}}].
const propertiesFile = "application_properties.json"

func writeApplicationProperties(path string, groups []flinkplane.PropertyGroup) error {
	return appjar.WriteProperties(path, groups)
}

// prepareJar copies the user JAR into the cluster's jars/ directory with a
// root config.properties whose application_properties_file names the
// cluster's properties file. com.amazonaws:aws-kinesisanalytics-runtime
// (KinesisAnalyticsRuntime.getApplicationProperties()) reads exactly that
// resource through its own class loader — the user-code class loader, as the
// library is bundled in the user JAR — and then the JSON file it names, so
// the job sees this application's EnvironmentProperties without root and
// without a shared /etc/flink. An existing config.properties is kept and the
// key appended (the last definition wins in java.util.Properties). The dry
// compile (compat) delivers them the same way (package internal/appjar).
func (d *Driver) prepareJar(h flinkplane.ClusterHandle, src string) (string, error) {
	props := filepath.Join(h.Dir, "conf", propertiesFile)
	dst := filepath.Join(h.Dir, "jars", filepath.Base(src))
	if !strings.HasSuffix(dst, ".jar") {
		dst += ".jar"
	}
	if err := RewriteJar(src, dst, props); err != nil {
		return "", fmt.Errorf("prepare jar: %w", err)
	}
	return dst, nil
}

// RewriteJar writes a copy of the JAR src to dst whose config.properties
// sets application_properties_file to propsPath (see appjar.RewriteJar).
func RewriteJar(src, dst, propsPath string) error { return appjar.RewriteJar(src, dst, propsPath) }
