package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

const (
	role = "arn:aws:iam::123456789012:role/flink"
	arn  = "arn:aws:kinesisanalytics:us-east-1:123456789012:application/app"
)

func TestValidate(t *testing.T) {
	tags := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"Key":"k%d","Value":"v"}`, i)
		}
		return "[" + b.String() + "]"
	}
	for _, tt := range []struct {
		name string
		op   string
		body string
		code string // "" for valid
		msg  string // expected message, when code != ""
	}{
		{"Valid", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `"}`, "", ""},
		{"ValidFlink22", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-2_2","ServiceExecutionRole":"` + role + `"}`, "", ""},
		{"EmptyBodyIsEmptyObject", "ListApplications", ``, "", ""},
		{"NullBodyIsEmptyObject", "ListApplications", `null`, "", ""},
		{"EmptyBodyMissesRequired", "DescribeApplication", ` `, flinkplane.EINVALID, "1 validation error detected: Value null at 'applicationName' failed to satisfy constraint: Member must not be null"},
		{"NullBodyMissesRequired", "DescribeApplication", `null`, flinkplane.EINVALID, "1 validation error detected: Value null at 'applicationName' failed to satisfy constraint: Member must not be null"},
		{"UnknownMembersIgnored", "ListApplications", `{"Foo":{"Bar":[1,2,{"x":null}]},"Limit":5}`, "", ""},
		{"NullOptionalMember", "ListApplications", `{"Limit":null,"NextToken":null}`, "", ""},
		{"BadName", "CreateApplication", `{"ApplicationName":"x!","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `"}`,
			flinkplane.EINVALID, "1 validation error detected: Value 'x!' at 'applicationName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"NameTooLong", "DescribeApplication", `{"ApplicationName":"` + strings.Repeat("a", 129) + `"}`,
			flinkplane.EINVALID, "1 validation error detected: Value '" + strings.Repeat("a", 129) + "' at 'applicationName' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"LengthInCharacters", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationDescription":"` + strings.Repeat("é", 1024) + `"}`, "", ""},
		{"LengthInCharactersTooLong", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationDescription":"` + strings.Repeat("é", 1025) + `"}`, flinkplane.EINVALID, ""},
		{"EmptyName", "DescribeApplication", `{"ApplicationName":""}`,
			flinkplane.EINVALID, "2 validation errors detected: Value '' at 'applicationName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'applicationName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"MissingRequired", "CreateApplication", `{"ApplicationName":"app"}`,
			flinkplane.EINVALID, "2 validation errors detected: Value null at 'runtimeEnvironment' failed to satisfy constraint: Member must not be null; Value null at 'serviceExecutionRole' failed to satisfy constraint: Member must not be null"},
		{"NullRequired", "DescribeApplication", `{"ApplicationName":null}`,
			flinkplane.EINVALID, "1 validation error detected: Value null at 'applicationName' failed to satisfy constraint: Member must not be null"},
		{"UnknownRuntime", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-9_9","ServiceExecutionRole":"` + role + `"}`,
			flinkplane.EINVALID, "1 validation error detected: Value 'FLINK-9_9' at 'runtimeEnvironment' failed to satisfy constraint: Member must satisfy enum value set: [SQL-1_0, FLINK-1_6, FLINK-1_8, ZEPPELIN-FLINK-1_0, FLINK-1_11, FLINK-1_13, ZEPPELIN-FLINK-2_0, FLINK-1_15, ZEPPELIN-FLINK-3_0, FLINK-1_18, FLINK-1_19, FLINK-1_20, FLINK-2_2, FLINK-2_3]"},
		{"UnknownRuntimeUpdate", "UpdateApplication", `{"ApplicationName":"app","CurrentApplicationVersionId":1,"RuntimeEnvironmentUpdate":"flink-2_2"}`,
			flinkplane.EINVALID, "1 validation error detected: Value 'flink-2_2' at 'runtimeEnvironmentUpdate' failed to satisfy constraint: Member must satisfy enum value set: [SQL-1_0, FLINK-1_6, FLINK-1_8, ZEPPELIN-FLINK-1_0, FLINK-1_11, FLINK-1_13, ZEPPELIN-FLINK-2_0, FLINK-1_15, ZEPPELIN-FLINK-3_0, FLINK-1_18, FLINK-1_19, FLINK-1_20, FLINK-2_2, FLINK-2_3]"},
		{"LimitZero", "ListApplications", `{"Limit":0}`,
			flinkplane.EINVALID, "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"LimitTooLarge", "ListApplicationSnapshots", `{"ApplicationName":"app","Limit":51}`,
			flinkplane.EINVALID, "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"VersionIdZero", "RollbackApplication", `{"ApplicationName":"app","CurrentApplicationVersionId":0}`,
			flinkplane.EINVALID, "1 validation error detected: Value '0' at 'currentApplicationVersionId' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"TooManyTags", "TagResource", `{"ResourceARN":"` + arn + `","Tags":` + tags(201) + `}`,
			flinkplane.EINVALID, ""},
		{"NoTags", "TagResource", `{"ResourceARN":"` + arn + `","Tags":[]}`,
			flinkplane.EINVALID, "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"TagKeyTooLong", "TagResource", `{"ResourceARN":"` + arn + `","Tags":[{"Key":"a","Value":""},{"Key":"` + strings.Repeat("k", 129) + `"}]}`,
			flinkplane.EINVALID, "1 validation error detected: Value '" + strings.Repeat("k", 129) + "' at 'tags.2.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"TagMissingKey", "TagResource", `{"ResourceARN":"` + arn + `","Tags":[{"Value":"v"}]}`,
			flinkplane.EINVALID, "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null"},
		{"NullListElement", "UntagResource", `{"ResourceARN":"` + arn + `","TagKeys":["a",null]}`,
			flinkplane.EINVALID, "1 validation error detected: Value null at 'tagKeys.2.member' failed to satisfy constraint: Member must not be null"},
		{"BadARN", "ListTagsForResource", `{"ResourceARN":"app"}`,
			flinkplane.EINVALID, "1 validation error detected: Value 'app' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*"},
		{"NestedPropertyGroupId", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationConfiguration":{"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"ok","PropertyMap":{"a":"b"}},{"PropertyGroupId":"","PropertyMap":{"a":"b"}}]}}}`,
			flinkplane.EINVALID, "2 validation errors detected: Value '' at 'applicationConfiguration.environmentProperties.propertyGroups.2.member.propertyGroupId' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'applicationConfiguration.environmentProperties.propertyGroups.2.member.propertyGroupId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"PropertyMapEmptyValue", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationConfiguration":{"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"g","PropertyMap":{"a":""}}]}}}`,
			flinkplane.EINVALID, "1 validation error detected: Value '{a=}' at 'applicationConfiguration.environmentProperties.propertyGroups.1.member.propertyMap' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must not be null]"},
		{"PropertyMapEmptyKey", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationConfiguration":{"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"g","PropertyMap":{"":"x"}}]}}}`,
			flinkplane.EINVALID, "1 validation error detected: Value '{=x}' at 'applicationConfiguration.environmentProperties.propertyGroups.1.member.propertyMap' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1]"},
		{"PropertyMapEmpty", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationConfiguration":{"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"g","PropertyMap":{}}]}}}`,
			flinkplane.EINVALID, "1 validation error detected: Value '{}' at 'applicationConfiguration.environmentProperties.propertyGroups.1.member.propertyMap' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"MaintenanceWindowPattern", "UpdateApplicationMaintenanceConfiguration", `{"ApplicationName":"app","ApplicationMaintenanceConfigurationUpdate":{"ApplicationMaintenanceWindowStartTimeUpdate":"24:00"}}`,
			flinkplane.EINVALID, "1 validation error detected: Value '24:00' at 'applicationMaintenanceConfigurationUpdate.applicationMaintenanceWindowStartTimeUpdate' failed to satisfy constraint: Member must satisfy regular expression pattern: ([01][0-9]|2[0-3]):[0-5][0-9]"},
		{"RestoreTypeEnum", "StartApplication", `{"ApplicationName":"app","RunConfiguration":{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"LATEST"}}}`,
			flinkplane.EINVALID, "1 validation error detected: Value 'LATEST' at 'runConfiguration.applicationRestoreConfiguration.applicationRestoreType' failed to satisfy constraint: Member must satisfy enum value set: [SKIP_RESTORE_FROM_SNAPSHOT, RESTORE_FROM_LATEST_SNAPSHOT, RESTORE_FROM_CUSTOM_SNAPSHOT]"},
		{"ConditionalTokenPattern", "UpdateApplication", `{"ApplicationName":"app","ConditionalToken":"a b"}`,
			flinkplane.EINVALID, "1 validation error detected: Value 'a b' at 'conditionalToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_+/=]+"},
		{"ConditionalTokenDashOK", "UpdateApplication", `{"ApplicationName":"app","ConditionalToken":"a-b_c+d/e="}`, "", ""},
		{"ZipFileValid", "UpdateApplication", `{"ApplicationName":"app","CurrentApplicationVersionId":3,"ApplicationConfigurationUpdate":{"ApplicationCodeConfigurationUpdate":{"CodeContentTypeUpdate":"ZIPFILE","CodeContentUpdate":{"ZipFileContentUpdate":"UEsDBA=="}}}}`, "", ""},
		{"CreateTimestamp", "DeleteApplication", `{"ApplicationName":"app","CreateTimestamp":1.700000000123E9}`, "", ""},
		{"DeleteSnapshot", "DeleteApplicationSnapshot", `{"ApplicationName":"app","SnapshotName":"s1","SnapshotCreationTimestamp":1700000000}`, "", ""},
		{"ManyErrorsCapped", "CreateApplication", `{"ApplicationName":"","RuntimeEnvironment":"x","ServiceExecutionRole":"r","ApplicationDescription":"` + strings.Repeat("d", 1025) + `","Tags":[{"Key":""},{"Key":""},{"Key":""},{"Key":""},{"Key":""}]}`,
			flinkplane.EINVALID, ""},

		// Serialization errors.
		{"MalformedJSON", "ListApplications", `{"Limit":`, ESERIALIZATION, ""},
		{"NotAnObject", "ListApplications", `[]`, ESERIALIZATION, "Start of list found where not expected"},
		{"TrailingData", "ListApplications", `{} {}`, ESERIALIZATION, ""},
		{"StringForInteger", "ListApplications", `{"Limit":"5"}`, ESERIALIZATION, "class java.lang.String can not be converted to an Integer"},
		{"FractionForInteger", "ListApplications", `{"Limit":1.5}`, ESERIALIZATION, ""},
		{"IntegerOverflow", "ListApplications", `{"Limit":4294967296}`, ESERIALIZATION, "Numeric value (4294967296) out of range of Integer"},
		{"NumberForString", "DescribeApplication", `{"ApplicationName":5}`, ESERIALIZATION, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"},
		{"StringForBoolean", "StopApplication", `{"ApplicationName":"app","Force":"true"}`, ESERIALIZATION, "class java.lang.String can not be converted to an Boolean"},
		{"ObjectForString", "DescribeApplication", `{"ApplicationName":{}}`, ESERIALIZATION, "Start of structure or map found where not expected."},
		{"ScalarForList", "UntagResource", `{"ResourceARN":"` + arn + `","TagKeys":"a"}`, ESERIALIZATION, "Expected list or null"},
		{"ScalarForStructure", "StartApplication", `{"ApplicationName":"app","RunConfiguration":true}`, ESERIALIZATION, "Expected null"},
		{"StringTimestamp", "DeleteApplication", `{"ApplicationName":"app","CreateTimestamp":"2023-11-14T22:13:20Z"}`, ESERIALIZATION, "class java.lang.String can not be converted to a Date"},
		{"BadBase64", "UpdateApplication", `{"ApplicationName":"app","ApplicationConfigurationUpdate":{"ApplicationCodeConfigurationUpdate":{"CodeContentUpdate":{"ZipFileContentUpdate":"!!!"}}}}`, ESERIALIZATION, ""},
		{"CaseFoldedMember", "DescribeApplication", `{"ApplicationName":"ok","applicationname":"x!"}`, ESERIALIZATION, "Member name 'applicationname' differs only in case from 'ApplicationName'; member names are case-sensitive."},
		{"TooDeep", "ListApplications", `{"Foo":[[[[[[[[[]]]]]]]]]}`, ESERIALIZATION, "JSON nesting deeper than 9 levels, the most the model's inputs allow."},
		{"DeepButAllowed", "ListApplications", `{"Foo":[[[[[[[[]]]]]]]]}`, "", ""},
		{"TooDeepKnown", "CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationConfiguration":{"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"g","PropertyMap":{"a":"b"},"X":[[[[[]]]]]}]}}}`, ESERIALIZATION, ""},
		{"UnknownOperation", "DescribeApplicationz", `{}`, EUNKNOWNOPERATION, "Operation DescribeApplicationz is not supported by this service."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.op, []byte(tt.body))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if in := NewInput(tt.op); len(strings.TrimSpace(tt.body)) > 0 {
					if err := json.Unmarshal([]byte(tt.body), in); err != nil {
						t.Fatalf("json.Unmarshal after Validate: %v", err)
					}
				}
				return
			}
			var e *flinkplane.Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate() = %v, want *flinkplane.Error", err)
			}
			if got, want := e.Code, tt.code; got != want {
				t.Fatalf("code = %q, want %q (message %q)", got, want, e.Message)
			}
			if tt.msg != "" && e.Message != tt.msg {
				t.Fatalf("message =\n%q\nwant\n%q", e.Message, tt.msg)
			}
			t.Logf("%s", e.Message)
		})
	}
}

