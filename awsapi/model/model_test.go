package model

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

func TestTimestamp_MarshalJSON(t *testing.T) {
	for _, tt := range []struct {
		ms   int64
		want string
	}{
		{0, "0"},
		{1700000000000, "1700000000"},
		{1700000000500, "1700000000.5"},
		{1700000000120, "1700000000.12"},
		{1700000000123, "1700000000.123"},
		{-1500, "-1.5"},
		{-1000, "-1"},
		{-1, "-0.001"},
	} {
		b, err := json.Marshal(Timestamp{time.UnixMilli(tt.ms)})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != tt.want {
			t.Errorf("Marshal(%d ms) = %s, want %s", tt.ms, got, tt.want)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if got := back.UnixMilli(); got != tt.ms {
			t.Errorf("round trip of %d ms = %d", tt.ms, got)
		}
	}
}

func TestTimestamp_UnmarshalJSON(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64 // ms
		ok   bool
	}{
		{"1700000000", 1700000000000, true},
		{"1700000000.1234", 1700000000123, true},
		{"1700000000.1236", 1700000000124, true},
		{"1.7E9", 1700000000000, true},
		{"1.700000000123e+09", 1700000000123, true},
		{" 5 ", 5000, true},
		{`"1700000000"`, 0, false},
		{`"2023-11-14T22:13:20Z"`, 0, false},
		{"true", 0, false},
		{"{}", 0, false},
		{"1e400", 0, false},
		{"-1e300", 0, false},
		{"01", 0, false},
		{"1.", 0, false},
		{"253402300800", 0, false},
	} {
		var ts Timestamp
		err := ts.UnmarshalJSON([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("Unmarshal(%s) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && ts.UnixMilli() != tt.want {
			t.Errorf("Unmarshal(%s) = %d ms, want %d", tt.in, ts.UnixMilli(), tt.want)
		}
	}
	var ts Timestamp
	if err := json.Unmarshal([]byte("null"), &ts); err != nil || !ts.IsZero() {
		t.Errorf("Unmarshal(null) = %v, %v", ts, err)
	}
}

func TestOperations(t *testing.T) {
	ops := Operations()
	if got, want := len(ops), 33; got != want {
		t.Fatalf("len(Operations()) = %d, want %d", got, want)
	}
	for i := 1; i < len(ops); i++ {
		if ops[i-1].Name >= ops[i].Name {
			t.Fatalf("operations not sorted: %s, %s", ops[i-1].Name, ops[i].Name)
		}
	}
	op, ok := LookupOperation("CreateApplication")
	if !ok || op.Input != "CreateApplicationRequest" || op.Output != "CreateApplicationResponse" || !op.HasError("InvalidArgumentException") {
		t.Fatalf("LookupOperation(CreateApplication) = %+v, %v", op, ok)
	}
	if got, want := op.Target(), "KinesisAnalytics_20180523.CreateApplication"; got != want {
		t.Errorf("Target() = %q, want %q", got, want)
	}
	if _, ok := LookupOperation("Nope"); ok {
		t.Error("LookupOperation(Nope) found")
	}
	for _, op := range ops {
		if NewInput(op.Name) == nil || NewOutput(op.Name) == nil {
			t.Errorf("%s: NewInput/NewOutput nil", op.Name)
		}
	}
}

func TestShapes_RoundTrip(t *testing.T) {
	in := CreateApplicationRequest{
		ApplicationName:      "app",
		RuntimeEnvironment:   RuntimeEnvironmentFlink120,
		ServiceExecutionRole: "arn:aws:iam::123456789012:role/r",
		ApplicationConfiguration: &ApplicationConfiguration{
			ApplicationCodeConfiguration: &ApplicationCodeConfiguration{
				CodeContentType: CodeContentTypeZipfile,
				CodeContent:     &CodeContent{ZipFileContent: []byte("PK\x03\x04")},
			},
			EnvironmentProperties: &EnvironmentProperties{PropertyGroups: []PropertyGroup{
				{PropertyGroupId: "FlinkApplicationProperties", PropertyMap: map[string]string{"k": "v"}},
			}},
			ApplicationSystemRollbackConfiguration: &ApplicationSystemRollbackConfiguration{RollbackEnabled: false},
		},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::123456789012:role/r","ApplicationConfiguration":{"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"FlinkApplicationProperties","PropertyMap":{"k":"v"}}]},"ApplicationCodeConfiguration":{"CodeContent":{"ZipFileContent":"UEsDBA=="},"CodeContentType":"ZIPFILE"},"ApplicationSystemRollbackConfiguration":{"RollbackEnabled":false}}}`
	if got := string(b); got != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
}

func TestParseTarget(t *testing.T) {
	op, err := ParseTarget("KinesisAnalytics_20180523.UpdateApplication")
	if err != nil || op.Name != "UpdateApplication" {
		t.Fatalf("ParseTarget = %+v, %v", op, err)
	}
	for _, target := range []string{"", "UpdateApplication", "KinesisAnalytics_20150814.UpdateApplication", "KinesisAnalytics_20180523.", "KinesisAnalytics_20180523.Nope", "KinesisAnalytics_20180523.UpdateApplication.x"} {
		_, err := ParseTarget(target)
		var e *flinkplane.Error
		if !errors.As(err, &e) || e.Code != EUNKNOWNOPERATION {
			t.Errorf("ParseTarget(%q) = %v, want EUNKNOWNOPERATION", target, err)
		}
	}
}
