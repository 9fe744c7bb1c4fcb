package compat_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// Accuracy tests run the checks on the real fixture jars against the real
// installed runtimes. Without them they skip locally and FAIL in CI
// (CI=true): build the jars with testdata/apps/build.sh and install the
// runtimes with `flinkplane runtime install FLINK-1_20 FLINK-2_2`.

// TestMain removes the index cache and the savepoints the tests made.
func TestMain(m *testing.M) {
	code := m.Run()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
	}
	if genDir != "" {
		os.RemoveAll(genDir)
	}
	os.Exit(code)
}

func need(tb testing.TB, what string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("missing in CI: %s", what)
	}
	tb.Skipf("missing: %s", what)
}

func runtimesDir() string {
	if d := os.Getenv("FLINKPLANE_RUNTIMES_DIR"); d != "" {
		return d
	}
	d, _ := os.UserCacheDir()
	return filepath.Join(d, "flinkplane", "runtimes")
}

var (
	checkerOnce sync.Once
	checker     *compat.Checker
	cacheDir    string
)

// testChecker returns a Checker over the installed runtimes, requiring ids.
func testChecker(tb testing.TB, ids ...flinkplane.RuntimeID) *compat.Checker {
	tb.Helper()
	checkerOnce.Do(func() {
		cacheDir, _ = os.MkdirTemp("", "compat-index-")
		checker = &compat.Checker{RuntimesDir: runtimesDir(), CacheDir: cacheDir}
	})
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(runtimesDir(), string(id), "runtime.json")); err != nil {
			need(tb, "runtime "+string(id)+" in "+runtimesDir())
		}
	}
	return checker
}

func fixtureJar(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join("..", "testdata", "apps", "build", name+".jar")
	if _, err := os.Stat(p); err != nil {
		need(tb, "fixture "+p+" (testdata/apps/build.sh)")
	}
	return p
}