func TestValidate_TooManyTags(t *testing.T) {
	var tags []Tag
	for i := range 201 {
		tags = append(tags, Tag{Key: fmt.Sprint("k", i), Value: Ptr("v")})
	}
	body, _ := json.Marshal(TagResourceRequest{ResourceARN: arn, Tags: tags})
	err := Validate("TagResource", body)
	msg := flinkplane.ErrorMessage(err)
	if !strings.HasPrefix(msg, "1 validation error detected: Value '[{Key=k0, Value=v}, {Key=k1, Value=v}") ||
		!strings.HasSuffix(msg, "...' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200") {
		t.Fatalf("message = %q", msg)
	}
}

func TestValidate_ErrorCap(t *testing.T) {
	body := `{"ResourceARN":"` + arn + `","Tags":[` + strings.Repeat(`{"Key":""},`, 30) + `{"Key":""}]}`
	err := Validate("TagResource", []byte(body))
	msg := flinkplane.ErrorMessage(err)
	if !strings.HasPrefix(msg, "10 validation errors detected: ") || strings.Count(msg, "failed to satisfy") != 10 {
		t.Fatalf("message = %q", msg)
	}
}

func TestValidate_TooLarge(t *testing.T) {
	err := Validate("ListApplications", make([]byte, MaxBodySize+1))
	if got, want := flinkplane.ErrorCode(err), ETOOLARGE; got != want {
		t.Fatalf("code = %q, want %q", got, want)
	}
}

