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
 *   jobId=<32 hex>               the job id of the graph (optional)
 *   enforce.checkpointing=true|false, enforce.interval=MS, enforce.minPause=MS
 *                                checkpointing imposed over the program's (optional)
 *   graph=FILE                   write the JobGraph for a REST submission (optional)
 *   restorePlaceholder=S, allowNonRestoredState=B   its restore settings
 *   graceMillis=MS               how long main() may run on after execute()
 *
 * The job's main() runs the way the cluster's jar run (a detached
 * submission) runs it, inside an environment that captures the pipeline at
 * execute() instead of running it, as Flink's PackagedProgramUtils does for
 * the REST plan endpoint, but lets main() go on after execute() as the
 * detached submission does (see capture). OUT receives one JSON object:
 * {"ok": true, ...the graph...} or {"ok": false, "error": {...}} when main()
 * failed. The exit status is 0 when OUT was written, 2 for a usage error.
 */
package dev.flinkplane.dryrun;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.client.FlinkPipelineTranslationUtil;
import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.OperatorIDPair;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.jobgraph.tasks.CheckpointCoordinatorConfiguration;
import org.apache.flink.runtime.jobgraph.tasks.JobCheckpointingSettings;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.environment.CheckpointConfig;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironmentFactory;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamGraphHasherV2;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.apache.flink.util.FlinkRuntimeException;

