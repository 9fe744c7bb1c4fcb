package model

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// FuzzValidate checks, for any operation and body, that Validate does not
// panic, returns only the documented errors, and that a body it accepts
// decodes into the operation's input struct, whose re-encoding is valid too.
func FuzzValidate(f *testing.F) {
	ops := Operations()
	seeds := []struct {
		op   string
		body string
	}{
		{"CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r","ApplicationConfiguration":{"ApplicationCodeConfiguration":{"CodeContent":{"S3ContentLocation":{"BucketARN":"arn:aws:s3:::b","FileKey":"k.jar"}},"CodeContentType":"ZIPFILE"},"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"FlinkApplicationProperties","PropertyMap":{"a":"b"}}]},"FlinkApplicationConfiguration":{"CheckpointConfiguration":{"ConfigurationType":"CUSTOM","CheckpointingEnabled":true,"CheckpointInterval":60000},"ParallelismConfiguration":{"ConfigurationType":"CUSTOM","Parallelism":2}},"ApplicationSnapshotConfiguration":{"SnapshotsEnabled":true},"ApplicationSystemRollbackConfiguration":{"RollbackEnabled":true}},"Tags":[{"Key":"k","Value":"v"}]}`},
		{"CreateApplication", `{"ApplicationName":"x!","RuntimeEnvironment":"FLINK-9_9"}`},
		{"UpdateApplication", `{"ApplicationName":"app","CurrentApplicationVersionId":1,"RuntimeEnvironmentUpdate":"FLINK-2_2","ApplicationConfigurationUpdate":{"ApplicationCodeConfigurationUpdate":{"CodeContentUpdate":{"ZipFileContentUpdate":"UEsDBA=="}},"ApplicationSystemRollbackConfigurationUpdate":{"RollbackEnabledUpdate":true}},"RunConfigurationUpdate":{"FlinkRunConfiguration":{"AllowNonRestoredState":true},"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_CUSTOM_SNAPSHOT","SnapshotName":"s"}}}`},
		{"DeleteApplication", `{"ApplicationName":"app","CreateTimestamp":1.700000000123E9}`},
		{"ListApplications", `{"Limit":0,"NextToken":""}`},
		{"ListApplications", `{"Limit":"5"}`},
		{"TagResource", `{"ResourceARN":"arn:x","Tags":[{"Key":"a"},null,{"Key":"","Value":"v"}]}`},
		{"StartApplication", `{"ApplicationName":"app","RunConfiguration":{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"}}}`},
		{"DescribeApplication", `{"ApplicationName":"a","applicationName":"b"}`},
		{"DescribeApplication", `{"ApplicationName":"a","X":[[[[[[[[[[[]]]]]]]]]]]}`},
		{"Nope", `{}`},
		{"ListApplications", ``},
		{"ListApplications", `{`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	for op, bodies := range sampleBodies(f) {
		f.Add(op, bodies[0])
		f.Add(op, bodies[1])
	}
	codes := map[string]bool{flinkplane.EINVALID: true, ESERIALIZATION: true, EUNKNOWNOPERATION: true, ETOOLARGE: true}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		// Bias towards real operations: a fuzzed name usually is not one.
		if _, ok := LookupOperation(op); !ok && len(op) > 0 {
			op = ops[int(op[0])%len(ops)].Name
		}
		err := Validate(op, body)
		if err != nil {
			var e *flinkplane.Error
			if !errors.As(err, &e) || !codes[e.Code] {
				t.Fatalf("Validate(%s) = %v: not a documented error", op, err)
			}
			return
		}
		in := NewInput(op)
		if err := DecodeInput(op, body, in); err != nil {
			t.Fatalf("Validate accepted %s but decoding failed: %v", body, err)
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if err := Validate(op, again); err != nil {
			t.Fatalf("Validate accepted %s but not its re-encoding %s: %v", body, again, err)
		}
	})
}

// FuzzTimestamp checks that any JSON text either fails to decode as a
// Timestamp or decodes to a time that survives a round trip unchanged.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"0", "1700000000", "1700000000.123", "1.7E9", "-1.5", "1e400", "null", `"x"`, "253402300799.999", "-62135596800", "1e-400", "0.0005"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ts Timestamp
		if err := json.Unmarshal(data, &ts); err != nil {
			return
		}
		b, err := json.Marshal(ts)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", ts.Time, err)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s) of Marshal output: %v", b, err)
		}
		if !back.Equal(ts.Time) {
			t.Fatalf("round trip %s → %v → %s → %v", data, ts.Time, b, back.Time)
		}
		if ts.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("%v is not a whole millisecond", ts.Time)
		}
		if s := ts.Unix(); float64(s) < minEpochSeconds-1 || float64(s) > maxEpochSeconds+1 {
			t.Fatalf("%v out of range", ts.Time)
		}
	})
}
