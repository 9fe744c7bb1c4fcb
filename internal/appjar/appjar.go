// Package appjar delivers an application's EnvironmentProperties to its job
// the way the managed service does: the AWS runtime library
// (com.amazonaws:aws-kinesisanalytics-runtime, KinesisAnalyticsRuntime)
// reads the JSON file named by application_properties_file in the first
// config.properties on the classpath. WriteProperties writes that file and
// RewriteJar makes a copy of the user JAR whose config.properties names it.
// Both the cluster driver and the dry compile use them, so main() sees the
// same properties in both.
package appjar

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// WriteProperties writes groups to path in the JSON shape the managed
// service writes to /etc/flink/application_properties.json:
// [{"PropertyGroupId": "...", "PropertyMap": {"k": "v"}}].
func WriteProperties(path string, groups []flinkplane.PropertyGroup) error {
	if groups == nil {
		groups = []flinkplane.PropertyGroup{}
	}
	out := make([]flinkplane.PropertyGroup, len(groups))
	for i, g := range groups {
		if g.PropertyMap == nil {
			g.PropertyMap = map[string]string{}
		}
		out[i] = g
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
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
