package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/sqlite"
)

func TestErrorInfoWithLogs(t *testing.T) {
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	app := &flinkplane.Application{Name: "a", ID: "a", VersionID: 1}
	cfg := flinkplane.DefaultConfig()
	cfg.CloudWatchLogging = []flinkplane.CloudWatchLoggingOption{{LogStreamARN: "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s"}}
	op := &flinkplane.Operation{Cluster: &flinkplane.ClusterHandle{ID: "fc-1"}}
	var got string
	db.Update(ctx, func(tx flinkplane.Tx) error {
		tx.CreateApplication(app)
		tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "a", VersionID: 1, Config: cfg})
		got = errorInfoWithLogs(tx, app, op, StepWaitRunning, errors.New("job failed"))
		return nil
	})
	if !strings.HasPrefix(got, "WAIT_RUNNING: job failed. Logs: aws logs filter-log-events --log-group-name g --log-stream-names s") {
		t.Fatalf("ErrorInfo = %q", got)
	}
}
