/*
 * flinkplane's dry compile: builds a job's JobGraph with the classes of the
 * Flink runtime it runs on, without a cluster. Compiled by flinkplane itself
 * (javac against the runtime's jars, cached per runtime; see compat/compile.go)
 * and run as
 *
 *   java -cp <this>:<runtime lib jars> dev.flinkplane.dryrun.DryCompile IN OUT
 *
 * IN is a java.util.Properties file:
 *   jar=/path/app.jar            the user jar (as the cluster would receive it)
 *   entry=com.example.Job        the entry class (optional: from the manifest)
 *   args=N, arg.0 ... arg.N-1    program arguments
 *   parallelism=N                the default parallelism (optional)
 *   conf.<key>=<value>           the Flink configuration the job's cluster runs with
 *
 * The job's main() runs the way Flink's PackagedProgramUtils.createJobGraph
 * runs it (the REST plan endpoint and the application-mode path): inside a
 * StreamPlanEnvironment that captures the pipeline at execute() instead of
 * running it. OUT receives one JSON object: {"ok": true, ...the graph...} or
 * {"ok": false, "error": {...}} when main() failed. The exit status is 0 when
 * OUT was written, 2 for a usage error.
 */
package dev.flinkplane.dryrun;

import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.client.FlinkPipelineTranslationUtil;
import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.client.program.PackagedProgramUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.OperatorIDPair;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.runtime.jobgraph.tasks.CheckpointCoordinatorConfiguration;
import org.apache.flink.runtime.jobgraph.tasks.JobCheckpointingSettings;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamGraphHasherV2;
import org.apache.flink.streaming.api.graph.StreamNode;

import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Properties;

public final class DryCompile {

    private DryCompile() {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: DryCompile IN.properties OUT.json");
            System.exit(2);
        }
        Properties in = new Properties();
        try (InputStream is = new FileInputStream(args[0])) {
            in.load(is);
        } catch (Exception e) {
            System.err.println("cannot read " + args[0] + ": " + e);
            System.exit(2);
        }
        String json;
        try {
            json = run(in);
        } catch (Throwable t) {
            // Anything not caught as a failure of main(): report it as ours.
            Json j = new Json().begin().field("ok", false);
            j.key("internal").value(true);
            error(j.key("error"), t);
            json = j.end().toString();
        }
        try {
            Path out = Path.of(args[1]);
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            Files.write(tmp, json.getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Exception e) {
            System.err.println("cannot write " + args[1] + ": " + e);
            System.exit(2);
        }
        // User code may leave non-daemon threads behind.
        System.exit(0);
    }

