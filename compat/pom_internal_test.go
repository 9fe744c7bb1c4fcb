package compat

import (
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/jar"
)

func TestPomFindings(t *testing.T) {
	ix := &Index{Runtime: flinkplane.RuntimeFlink22}
	poms := []jar.Pom{
		{GroupID: "org.apache.flink", ArtifactID: "flink-connector-kafka", Version: "3.4.0-1.20"},
		{GroupID: "org.apache.flink", ArtifactID: "flink-connector-kafka", Version: "4.0.1-2.0"},
		{GroupID: "org.apache.flink", ArtifactID: "flink-connector-kinesis", Version: "5.0.0-2.2"},
		{GroupID: "org.apache.flink", ArtifactID: "flink-streaming-java", Version: "1.20.5"},
		{GroupID: "org.apache.flink", ArtifactID: "flink-connector-files", Version: "2.2.1"},
		{GroupID: "com.example", ArtifactID: "flink-connector-x", Version: "1.0-1.20"},
	}
	fs := pomFindings(poms, ix)
	got := map[string]string{}
	for _, f := range fs {
		got[f.Symbol] = f.Severity
	}
	want := map[string]string{
		"org.apache.flink:flink-connector-kafka:3.4.0-1.20": flinkplane.SeverityError,
		"org.apache.flink:flink-connector-kafka:4.0.1-2.0":  flinkplane.SeverityWarning,
		"org.apache.flink:flink-streaming-java:1.20.5":      flinkplane.SeverityError,
	}
	if len(got) != len(want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestHintFor(t *testing.T) {
	for _, tc := range []struct{ class, member, desc, want string }{
		{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "addSource", "", "fromSource"},
		{"org/apache/flink/streaming/api/datastream/SingleOutputStreamOperator", "addSink", "(Lorg/apache/flink/streaming/api/functions/sink/SinkFunction;)V", "sinkTo"},
		{"org/apache/flink/streaming/api/windowing/time/Time", "", "", "Duration"},
		{"org/apache/flink/api/java/DataSet", "", "", "DataStream"},
		{"org/apache/flink/streaming/api/scala/DataStream", "", "", "Java"},
		{"org/apache/flink/api/common/functions/RichFunction", "open", "", "OpenContext"},
		{"org/apache/flink/streaming/connectors/kafka/FlinkKafkaProducer$Semantic", "", "", "KafkaSink"},
	} {
		if h := hintFor(tc.class, tc.member, tc.desc); !contains(h, tc.want) {
			t.Errorf("hintFor(%s, %s) = %q, want it to mention %q", tc.class, tc.member, h, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
