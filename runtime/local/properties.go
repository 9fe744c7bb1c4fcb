package local

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane"

	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// propertiesFile is the cluster's EnvironmentProperties file, in the JSON
// shape the managed service writes to /etc/flink/application_properties.json:
// [{"PropertyGroupId": "...", "PropertyMap": {"k": "v"}}].
const propertiesFile = "application_properties.json"

func writeApplicationProperties(path string, groups []flinkplane.PropertyGroup) error {
	if groups == nil {
		groups = []flinkplane.PropertyGroup{}
	}
	for i := range groups {
		if groups[i].PropertyMap == nil {
			groups[i].PropertyMap = map[string]string{}
		}
	}
	b, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// prepareJar copies the user JAR into the cluster's jars/ directory with a
// root config.properties whose application_properties_file names the
// cluster's properties file. com.amazonaws:aws-kinesisanalytics-runtime
// (KinesisAnalyticsRuntime.getApplicationProperties()) reads exactly that
// resource through its own class loader — the user-code class loader, as the
// library is bundled in the user JAR — and then the JSON file it names, so
// the job sees this application's EnvironmentProperties without root and
// without a shared /etc/flink. An existing config.properties is kept and the
// key appended (the last definition wins in java.util.Properties).
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
// sets application_properties_file to propsPath. Entries are copied without
// recompression, in order.
func RewriteJar(src, dst, propsPath string) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return flinkplane.Errorf(flinkplane.ECODE, "The application code is not a valid JAR file: %v", err)
	}
	defer zr.Close()
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	zw := zip.NewWriter(f)
	var existing []byte
	for _, e := range zr.File {
		if e.Name == "config.properties" {
			rc, err := e.Open()
			if err != nil {
				f.Close()
				return err
			}
			existing, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				f.Close()
				return err
			}
			continue
		}
		if strings.HasSuffix(e.Name, "/") {
			// Directory entries: some tools give them sizes or a data
			// descriptor, which zip.Writer.Copy refuses.
			fh := e.FileHeader
			fh.Method, fh.CompressedSize64, fh.UncompressedSize64, fh.CRC32 = zip.Store, 0, 0, 0
			fh.Flags &^= 0x8
			if _, err := zw.CreateHeader(&fh); err != nil {
				f.Close()
				return err
			}
			continue
		}
		if err := zw.Copy(e); err != nil {
			f.Close()
			return err
		}
	}
	var b bytes.Buffer
	if len(existing) > 0 {
		b.Write(existing)
		if !bytes.HasSuffix(existing, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	b.WriteString("# Added by flinkplane: this application's EnvironmentProperties.\n")
	b.WriteString("application_properties_file = " + escapeProperty(propsPath) + "\n")
	w, err := zw.Create("config.properties")
	if err == nil {
		_, err = w.Write(b.Bytes())
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// escapeProperty escapes a java.util.Properties value.
func escapeProperty(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	s = r.Replace(s)
	if strings.HasPrefix(s, " ") {
		s = `\` + s
	}
	return s
}