func TestPatterns_AllCompile(t *testing.T) {
	s, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.unchecked) > 0 {
		t.Fatalf("patterns RE2 cannot express: %v", s.unchecked)
	}
	n := 0
	for _, sh := range s.shapes {
		if sh.pattern != nil {
			n++
		}
	}
	if got, want := n, 20; got != want {
		t.Fatalf("%d shapes with a compiled pattern, want %d", got, want)
	}
}

func TestPatterns_JavaSemantics(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		value   string
		want    bool
	}{
		{`[a-zA-Z0-9_.-]+`, "app-1.x_y", true},
		{`[a-zA-Z0-9_.-]+`, "app/1", false},
		{`[a-zA-Z0-9_.-]+`, "a\nb", false},
		{`arn:.*`, "arn:aws:iam::1:role/x", true},
		{`arn:.*`, "xarn:", false},
		{`arn:.*`, "arn:a\nb", false},     // Java '.' does not match line terminators
		{`arn:.*`, "arn:a\u2028b", false}, // nor U+2028
		{`[a-zA-Z0-9-_+/=]+`, "-", true},
		{`[a-zA-Z0-9/!-_.*'()]+`, "a/b!c.d*e'(f)", true},
		{`[a-zA-Z0-9/!-_.*'()]+`, "a b", false},
		{`[^-\s<>&]*`, "abc", true},
		{`[^-\s<>&]*`, "a\x0Bb", false}, // Java \s includes \x0B
		{`[^-\s<>&]*`, "a-b", false},
		{`UTF-8`, "UTF-8", true},
		{`UTF-8`, "UTF-88", false},
		{`([01][0-9]|2[0-3]):[0-5][0-9]`, "23:59", true},
		{`([01][0-9]|2[0-3]):[0-5][0-9]`, "24:00", false},
		{`^(?=^\$)(?=^\S+$).*$`, "$.a.b", true},
		{`^(?=^\$)(?=^\S+$).*$`, "$.a b", false},
		{`^(?=^\$)(?=^\S+$).*$`, "a.b", false},
		{`^(?=^\$)(?=^\S+$).*$`, "$", true},
	} {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", tt.pattern, err)
		}
		if got := p.match(tt.value); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
	for _, bad := range []string{`(?<=a)b`, `(a)\1`, `a++`, `(?!a)`, `[a-z&&[^e]]`} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("compilePattern(%q) succeeded, want an error", bad)
		}
	}
}