import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.ObjectOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;

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
        // The cluster's jar run is detached: execute() returns at once and
        // main() goes on.
        conf.put("execution.attached", "false");
        Configuration configuration = Configuration.fromMap(conf);
        int n = Integer.parseInt(in.getProperty("args", "0"));
        String[] programArgs = new String[n];
        for (int i = 0; i < n; i++) {
            programArgs[i] = in.getProperty("arg." + i, "");
        }
        String entry = in.getProperty("entry", "");
        String jobId = in.getProperty("jobId", "");
        long graceMillis = Long.parseLong(in.getProperty("graceMillis", "5000"));

        Json j = new Json().begin();
        PackagedProgram program;
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
        JobID id = jobId.isEmpty() ? new JobID() : JobID.fromHexString(jobId);
        Captured captured = capture(program, configuration, parallelism, id, graceMillis);
        if (captured.failure != null || captured.pipeline == null) {
            j.field("ok", false);
            j.field("stage", "main");
            j.field("entryClass", program.getMainClassName());
            j.field("pipelineBuilt", captured.pipeline != null);
            Throwable t = captured.failure;
            if (t == null) {
                t =
                        new IllegalStateException(
                                "The program plan could not be fetched - the program aborted pre-maturely. "
                                        + "The root cause may be that the main method doesn't call `env.execute()` or `env.executeAsync()`.");
            }
            error(j.key("error"), t);
            program.close();
            return j.end().toString();
        }
        Pipeline pipeline = captured.pipeline;
        long mainNanos = System.nanoTime() - start;

        // Names and uids of every stream node, by the operator id the job
        // graph generator derives from it (the same hasher).
        Map<String, StreamNode> byHash = new HashMap<>();
        String jobName = null;
        Json requested = null;
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
            if (in.getProperty("enforce.checkpointing") != null) {
                requested = checkpointing(new Json(), sg.getCheckpointConfig());
                enforceCheckpointing(sg, in);
            }
        }
        JobGraph jobGraph;
        try {
            jobGraph =
                    FlinkPipelineTranslationUtil.getJobGraphUnderUserClassLoader(
                            program.getUserCodeClassLoader(), pipeline, configuration, parallelism);
            jobGraph.setJobID(id);
            jobGraph.setClasspaths(program.getClasspaths());
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
        j.field("jobId", id.toHexString());
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
        if (requested != null) {
            j.key("requestedCheckpointing").raw(requested.toString());
        }
        Method pairName = method(OperatorIDPair.class, "getUserDefinedOperatorName");
        Method pairUid = method(OperatorIDPair.class, "getUserDefinedOperatorUid");
        j.key("vertices").beginArray();
        for (JobVertex v : jobGraph.getVerticesSortedTopologicallyFromSources()) {
            j.begin();
            j.field("id", v.getID().toString());
            j.field("name", v.getName());
            j.field("parallelism", v.getParallelism());
            j.field("maxParallelism", v.getMaxParallelism());
            if (v.getSlotSharingGroup() != null) {
                j.field("slotSharingGroup", v.getSlotSharingGroup().getSlotSharingGroupId().toString());
            }
            j.key("operators").beginArray();
            for (OperatorIDPair p : v.getOperatorIDs()) {
                String opId = p.getGeneratedOperatorID().toHexString();
                j.begin();
                j.field("id", opId);
                if (p.getUserDefinedOperatorID().isPresent()) {
                    j.field("userDefinedId", p.getUserDefinedOperatorID().get().toHexString());
                }
                StreamNode node = byHash.get(opId);
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
        String graphFile = in.getProperty("graph", "");
        if (!graphFile.isEmpty()) {
            writeGraph(j, jobGraph, program, graphFile, in);
        }
        j.key("millis").begin();
        j.field("main", mainNanos / 1_000_000);
        j.field("total", (System.nanoTime() - start) / 1_000_000);
        j.end();
        program.close();
        return j.end().toString();
    }

    /** What main() left behind: the pipeline of its first execute(), and its failure. */
    static final class Captured {
        Pipeline pipeline;
        Throwable failure;
    }

    /**
     * Runs main() with a context environment that captures the pipeline of the first execute()
     * (or executeAsync()) and lets main() go on as on the cluster, whose jar run is detached:
     * execute() returns a detached result, a second execute() fails as in Flink's session
     * cluster, and an exception main() throws afterwards (e.g. reading the result of the
     * detached execution) is reported like one before. main() has graceMillis after the
     * capture to return; then the captured pipeline stands (as on the cluster, where the job
     * runs while main() goes on). Flink 1.x DataSet programs are captured by Flink's own
     * OptimizerPlanEnvironment, which ends main() at execute().
     */
    static Captured capture(
            PackagedProgram program,
            Configuration configuration,
            int parallelism,
            JobID id,
            long graceMillis)
            throws InterruptedException {
        Captured c = new Captured();
        CaptureEnvironment senv =
                new CaptureEnvironment(
                        configuration, program.getUserCodeClassLoader(), parallelism, id);
        Object benv = dataSetEnvironment(configuration, program, parallelism);
        senv.setAsContext();
        Thread main =
                new Thread(
                        () -> {
                            try {
                                program.invokeInteractiveModeForExecution();
                            } catch (Throwable t) {
                                c.failure = t;
                            }
                        },
                        "main");
        main.setContextClassLoader(program.getUserCodeClassLoader());
        main.setDaemon(true);
        main.start();
        synchronized (senv) {
            while (main.isAlive() && senv.graph == null) {
                senv.wait(50);
            }
        }
        if (senv.graph != null) {
            main.join(graceMillis);
        }
        CaptureEnvironment.unsetAsContext();
        Pipeline dataSet = (Pipeline) invoke(method(benv, "getPipeline"), benv);
        invoke(method(benv, "unsetAsContext"), benv);
        if (dataSet != null) {
            c.pipeline = dataSet;
            if (c.failure != null
                    && c.failure.getClass().getName().endsWith(".ProgramAbortException")) {
                c.failure = null; // how OptimizerPlanEnvironment ends main()
            }
        } else {
            c.pipeline = senv.graph;
        }
        return c;
    }

    /** Flink 1.x's OptimizerPlanEnvironment (DataSet API) as a context, or null. */
    private static Object dataSetEnvironment(
            Configuration configuration, PackagedProgram program, int parallelism) {
        try {
            Class<?> c = Class.forName("org.apache.flink.client.program.OptimizerPlanEnvironment");
            Object env =
                    c.getConstructor(Configuration.class, ClassLoader.class, int.class)
                            .newInstance(configuration, program.getUserCodeClassLoader(), parallelism);
            c.getMethod("setAsContext").invoke(env);
            return env;
        } catch (ReflectiveOperationException | LinkageError e) {
            return null; // Flink 2.x: no DataSet API
        }
    }

    private static Method method(Object o, String name) {
        return o == null ? null : method(o.getClass(), name);
    }

    /** The environment main() gets from StreamExecutionEnvironment.getExecutionEnvironment(). */
    static final class CaptureEnvironment extends StreamExecutionEnvironment {
        private final JobID jobId;
        volatile StreamGraph graph;

        CaptureEnvironment(
                Configuration configuration, ClassLoader userClassLoader, int parallelism, JobID id) {
            super(configuration, userClassLoader);
            this.jobId = id;
            if (parallelism > 0) {
                setParallelism(parallelism);
            }
        }

        @Override
        public JobClient executeAsync(StreamGraph streamGraph) {
            synchronized (this) {
                if (graph != null) {
                    // What Flink's StreamContextEnvironment says in a session cluster.
                    throw new FlinkRuntimeException(
                            "Cannot have more than one execute() or executeAsync() call in a single environment.");
                }
                graph = streamGraph;
                notifyAll();
            }
            return detachedClient(jobId);
        }

        void setAsContext() {
            StreamExecutionEnvironmentFactory factory =
                    conf -> {
                        this.configure(conf, getUserClassloader());
                        return this;
                    };
            initializeContextEnvironment(factory);
        }

        static void unsetAsContext() {
            resetContextEnvironment();
        }
    }

    /**
     * The JobClient of a detached submission: it knows the job id and that the job runs; its
     * result never comes (the job runs on), anything else is not available.
     */
    static JobClient detachedClient(JobID id) {
        return (JobClient)
                Proxy.newProxyInstance(
                        JobClient.class.getClassLoader(),
                        new Class<?>[] {JobClient.class},
                        (proxy, m, args) -> {
                            switch (m.getName()) {
                                case "getJobID":
                                    return id;
                                case "getJobStatus":
                                    return CompletableFuture.completedFuture(JobStatus.RUNNING);
                                case "getJobExecutionResult":
                                    return new CompletableFuture<>();
                                case "toString":
                                    return "JobClient(" + id + ", detached)";
                                case "hashCode":
                                    return System.identityHashCode(proxy);
                                case "equals":
                                    return proxy == args[0];
                                default:
                            }
                            UnsupportedOperationException e =
                                    new UnsupportedOperationException(
                                            m.getName() + " is not available to a detached job's main()");
                            if (CompletableFuture.class.isAssignableFrom(m.getReturnType())) {
                                CompletableFuture<Object> f = new CompletableFuture<>();
                                f.completeExceptionally(e);
                                return f;
                            }
                            throw e;
                        });
    }

    /**
     * Imposes the service's checkpointing over what the program set, on the StreamGraph before
     * it is translated (the JobGraph's checkpoint coordinator settings and every task's
     * configuration come from it) and in the job configuration it carries: enabled or not,
     * interval and min pause as given, one checkpoint at a time, exactly-once, aligned, and
     * completed checkpoints retained on cancellation (the service's restore points).
     */
    static void enforceCheckpointing(StreamGraph sg, Properties in) {
        CheckpointConfig cc = sg.getCheckpointConfig();
        Configuration jc = sg.getJobConfiguration();
        if (Boolean.parseBoolean(in.getProperty("enforce.checkpointing"))) {
            long interval = Math.max(10, Long.parseLong(in.getProperty("enforce.interval", "60000")));
            long minPause = Math.max(0, Long.parseLong(in.getProperty("enforce.minPause", "5000")));
            cc.setCheckpointInterval(interval);
            cc.setMinPauseBetweenCheckpoints(minPause);
            cc.setMaxConcurrentCheckpoints(1);
            cc.setCheckpointingConsistencyMode(CheckpointingMode.EXACTLY_ONCE);
            cc.enableUnalignedCheckpoints(false);
            cc.setExternalizedCheckpointRetention(ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
            jc.setString("execution.checkpointing.interval", interval + " ms");
            jc.setString("execution.checkpointing.min-pause", minPause + " ms");
            jc.setString("execution.checkpointing.max-concurrent-checkpoints", "1");
            jc.setString("execution.checkpointing.mode", "EXACTLY_ONCE");
            jc.setString("execution.checkpointing.unaligned.enabled", "false");
            jc.setString("execution.checkpointing.unaligned", "false");
            jc.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        } else {
            cc.disableCheckpointing();
            jc.removeKey("execution.checkpointing.interval");
        }
    }

    /** The checkpointing a CheckpointConfig asks for (the program's, before it is imposed). */
    private static Json checkpointing(Json j, CheckpointConfig cc) {
        j.begin();
        j.field("enabled", cc.isCheckpointingEnabled());
        if (cc.isCheckpointingEnabled()) {
            j.field("intervalMillis", cc.getCheckpointInterval());
        }
        j.field("minPauseMillis", cc.getMinPauseBetweenCheckpoints());
        j.field("timeoutMillis", cc.getCheckpointTimeout());
        j.field("maxConcurrent", cc.getMaxConcurrentCheckpoints());
        j.field("mode", String.valueOf(cc.getCheckpointingConsistencyMode()));
        j.field("unaligned", cc.isUnalignedCheckpointsEnabled());
        j.field("tolerableFailures", cc.getTolerableCheckpointFailureNumber());
        return j.end();
    }

    /**
     * Writes the JobGraph for a submission through Flink's REST API (POST /jobs, as Flink's own
     * RestClusterClient serializes it): FILE without a restore, FILE.restore restored from the
     * placeholder path (the control plane puts the savepoint's path in its place once the
     * savepoint exists), and the jars the program's class loader has besides the user jar (its
     * nested lib/ jars, extracted by PackagedProgram) as FILE-lib-N.jar.
     */
    private static void writeGraph(
            Json j, JobGraph jobGraph, PackagedProgram program, String file, Properties in)
            throws Exception {
        boolean allow = Boolean.parseBoolean(in.getProperty("allowNonRestoredState", "false"));
        String placeholder = in.getProperty("restorePlaceholder", "");
        jobGraph.setSavepointRestoreSettings(SavepointRestoreSettings.none());
        serialize(jobGraph, Path.of(file));
        j.field("graphFile", file);
        if (!placeholder.isEmpty()) {
            jobGraph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(placeholder, allow));
            serialize(jobGraph, Path.of(file + ".restore"));
            j.field("restoreGraphFile", file + ".restore");
        }
        j.key("jars").beginArray();
        List<URL> deps = program.getJobJarAndDependencies();
        String userJar = new File(in.getProperty("jar")).getAbsoluteFile().toURI().toString();
        int i = 0;
        for (URL u : deps) {
            if (u.toString().equals(userJar) || new File(u.toURI()).getAbsoluteFile().toURI().toString().equals(userJar)) {
                continue;
            }
            Path dst = Path.of(file + "-lib-" + (i++) + ".jar");
            Files.copy(Path.of(u.toURI()), dst, StandardCopyOption.REPLACE_EXISTING);
            j.value(dst.toString());
        }
        j.endArray();
    }

    private static void serialize(JobGraph g, Path dst) throws Exception {
        Path tmp = dst.resolveSibling(dst.getFileName() + ".tmp");
        try (ObjectOutputStream out = new ObjectOutputStream(Files.newOutputStream(tmp))) {
            out.writeObject(g);
        }
        Files.move(tmp, dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
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

        /** Writes JSON text as the next value. */
        Json raw(String json) {
            sep();
            sb.append(json);
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