    static String run(Properties in) throws Exception {
        long start = System.nanoTime();
        Map<String, String> conf = new HashMap<>();
        for (String k : in.stringPropertyNames()) {
            if (k.startsWith("conf.")) {
                conf.put(k.substring(5), in.getProperty(k));
            }
        }
        int parallelism = Integer.parseInt(in.getProperty("parallelism", "-1"));
        if (parallelism > 0) {
            conf.put("parallelism.default", Integer.toString(parallelism));
        }
        Configuration configuration = Configuration.fromMap(conf);
        int n = Integer.parseInt(in.getProperty("args", "0"));
        String[] programArgs = new String[n];
        for (int i = 0; i < n; i++) {
            programArgs[i] = in.getProperty("arg." + i, "");
        }
        String entry = in.getProperty("entry", "");

        Json j = new Json().begin();
        PackagedProgram program;
        Pipeline pipeline;
        try {
            program =
                    PackagedProgram.newBuilder()
                            .setJarFile(new File(in.getProperty("jar")))
                            .setEntryPointClassName(entry.isEmpty() ? null : entry)
                            .setArguments(programArgs)
                            .setConfiguration(configuration)
                            .build();
        } catch (Throwable t) {
            j.field("ok", false);
            j.field("stage", "load");
            error(j.key("error"), t);
            return j.end().toString();
        }
        try {
            pipeline =
                    PackagedProgramUtils.getPipelineFromProgram(
                            program, configuration, parallelism, true);
        } catch (Throwable t) {
            j.field("ok", false);
            j.field("stage", "main");
            j.field("entryClass", program.getMainClassName());
            error(j.key("error"), t);
            program.close();
            return j.end().toString();
        }
        long mainNanos = System.nanoTime() - start;

        // Names and uids of every stream node, by the operator id the job
        // graph generator derives from it (the same hasher).
        Map<String, StreamNode> byHash = new HashMap<>();
        String jobName = null;
        if (pipeline instanceof StreamGraph) {
            StreamGraph sg = (StreamGraph) pipeline;
            jobName = sg.getJobName();
            Map<Integer, byte[]> hashes =
                    new StreamGraphHasherV2().traverseStreamGraphAndGenerateHashes(sg);
            for (StreamNode node : sg.getStreamNodes()) {
                byte[] h = hashes.get(node.getId());
                if (h != null) {
                    byHash.put(hex(h), node);
                }
            }
        }
        JobGraph jobGraph;
        try {
            jobGraph =
                    FlinkPipelineTranslationUtil.getJobGraphUnderUserClassLoader(
                            program.getUserCodeClassLoader(), pipeline, configuration, parallelism);
        } catch (Throwable t) {
            // E.g. a uid used twice: the submission would fail the same way.
            j.field("ok", false);
            j.field("stage", "graph");
            j.field("entryClass", program.getMainClassName());
            error(j.key("error"), t);
            program.close();
            return j.end().toString();
        }

        j.field("ok", true);
        j.field("flinkVersion", EnvironmentInformation.getVersion());
        j.field("entryClass", program.getMainClassName());
        j.field("jobName", jobName != null ? jobName : jobGraph.getName());
        j.field("jobType", String.valueOf(jobGraph.getJobType()));
        j.field("parallelism", configuration.toMap().containsKey("parallelism.default")
                ? Integer.parseInt(configuration.toMap().get("parallelism.default"))
                : parallelism);
        JobCheckpointingSettings cs = jobGraph.getCheckpointingSettings();
        j.key("checkpointing").begin();
        if (cs != null) {
            CheckpointCoordinatorConfiguration cc = cs.getCheckpointCoordinatorConfiguration();
            j.field("enabled", cc.isCheckpointingEnabled());
            j.field("intervalMillis", cc.isCheckpointingEnabled() ? cc.getCheckpointInterval() : 0);
            j.field("minPauseMillis", cc.getMinPauseBetweenCheckpoints());
            j.field("timeoutMillis", cc.getCheckpointTimeout());
            j.field("maxConcurrent", cc.getMaxConcurrentCheckpoints());
            j.field("mode", cc.isExactlyOnce() ? "EXACTLY_ONCE" : "AT_LEAST_ONCE");
            j.field("unaligned", cc.isUnalignedCheckpointsEnabled());
            j.field("tolerableFailures", cc.getTolerableCheckpointFailureNumber());
            j.field("retention", String.valueOf(cc.getCheckpointRetentionPolicy()));
        } else {
            j.field("enabled", false);
        }
        j.end();
        Method pairName = method(OperatorIDPair.class, "getUserDefinedOperatorName");
        Method pairUid = method(OperatorIDPair.class, "getUserDefinedOperatorUid");
        j.key("vertices").beginArray();
        for (JobVertex v : jobGraph.getVerticesSortedTopologicallyFromSources()) {
            j.begin();
            j.field("id", v.getID().toString());
            j.field("name", v.getName());
            j.field("parallelism", v.getParallelism());
            j.field("maxParallelism", v.getMaxParallelism());
            j.key("operators").beginArray();
            for (OperatorIDPair p : v.getOperatorIDs()) {
                String id = p.getGeneratedOperatorID().toHexString();
                j.begin();
                j.field("id", id);
                if (p.getUserDefinedOperatorID().isPresent()) {
                    j.field("userDefinedId", p.getUserDefinedOperatorID().get().toHexString());
                }
                StreamNode node = byHash.get(id);
                String uid = node != null ? node.getTransformationUID() : null;
                String name = node != null ? node.getOperatorName() : null;
                if (uid == null) {
                    uid = (String) invoke(pairUid, p);
                }
                if (name == null) {
                    name = (String) invoke(pairName, p);
                }
                if (uid != null) {
                    j.field("uid", uid);
                }
                if (name != null) {
                    j.field("name", name);
                }
                j.end();
            }
            j.endArray();
            j.end();
        }
        j.endArray();
        j.key("millis").begin();
        j.field("main", mainNanos / 1_000_000);
        j.field("total", (System.nanoTime() - start) / 1_000_000);
        j.end();
        program.close();
        return j.end().toString();
    }

