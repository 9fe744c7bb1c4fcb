// Package zipdir writes a directory tree into a zip file (a JAR of
// compiled helper classes).
package zipdir

import (
	"archive/zip"
	"io/fs"
	"os"
	"path/filepath"
)

// Write zips every file under dir into dst, named by its path relative
// to dir.
func Write(dir, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = Add(zw, dir)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Add writes every file under dir into zw, named by its path relative to
// dir.
func Add(zw *zip.Writer, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}
