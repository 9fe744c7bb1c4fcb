package kubernetes

import (
	"regexp"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

func TestDeploymentName(t *testing.T) {
	// The operator's DefaultValidator.DEPLOYMENT_NAME_PATTERN.
	valid := regexp.MustCompile(`^[a-z]([-a-z\d]{0,43}[a-z\d])?$`)
	for _, tc := range []struct {
		id   string
		rt   flinkplane.RuntimeID
		want string
	}{
		{"0123456789abcdef", flinkplane.RuntimeFlink120, "fp-0123456789abcdef-v1-20"},
		{"0123456789abcdef", flinkplane.RuntimeFlink22, "fp-0123456789abcdef-v2-2"},
		{"Upper_Case.id", flinkplane.RuntimeFlink120, ""},        // invalid characters: hashed
		{strings.Repeat("a", 40), flinkplane.RuntimeFlink22, ""}, // too long: hashed
		{"trailing-", flinkplane.RuntimeFlink22, ""},             // must end alphanumeric: hashed
	} {
		got := DeploymentName(tc.id, tc.rt)
		if tc.want != "" && got != tc.want {
			t.Errorf("DeploymentName(%q, %s) = %q, want %q", tc.id, tc.rt, got, tc.want)
		}
		if !valid.MatchString(got) {
			t.Errorf("DeploymentName(%q, %s) = %q: not a valid FlinkDeployment name", tc.id, tc.rt, got)
		}
		if DeploymentName(tc.id, flinkplane.RuntimeFlink120) == DeploymentName(tc.id, flinkplane.RuntimeFlink22) {
			t.Errorf("%q: one name for two Flink versions", tc.id)
		}
	}
}

func TestFlinkVersion(t *testing.T) {
	for rt, want := range map[flinkplane.RuntimeID]string{"FLINK-1_20": "v1_20", "FLINK-2_2": "v2_2", "FLINK-1_18": "v1_18"} {
		if got, ok := FlinkVersion(rt); !ok || got != want {
			t.Errorf("FlinkVersion(%s) = %q %v, want %q", rt, got, ok, want)
		}
	}
	if _, ok := FlinkVersion("ZEPPELIN-FLINK-3_0"); ok {
		t.Error("a Studio runtime has a flinkVersion")
	}
}

func TestLabelValue(t *testing.T) {
	for in, ok := range map[string]bool{"abc": true, "a.b-c_d": true, "-a": false, "a-": false, "a b": false, strings.Repeat("x", 64): false} {
		got := labelValue(in)
		if (got == in) != ok {
			t.Errorf("labelValue(%q) = %q", in, got)
		}
		if len(got) > 63 {
			t.Errorf("labelValue(%q) too long", in)
		}
	}
}

func TestParseOperatorError(t *testing.T) {
	e := ParseOperatorError(`{"type":"org.apache.flink.kubernetes.operator.exception.ValidationException","message":"Flink version v2_4 is not supported by this operator version","additionalMetadata":{},"throwableList":[]}`)
	if e.Short() != "ValidationException" || !strings.Contains(e.String(), "not supported") {
		t.Errorf("%+v", e)
	}
	if e := ParseOperatorError("plain text"); e.Message != "plain text" || e.Type != "" {
		t.Errorf("%+v", e)
	}
}

func TestSamePath(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"file:/s/sp-1", "/s/sp-1", true},
		{"file:///s/sp-1/", "file:/s/sp-1/_metadata", true},
		{"s3p://b/savepoints/x", "s3p://b/savepoints/x/", true},
		{"/s/sp-1", "/s/sp-2", false},
		{"", "", false},
	} {
		if got := samePath(tc.a, tc.b); got != tc.want {
			t.Errorf("samePath(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