    private static Method method(Class<?> c, String name) {
        try {
            return c.getMethod(name);
        } catch (NoSuchMethodException e) {
            return null; // Flink 1.x: OperatorIDPair has no name and uid
        }
    }

    private static Object invoke(Method m, Object o) {
        if (m == null) {
            return null;
        }
        try {
            return m.invoke(o);
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    /** Writes a failure: Flink's message, the cause chain, the trace, captured output. */
    private static void error(Json j, Throwable t) {
        j.begin();
        j.field("class", t.getClass().getName());
        j.field("message", t.getMessage() == null ? "" : firstLines(t.getMessage()));
        j.key("causes").beginArray();
        Map<Throwable, Boolean> seen = new IdentityHashMap<>();
        for (Throwable c = t; c != null && !seen.containsKey(c); c = c.getCause()) {
            seen.put(c, true);
            j.begin();
            j.field("class", c.getClass().getName());
            j.field("message", c.getMessage() == null ? "" : firstLines(c.getMessage()));
            j.end();
        }
        j.endArray();
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        String trace = sw.toString();
        if (trace.length() > 32 << 10) {
            trace = trace.substring(0, 32 << 10);
        }
        j.field("stackTrace", trace);
        j.end();
    }

    /**
     * The message without the parts PackagedProgramUtils appends (classpath,
     * captured System.out and System.err).
     */
    private static String firstLines(String m) {
        int i = m.indexOf("\n\nClasspath:");
        if (i >= 0) {
            m = m.substring(0, i);
        }
        return m.strip();
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }

    /** A small JSON writer (the JDK has none). */
    static final class Json {
        private final StringBuilder sb = new StringBuilder();
        // One entry per open object or array: whether it has an element.
        private final ArrayDeque<boolean[]> open = new ArrayDeque<>();
        private boolean afterKey;

        private void sep() {
            if (afterKey) {
                afterKey = false;
                return;
            }
            boolean[] top = open.peek();
            if (top != null) {
                if (top[0]) {
                    sb.append(',');
                }
                top[0] = true;
            }
        }

        Json begin() {
            sep();
            sb.append('{');
            open.push(new boolean[1]);
            return this;
        }

        Json end() {
            sb.append('}');
            open.pop();
            return this;
        }

        Json beginArray() {
            sep();
            sb.append('[');
            open.push(new boolean[1]);
            return this;
        }

        Json endArray() {
            sb.append(']');
            open.pop();
            return this;
        }

        Json key(String k) {
            sep();
            str(k);
            sb.append(':');
            afterKey = true;
            return this;
        }

        Json value(Object v) {
            sep();
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Number || v instanceof Boolean) {
                sb.append(v);
            } else {
                str(v.toString());
            }
            return this;
        }

        Json field(String k, Object v) {
            return key(k).value(v);
        }

        private void str(String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"':
                        sb.append("\\\"");
                        break;
                    case '\\':
                        sb.append("\\\\");
                        break;
                    case '\n':
                        sb.append("\\n");
                        break;
                    case '\r':
                        sb.append("\\r");
                        break;
                    case '\t':
                        sb.append("\\t");
                        break;
                    default:
                        if (c < 0x20) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                }
            }
            sb.append('"');
        }

        @Override
        public String toString() {
            return sb.toString();
        }
    }
}
