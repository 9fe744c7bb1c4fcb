package main

import (
	"context"
	"strings"
	"testing"
)

func TestRuntimeCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := runRuntime(ctx, []string{"list", "--runtimes-dir", dir}); err != nil {
		t.Fatal(err)
	}
	err := runRuntime(ctx, []string{"install", "--runtimes-dir", dir, "FLINK-1_20", "FLINK-9_9"})
	if err == nil || !strings.Contains(err.Error(), `Unknown runtime "FLINK-9_9"`) || strings.Contains(err.Error(), "code=") {
		t.Fatalf("err = %v", err)
	}
	if err := runRuntime(ctx, []string{"frobnicate"}); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
	if err := runRuntime(ctx, nil); err == nil {
		t.Fatal("no subcommand accepted")
	}
}