// TestValidate_BlobAgreesWithDecoding checks that Validate accepts exactly
// the base64 strings encoding/json decodes into []byte.
func TestValidate_BlobAgreesWithDecoding(t *testing.T) {
	for _, s := range []string{"", "=", "A", "AA", "AA=", "AA==", "AAA=", "AAAA", "AA==AA==", "A===", `\r\nAA==`, `AA==\n`, "AB==", "AAB=", "====", "AAAA====", `\u0041\u0041==`} {
		body := `{"ApplicationName":"app","ApplicationConfigurationUpdate":{"ApplicationCodeConfigurationUpdate":{"CodeContentUpdate":{"ZipFileContentUpdate":"` + s + `"}}}}`
		verr := Validate("UpdateApplication", []byte(body))
		derr := json.Unmarshal([]byte(body), new(UpdateApplicationRequest))
		if (verr == nil) != (derr == nil) {
			t.Errorf("%q: Validate = %v, json.Unmarshal = %v", s, verr, derr)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	for _, bm := range []struct{ op, body string }{
		{"DescribeApplication", `{"ApplicationName":"app-0001","IncludeAdditionalDetails":true}`},
		{"ListApplications", `{"Limit":50,"NextToken":"app-0050"}`},
		{"CreateApplication", `{"ApplicationName":"app","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"` + role + `","ApplicationConfiguration":{"ApplicationCodeConfiguration":{"CodeContent":{"S3ContentLocation":{"BucketARN":"arn:aws:s3:::b","FileKey":"k.jar"}},"CodeContentType":"ZIPFILE"},"EnvironmentProperties":{"PropertyGroups":[{"PropertyGroupId":"FlinkApplicationProperties","PropertyMap":{"a":"b","c":"d"}}]}},"Tags":[{"Key":"k","Value":"v"}]}`},
	} {
		b.Run(bm.op, func(b *testing.B) {
			body := []byte(bm.body)
			for b.Loop() {
				if err := Validate(bm.op, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestValidateOutput(t *testing.T) {
	good := `{"ApplicationDetail":{"ApplicationARN":"` + arn + `","ApplicationName":"app","RuntimeEnvironment":"FLINK-2_2","ApplicationStatus":"READY","ApplicationVersionId":1,"CreateTimestamp":1700000000.5}}`
	if err := ValidateOutput("DescribeApplication", []byte(good)); err != nil {
		t.Fatalf("ValidateOutput(good) = %v", err)
	}
	bad := `{"ApplicationDetail":{"ApplicationARN":"` + arn + `","ApplicationName":"app","RuntimeEnvironment":"FLINK-2_2","ApplicationStatus":"STARTED","ApplicationVersionId":1,"CreateTimestamp":"2023-01-01"}}`
	if got, want := flinkplane.ErrorCode(ValidateOutput("DescribeApplication", []byte(bad))), ESERIALIZATION; got != want {
		t.Fatalf("code = %q, want %q", got, want)
	}
	bad = `{"ApplicationDetail":{"ApplicationName":"app","RuntimeEnvironment":"FLINK-2_2","ApplicationStatus":"STARTED","ApplicationVersionId":1}}`
	want := "2 validation errors detected: Value null at 'applicationDetail.applicationARN' failed to satisfy constraint: Member must not be null; Value 'STARTED' at 'applicationDetail.applicationStatus' failed to satisfy constraint: Member must satisfy enum value set: [DELETING, STARTING, STOPPING, READY, RUNNING, UPDATING, AUTOSCALING, FORCE_STOPPING, ROLLING_BACK, MAINTENANCE, ROLLED_BACK]"
	if got := flinkplane.ErrorMessage(ValidateOutput("DescribeApplication", []byte(bad))); got != want {
		t.Fatalf("message =\n%s\nwant\n%s", got, want)
	}
	if err := ValidateOutput("ListApplications", []byte(`{"ApplicationSummaries":null}`)); err == nil {
		t.Fatal("ValidateOutput accepted a null required list")
	}
}