func checkJar(tb testing.TB, name string, target flinkplane.RuntimeID) *compat.JarReport {
	tb.Helper()
	c := testChecker(tb, target)
	rep, err := c.CheckJarReport(context.Background(), fixtureJar(tb, name), target)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

func bySeverity(fs []flinkplane.Finding, sev string) []flinkplane.Finding {
	var out []flinkplane.Finding
	for _, f := range fs {
		if f.Severity == sev {
			out = append(out, f)
		}
	}
	return out
}

func TestCheckJar_CleanFixtures(t *testing.T) {
	for _, tc := range []struct {
		jar    string
		target flinkplane.RuntimeID
	}{
		{"counter-2.2", flinkplane.RuntimeFlink22},
		{"pojo-list-2.2", flinkplane.RuntimeFlink22},
		{"counter-1.20", flinkplane.RuntimeFlink120},
		{"pojo-list-1.20", flinkplane.RuntimeFlink120},
		{"legacy-source-1.20", flinkplane.RuntimeFlink120},
	} {
		t.Run(tc.jar+"_on_"+string(tc.target), func(t *testing.T) {
			rep := checkJar(t, tc.jar, tc.target)
			if len(rep.Findings) != 0 {
				t.Errorf("%d findings on a clean jar, want none:\n%s", len(rep.Findings), dump(rep.Findings))
			}
			if rep.Summary.Classes == 0 {
				t.Error("no classes scanned")
			}
		})
	}
}

// TestCheckJar_Counter120 pins the findings of counter-1.20.jar on 2.2 to
// testdata/apps/counter/EXPECTED-FINDINGS.md.
func TestCheckJar_Counter120(t *testing.T) {
	rep := checkJar(t, "counter-1.20", flinkplane.RuntimeFlink22)
	var got []string
	for _, f := range bySeverity(rep.Findings, flinkplane.SeverityError) {
		if f.Class != "dev.flinkplane.fixtures.counter.LineSpecific" || !strings.HasPrefix(f.Method, "configure(") {
			t.Errorf("error outside LineSpecific.configure: %+v", f)
		}
		if f.Hint == "" {
			t.Errorf("no hint for %s", f.Symbol)
		}
		got = append(got, f.Code+" "+f.Symbol)
	}
	sort.Strings(got)
	want := []string{
		"UNRESOLVED_CLASS org.apache.flink.api.common.restartstrategy.RestartStrategies",
		"UNRESOLVED_CLASS org.apache.flink.api.common.restartstrategy.RestartStrategies$RestartStrategyConfiguration",
		"UNRESOLVED_CLASS org.apache.flink.api.common.time.Time",
		"UNRESOLVED_METHOD org.apache.flink.api.common.restartstrategy.RestartStrategies#fixedDelayRestart(int, org.apache.flink.api.common.time.Time)",
		"UNRESOLVED_METHOD org.apache.flink.api.common.time.Time#seconds(long)",
		"UNRESOLVED_METHOD org.apache.flink.streaming.api.environment.StreamExecutionEnvironment#setRestartStrategy(org.apache.flink.api.common.restartstrategy.RestartStrategies$RestartStrategyConfiguration)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	warnings := bySeverity(rep.Findings, flinkplane.SeverityWarning)
	if len(warnings) != 1 || warnings[0].Code != compat.CodeBundledFlink ||
		!strings.Contains(warnings[0].Symbol, "org.apache.flink.connector.file") {
		t.Errorf("warnings = %s, want one BUNDLED_FLINK_CLASS for the bundled flink-connector-files", dump(warnings))
	}
	if infos := bySeverity(rep.Findings, flinkplane.SeverityInfo); len(infos) != 0 {
		t.Errorf("infos = %s, want none", dump(infos))
	}
}

func TestCheckJar_LegacySource(t *testing.T) {
	rep := checkJar(t, "legacy-source-1.20", flinkplane.RuntimeFlink22)
	has := func(code, class, methodPrefix, symbolPrefix string) bool {
		for _, f := range rep.Findings {
			if f.Severity == flinkplane.SeverityError && f.Code == code && f.Class == class &&
				strings.HasPrefix(f.Method, methodPrefix) && strings.HasPrefix(f.Symbol, symbolPrefix) && f.Hint != "" {
				return true
			}
		}
		return false
	}
	const job = "dev.flinkplane.fixtures.legacysource.LegacySourceJob"
	for _, w := range []struct{ code, class, method, symbol string }{
		{"UNRESOLVED_METHOD", job, "main(", "org.apache.flink.streaming.api.environment.StreamExecutionEnvironment#addSource(org.apache.flink.streaming.api.functions.source.SourceFunction)"},
		{"UNRESOLVED_CLASS", job, "main(", "org.apache.flink.streaming.api.functions.source.SourceFunction"},
		{"UNRESOLVED_CLASS", job + "$NumberSource", "", "org.apache.flink.streaming.api.functions.source.SourceFunction"},
		{"UNRESOLVED_CLASS", job + "$AppendSink", "", "org.apache.flink.streaming.api.functions.sink.RichSinkFunction"},
	} {
		if !has(w.code, w.class, w.method, w.symbol) {
			t.Errorf("no %s %s at %s.%s with a hint in:\n%s", w.code, w.symbol, w.class, w.method, dump(rep.Findings))
		}
	}
}

func TestCheckJar_KafkaLegacy(t *testing.T) {
	rep := checkJar(t, "kafka-legacy-1.20", flinkplane.RuntimeFlink22)
	// The job's main uses FlinkKafkaConsumer, whose bundled classes extend
	// RichParallelSourceFunction (removed in 2.x): found at the use site
	// with the KafkaSource hint, and inside the bundled connector.
	var atMain, inConnector bool
	for _, f := range bySeverity(rep.Findings, flinkplane.SeverityError) {
		if f.Class == "dev.flinkplane.fixtures.kafkalegacy.KafkaLegacyJob" && strings.Contains(f.Symbol, "FlinkKafkaConsumer") && strings.Contains(f.Hint, "KafkaSource") {
			atMain = true
		}
		if strings.HasPrefix(f.Class, "org.apache.flink.streaming.connectors.kafka.FlinkKafkaConsumer") {
			inConnector = true
		}
	}
	if !atMain || !inConnector {
		t.Errorf("FlinkKafkaConsumer not found at the use site (%v) and in the connector (%v):\n%s", atMain, inConnector, dump(rep.Findings))
	}
	// On 1.20 the same jar has no error.
	if errs := bySeverity(checkJar(t, "kafka-legacy-1.20", flinkplane.RuntimeFlink120).Findings, flinkplane.SeverityError); len(errs) != 0 {
		t.Errorf("errors on FLINK-1_20:\n%s", dump(errs))
	}
}

func TestIndex_CacheInvalidation(t *testing.T) {
	c := testChecker(t, flinkplane.RuntimeFlink22)
	ix, err := c.Index(context.Background(), flinkplane.RuntimeFlink22)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Class("org/apache/flink/streaming/api/environment/StreamExecutionEnvironment") == nil {
		t.Fatal("StreamExecutionEnvironment not indexed")
	}
	if ix.Class("org/apache/flink/api/common/time/Time") != nil {
		t.Error("2.2 index has the removed Time class")
	}
	files, _ := filepath.Glob(filepath.Join(cacheDir, "index-FLINK-2_2-*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], ".bin") {
		t.Fatalf("cache files %q, want one", files)
	}
	// A second load reads the cache: the same index.
	ix2, err := compat.LoadIndex(context.Background(), runtimesDir(), cacheDir, flinkplane.RuntimeFlink22)
	if err != nil || ix2.Key != ix.Key || len(ix2.Classes) != len(ix.Classes) || ix2.HasScala != ix.HasScala || ix2.FlinkVersion != ix.FlinkVersion {
		t.Fatalf("cached index differs: %v", err)
	}
	built, err := compat.BuildIndex(context.Background(), nil)
	if err != nil || len(built.Classes) != 0 {
		t.Fatalf("empty index: %v", err)
	}
	for name, c := range ix.Classes {
		c2 := ix2.Class(name)
		if c2 == nil || c2.Super != c.Super || strings.Join(c2.Interfaces, ",") != strings.Join(c.Interfaces, ",") || c2.Access != c.Access {
			t.Fatalf("class %s differs in the cache: %+v vs %+v", name, c2, c)
		}
		for k := range c.Methods {
			if !c2.HasMethod(k) {
				t.Fatalf("method %s#%s lost in the cache", name, k)
			}
		}
		for k := range c.Fields {
			if !c2.HasField(k) {
				t.Fatalf("field %s#%s lost in the cache", name, k)
			}
		}
	}
}

func dump(fs []flinkplane.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Severity + " " + f.Code + " " + f.Class + "." + f.Method + " " + f.Symbol + "\n")
	}
	return b.String()
}

// Savepoint accuracy: savepoints taken now, on the real runtimes, by
// compat/testdata/gen-savepoints.sh (slow: once per test run).
var (
	genOnce sync.Once
	genDir  string
	genErr  error
	genOut  []byte
)

func freshSavepoints(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("takes real savepoints (about a minute)")
	}
	testChecker(tb, flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22)
	for _, j := range []string{"pojo-list-1.20", "counter-1.20", "counter-2.2"} {
		fixtureJar(tb, j)
	}
	if _, err := exec.LookPath("javac"); err != nil {
		need(tb, "javac (JDK 17)")
	}
	genOnce.Do(func() {
		genDir, genErr = os.MkdirTemp("", "compat-savepoints-")
		if genErr != nil {
			return
		}
		cmd := exec.Command("bash", "testdata/gen-savepoints.sh", genDir)
		cmd.Env = append(os.Environ(), "FLINKPLANE_RUNTIMES_DIR="+runtimesDir(), "ONLY=pojo-list-1.20 counter-1.20 counter-2.2")
		genOut, genErr = cmd.CombinedOutput()
	})
	if genErr != nil {
		tb.Fatalf("gen-savepoints.sh: %v\n%s", genErr, genOut)
	}
	return genDir
}

