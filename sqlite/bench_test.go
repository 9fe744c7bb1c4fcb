package sqlite_test

import (
	"context"
	"testing"

	"github.com/flinkplane/flinkplane"
)

// BenchmarkCachedRead is the read path of DescribeApplication once the
// read cache holds the application and its version.
func BenchmarkCachedRead(b *testing.B) {
	db := open(b, b.TempDir())
	ctx := context.Background()
	db.Update(ctx, func(tx flinkplane.Tx) error {
		tx.CreateApplication(&flinkplane.Application{Name: "a", VersionID: 1})
		return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "a", VersionID: 1})
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db.View(ctx, func(tx flinkplane.Tx) error {
			a, err := tx.Application("a")
			if err != nil {
				return err
			}
			_, err = tx.Version("a", a.VersionID)
			return err
		})
	}
}