func checkSavepoint(tb testing.TB, dir string, target flinkplane.RuntimeID) *compat.SavepointReport {
	tb.Helper()
	rep, err := compat.CheckSavepoint(context.Background(), dir, target)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

func assertSavepointFindings(t *testing.T, root string) {
	t.Run("PojoList120Flagged", func(t *testing.T) {
		rep := checkSavepoint(t, filepath.Join(root, "pojo-list-1.20"), flinkplane.RuntimeFlink22)
		errs := bySeverity(rep.Findings, flinkplane.SeverityError)
		if len(errs) != 1 || errs[0].Code != compat.CodePojoCollection || !strings.HasPrefix(errs[0].Symbol, "recent: java.util.List") {
			t.Errorf("findings = %s, want one POJO_COLLECTION_KRYO for field recent", dump(rep.Findings))
		}
		if rep.MetadataVersion != 4 {
			t.Errorf("metadata version %d, want 4", rep.MetadataVersion)
		}
	})
	t.Run("Counter120Clean", func(t *testing.T) {
		abs, err := filepath.Abs(filepath.Join(root, "counter-1.20"))
		if err != nil {
			t.Fatal(err)
		}
		rep := checkSavepoint(t, "file:"+abs, flinkplane.RuntimeFlink22) // as Flink reports locations
		if len(rep.Findings) != 0 {
			t.Errorf("findings = %s, want none", dump(rep.Findings))
		}
		var count bool
		for _, op := range rep.Operators {
			for _, s := range op.States {
				if s.Name == "count" && s.Kind == "keyed VALUE" {
					count = true
				}
			}
		}
		if !count {
			t.Errorf("keyed state count not listed: %+v", rep.Operators)
		}
	})
	t.Run("Counter22OnFlink120", func(t *testing.T) {
		rep := checkSavepoint(t, filepath.Join(root, "counter-2.2", "_metadata"), flinkplane.RuntimeFlink120)
		if len(rep.Findings) != 1 || rep.Findings[0].Code != compat.CodeMetadataVersion {
			t.Errorf("findings = %s, want one METADATA_VERSION", dump(rep.Findings))
		}
		rep = checkSavepoint(t, filepath.Join(root, "counter-2.2"), flinkplane.RuntimeFlink22)
		if len(rep.Findings) != 0 {
			t.Errorf("2.2 savepoint on 2.2: findings = %s, want none", dump(rep.Findings))
		}
		var uid bool
		for _, op := range rep.Operators {
			uid = uid || op.UID == "count-per-key"
		}
		if !uid {
			t.Errorf("uid count-per-key not listed: %+v", rep.Operators)
		}
	})
}

// TestCheckSavepoint_Vectors checks the committed real savepoints (no JVM).
func TestCheckSavepoint_Vectors(t *testing.T) {
	assertSavepointFindings(t, "testdata/savepoints")
	rep := checkSavepoint(t, "testdata/savepoints/pojo-list-1.20-files", flinkplane.RuntimeFlink22)
	if errs := bySeverity(rep.Findings, flinkplane.SeverityError); len(errs) != 1 || errs[0].Code != compat.CodePojoCollection {
		t.Errorf("state files: findings = %s, want one POJO_COLLECTION_KRYO", dump(rep.Findings))
	}
	// The verdicts proven on real Flink (testdata/apps/kryo-generic restores
	// with its values on 2.2; pojo-map does not restore).
	t.Run("KryoGeneric120Warning", func(t *testing.T) {
		rep := checkSavepoint(t, "testdata/savepoints/kryo-generic-1.20", flinkplane.RuntimeFlink22)
		if len(rep.Findings) != 1 || rep.Findings[0].Severity != flinkplane.SeverityWarning || rep.Findings[0].Code != compat.CodeKryoState ||
			rep.Findings[0].Symbol != "dev.flinkplane.fixtures.kryogeneric.Tally" {
			t.Errorf("findings = %s, want one KRYO_STATE warning for Tally", dump(rep.Findings))
		}
		// Its Kryo snapshot registers the type and Flink's Avro placeholder
		// (decoded from the real bytes): no custom serializer to call out.
		if strings.Contains(rep.Findings[0].Message, "registers Kryo serializers") {
			t.Errorf("Flink's own Kryo registrations reported as custom serializers: %s", rep.Findings[0].Message)
		}
	})
	t.Run("PojoMap120Flagged", func(t *testing.T) {
		rep := checkSavepoint(t, "testdata/savepoints/pojo-map-1.20", flinkplane.RuntimeFlink22)
		errs := bySeverity(rep.Findings, flinkplane.SeverityError)
		if len(rep.Findings) != 1 || len(errs) != 1 || errs[0].Code != compat.CodePojoCollection || errs[0].Symbol != "seen: java.util.Map" ||
			!strings.Contains(errs[0].Message, "Restoring the state of operator") {
			t.Errorf("findings = %s, want one POJO_COLLECTION_KRYO for field seen", dump(rep.Findings))
		}
	})
	t.Run("NamedByGraph", func(t *testing.T) {
		g := &flinkplane.JobGraphInfo{Vertices: []flinkplane.JobVertexInfo{{Operators: []flinkplane.OperatorInfo{
			{ID: savepoint.OperatorIDForUID("pojo-map-state"), UID: "pojo-map-state", Name: "pojo-map-state"}}}}}
		rep, err := compat.CheckSavepointFor(context.Background(), "testdata/savepoints/pojo-map-1.20", flinkplane.RuntimeFlink22, g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 1 || rep.Findings[0].Class != `operator uid "pojo-map-state"` {
			t.Errorf("findings = %s, want the operator named by its uid", dump(rep.Findings))
		}
		// State the new job does not take is not restored: not checked.
		g.Vertices[0].Operators[0].ID = savepoint.OperatorIDForUID("other")
		rep, err = compat.CheckSavepointFor(context.Background(), "testdata/savepoints/pojo-map-1.20", flinkplane.RuntimeFlink22, g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 0 {
			t.Errorf("findings = %s for state that is not restored, want none", dump(rep.Findings))
		}
	})
}

// TestCheckSavepoint_Real takes fresh savepoints on the real runtimes.
func TestCheckSavepoint_Real(t *testing.T) {
	assertSavepointFindings(t, freshSavepoints(t))
}

// TestCheckJar_OpenConfiguration: a RichMapFunction compiled against 1.20
// that initializes itself in open(Configuration) loads on 2.2 but its open is
// never called (testdata/jars/OpenConfigJob.java).
func TestCheckJar_OpenConfiguration(t *testing.T) {
	c := testChecker(t, flinkplane.RuntimeFlink22, flinkplane.RuntimeFlink120)
	const jar = "testdata/jars/open-configuration-1.20.jar"
	rep, err := c.CheckJarReport(context.Background(), jar, flinkplane.RuntimeFlink22)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Code != compat.CodeOverride ||
		rep.Findings[0].Method != "open(Configuration)" || !strings.Contains(rep.Findings[0].Hint, "OpenContext") {
		t.Errorf("findings = %s, want one OVERRIDE_NOT_CALLED for open(Configuration)", dump(rep.Findings))
	}
	rep, err = c.CheckJarReport(context.Background(), jar, flinkplane.RuntimeFlink120)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings on FLINK-1_20 = %s, want none", dump(rep.Findings))
	}
}
