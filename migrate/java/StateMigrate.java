/*
 * flinkplane's state migration helper: moves the keyed state of chosen
 * operators of a savepoint from the serializers that wrote it to the
 * serializers a new job uses, through a neutral encoding, with Flink's State
 * Processor API. Compiled by flinkplane itself (javac against a runtime's
 * jars and flink-state-processor-api, cached per runtime; see migrate/helper.go)
 * and run as
 *
 *   java -cp <this>:<runtime lib jars>:<state processor api>:<user jar> \
 *        dev.flinkplane.migrate.StateMigrate read|write IN.properties OUT.json
 *
 * read (on the runtime that wrote the savepoint, with the jar whose classes
 * the state was written with):
 *   savepoint=DIR        the savepoint
 *   operators=ID,ID      operator ids (32 hex digits) whose keyed state is read
 *   out=DIR              where <id>.jsonl files go (one JSON object per key)
 *   inspect=true         only check that the state can be read (no data moved)
 *   backend=hashmap|rocksdb, parallelism=N
 * For each operator the serializers recorded in the savepoint's state meta
 * information (the keyed backend's serialization proxy) are restored with the
 * user jar's classes and given to the State Processor API's keyed state
 * reader: each value is read exactly as the old job wrote it and written in
 * the neutral encoding (docs/migrate.md). OUT: {"ok":true,"operators":[...]}.
 *
 * write (on the target runtime, with the new jar):
 *   savepoint=DIR, manifest=OUT.json of read, out=DIR (must not exist),
 *   jar=JAR, entry=CLASS, args=N, arg.I=..., parallelism=N, conf.K=V
 *   inspect=true         only capture the new job's descriptors and match them
 * The new job's main() runs in a plan environment (as a dry compile does); the
 * state descriptors its operators' functions register in open() (and in
 * initializeState) are captured with a recording RuntimeContext, and the
 * operator's key serializer is taken from its stream node. The values of the
 * neutral encoding are built into the new job's classes and written with those
 * descriptors by SavepointWriter.fromExistingSavepoint: every other operator's
 * state is taken over unchanged.
 *
 * The exit status is 0 when OUT was written, 2 for a usage error.
 */
package dev.flinkplane.migrate;

import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.Function;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFunction;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.functions.util.FunctionUtils;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.State;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.client.program.PackagedProgramUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.OperatorStateHandle;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.OperatorTransformation;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.api.SavepointWriter;
import org.apache.flink.state.api.StateBootstrapTransformation;
import org.apache.flink.state.api.functions.KeyedStateBootstrapFunction;
import org.apache.flink.state.api.functions.KeyedStateReaderFunction;
import org.apache.flink.state.api.runtime.SavepointLoader;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamGraphHasherV2;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.apache.flink.streaming.api.operators.AbstractUdfStreamOperator;
import org.apache.flink.streaming.api.operators.SimpleOperatorFactory;
import org.apache.flink.streaming.api.operators.SimpleUdfStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.StreamOperatorFactory;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.util.InstantiationUtil;

import java.io.BufferedWriter;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.Serializable;
import java.io.StringWriter;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Proxy;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

public final class StateMigrate {

    /** Timer services the State Processor API reads and writes (KeyedProcessFunction's). */
    static final String EVENT_TIMERS = "_timer_state/event_user-timers";

    static final String PROCESSING_TIMERS = "_timer_state/processing_user-timers";

    /** Notes of the tasks (the local cluster runs in this JVM). */
    static final Map<String, Boolean> NOTES = new ConcurrentHashMap<>();

    private StateMigrate() {}

    public static void main(String[] args) {
        if (args.length != 3 || !(args[0].equals("read") || args[0].equals("write"))) {
            System.err.println("usage: StateMigrate read|write IN.properties OUT.json");
            System.exit(2);
        }
        Properties in = new Properties();
        try (InputStream is = new FileInputStream(args[1])) {
            in.load(is);
        } catch (Exception e) {
            System.err.println("cannot read " + args[1] + ": " + e);
            System.exit(2);
        }
        String json;
        try {
            json = args[0].equals("read") ? read(in) : write(in);
        } catch (Refusal r) {
            Json j = new Json().begin().field("ok", false).field("refused", r.getMessage());
            if (r.operator != null) {
                j.field("operator", r.operator);
            }
            json = j.end().toString();
        } catch (Throwable t) {
            Json j = new Json().begin().field("ok", false);
            error(j.key("error"), t);
            json = j.end().toString();
        }
        // The JVM's own peak resident memory (VmHWM of its address space, which
        // a getrusage of the parent would mix with the parent's at fork).
        long hwm = peakRssKiB();
        if (hwm > 0 && json.endsWith("}")) {
            json = json.substring(0, json.length() - 1) + ",\"peakRssKiB\":" + hwm + "}";
        }
        try {
            Path out = Path.of(args[2]);
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            Files.write(tmp, json.getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Exception e) {
            System.err.println("cannot write " + args[2] + ": " + e);
            System.exit(2);
        }
        System.exit(0);
    }

    static long peakRssKiB() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmHWM:")) {
                    return Long.parseLong(l.substring(6).trim().split("\\s+")[0]);
                }
            }
        } catch (Exception e) {
            // not Linux
        }
        return 0;
    }

    /** A state that cannot be migrated, with the reason a person reads. */
    static final class Refusal extends Exception {
        final String operator;

        Refusal(String operator, String message) {
            super(message);
            this.operator = operator;
        }
    }

    // ---------------------------------------------------------------- read

    /** One keyed state of an operator as the savepoint records it. */
    static final class StateSpec implements Serializable {
        private static final long serialVersionUID = 1L;
        final String name;
        final String kind; // VALUE, LIST, MAP
        final TypeSerializer<?> value; // VALUE: the value; LIST: the element; MAP: the map value
        final TypeSerializer<?> mapKey; // MAP only

        StateSpec(String name, String kind, TypeSerializer<?> value, TypeSerializer<?> mapKey) {
            this.name = name;
            this.kind = kind;
            this.value = value;
            this.mapKey = mapKey;
        }
    }

    /** What the savepoint records of one operator's keyed state. */
    static final class OperatorSpec {
        String id;
        int maxParallelism;
        TypeSerializer<?> keySerializer;
        final List<StateSpec> states = new ArrayList<>();
        final List<String> snapshotClasses = new ArrayList<>();
        boolean timers;
    }

    static String read(Properties in) throws Exception {
        long start = System.nanoTime();
        String savepoint = required(in, "savepoint");
        boolean inspect = Boolean.parseBoolean(in.getProperty("inspect", "false"));
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        CheckpointMetadata md = SavepointLoader.loadSavepointMetadata(savepoint);
        Json j = new Json().begin().field("ok", true);
        j.field("flinkVersion", EnvironmentInformation.getVersion());
        j.key("operators").beginArray();
        for (String id : list(in.getProperty("operators", ""))) {
            OperatorSpec spec = inspectOperator(md, id, cl);
            j.begin();
            j.field("id", id);
            j.field("maxParallelism", spec.maxParallelism);
            j.field("keySerializer", spec.keySerializer.getClass().getName());
            j.key("states").beginArray();
            for (StateSpec s : spec.states) {
                j.begin().field("name", s.name).field("kind", s.kind).field("serializer", describe(s)).end();
            }
            j.endArray();
            j.field("timers", spec.timers);
            if (!inspect) {
                String file = id + ".jsonl";
                long[] counts = dump(in, savepoint, spec, Path.of(required(in, "out"), file));
                j.field("file", file);
                j.field("keys", counts[0]);
                j.field("values", counts[1]);
                j.field("eventTimers", counts[2]);
                j.field("processingTimers", counts[3]);
            }
            j.end();
        }
        j.endArray();
        j.field("millis", (System.nanoTime() - start) / 1_000_000);
        return j.end().toString();
    }

    static String describe(StateSpec s) {
        String v = s.value.getClass().getName();
        return s.mapKey == null ? v : s.mapKey.getClass().getName() + " -> " + v;
    }

    /** Reads the state meta information of an operator and restores its serializers. */
    static OperatorSpec inspectOperator(CheckpointMetadata md, String id, ClassLoader cl) throws Exception {
        OperatorID oid = new OperatorID(hexToBytes(id));
        OperatorState op = null;
        for (OperatorState o : md.getOperatorStates()) {
            if (o.getOperatorID().equals(oid)) {
                op = o;
            }
        }
        if (op == null) {
            throw new Refusal(id, "The savepoint has no state of operator " + id + ".");
        }
        if (op.getCoordinatorState() != null) {
            throw new Refusal(id, "Operator " + id + " has coordinator state (a source's enumerator): only the keyed state of an operator can be migrated.");
        }
        OperatorSpec spec = new OperatorSpec();
        spec.id = id;
        spec.maxParallelism = op.getMaxParallelism();
        Map<String, StateMetaInfoSnapshot> metas = new LinkedHashMap<>();
        for (OperatorSubtaskState st : op.getStates()) {
            if (!st.getRawKeyedState().isEmpty() || !st.getRawOperatorState().isEmpty()) {
                throw new Refusal(id, "Operator " + id + " has raw state (written by the operator itself, not through a state descriptor): it cannot be migrated.");
            }
            for (OperatorStateHandle h : st.getManagedOperatorState()) {
                if (!h.getStateNameToPartitionOffsets().isEmpty()) {
                    throw new Refusal(id, "Operator " + id + " has operator (non-keyed) state " + h.getStateNameToPartitionOffsets().keySet()
                            + " besides its keyed state: flinkplane migrates keyed state only, and rewriting the operator would lose it.");
                }
            }
            for (KeyedStateHandle kh : st.getManagedKeyedState()) {
                if (!(kh instanceof KeyGroupsStateHandle)) {
                    throw new Refusal(id, "The keyed state of operator " + id + " is in a state backend's native format ("
                            + kh.getClass().getSimpleName() + "): only canonical savepoints can be migrated.");
                }
                KeyedBackendSerializationProxy<Object> proxy = new KeyedBackendSerializationProxy<>(cl);
                try (InputStream s = ((KeyGroupsStateHandle) kh).openInputStream()) {
                    proxy.read(new DataInputViewStreamWrapper(s));
                }
                if (spec.keySerializer == null) {
                    spec.keySerializer = proxy.getKeySerializerSnapshot().restoreSerializer();
                }
                for (StateMetaInfoSnapshot m : proxy.getStateMetaInfoSnapshots()) {
                    metas.putIfAbsent(m.getName(), m);
                }
            }
        }
        if (spec.keySerializer == null) {
            throw new Refusal(id, "Operator " + id + " has no keyed state in the savepoint.");
        }
        for (StateMetaInfoSnapshot m : metas.values()) {
            String name = m.getName();
            switch (m.getBackendStateType()) {
                case PRIORITY_QUEUE:
                    if (!name.equals(EVENT_TIMERS) && !name.equals(PROCESSING_TIMERS)) {
                        throw new Refusal(id, "Operator " + id + " has timers of its own (" + name
                                + ", e.g. a window operator's): only the timers of a process function (user-timers) can be migrated.");
                    }
                    spec.timers = true;
                    continue;
                case KEY_VALUE:
                    break;
                default:
                    throw new Refusal(id, "State " + name + " of operator " + id + " is of type " + m.getBackendStateType() + ", which cannot be migrated.");
            }
            TypeSerializerSnapshot<?> ns = m.getTypeSerializerSnapshot(StateMetaInfoSnapshot.CommonSerializerKeys.NAMESPACE_SERIALIZER);
            TypeSerializer<?> nsSer = ns == null ? null : ns.restoreSerializer();
            if (!(nsSer instanceof VoidNamespaceSerializer)) {
                throw new Refusal(id, "State " + name + " of operator " + id + " lives in namespaces (" + (nsSer == null ? "?" : nsSer.getClass().getSimpleName())
                        + ", e.g. windows): only state of the default namespace can be migrated.");
            }
            String kind = m.getOption(StateMetaInfoSnapshot.CommonOptionsKeys.KEYED_STATE_TYPE);
            TypeSerializerSnapshot<?> vs = m.getTypeSerializerSnapshot(StateMetaInfoSnapshot.CommonSerializerKeys.VALUE_SERIALIZER);
            spec.snapshotClasses.add(vs.getClass().getName());
            if (vs.getClass().getName().contains("Ttl")) {
                throw new Refusal(id, "State " + name + " of operator " + id + " has a time-to-live: its values carry timestamps the migration cannot carry.");
            }
            TypeSerializer<?> v = vs.restoreSerializer();
            if ("VALUE".equals(kind)) {
                spec.states.add(new StateSpec(name, kind, v, null));
            } else if ("LIST".equals(kind) && v instanceof ListSerializer) {
                spec.states.add(new StateSpec(name, kind, ((ListSerializer<?>) v).getElementSerializer(), null));
            } else if ("MAP".equals(kind) && v instanceof MapSerializer) {
                MapSerializer<?, ?> ms = (MapSerializer<?, ?>) v;
                spec.states.add(new StateSpec(name, kind, ms.getValueSerializer(), ms.getKeySerializer()));
            } else {
                throw new Refusal(id, "State " + name + " of operator " + id + " is a " + kind
                        + " state: value, list and map state can be migrated (a reducing or aggregating state needs its function).");
            }
        }
        // One order for every line and both runtimes (the savepoint lists
        // states in the order the backend registered them).
        spec.states.sort((a, b) -> a.name.compareTo(b.name));
        return spec;
    }

    static StreamExecutionEnvironment environment(Properties in) {
        Configuration conf = new Configuration();
        conf.setString("execution.runtime-mode", "BATCH");
        int p = Integer.parseInt(in.getProperty("parallelism", "1"));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        env.setParallelism(p);
        return env;
    }

    static StateBackend backend(Properties in) throws Exception {
        if ("rocksdb".equals(in.getProperty("backend", "hashmap"))) {
            for (String c : new String[] {
                "org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend", // 2.x
                "org.apache.flink.contrib.streaming.state.EmbeddedRocksDBStateBackend" // 1.x
            }) {
                try {
                    return (StateBackend) Class.forName(c).getConstructor().newInstance();
                } catch (ClassNotFoundException e) {
                    // the other line
                }
            }
        }
        return new HashMapStateBackend();
    }

    /** Reads every key of the operator into file; returns keys, values, event and processing timers. */
    static long[] dump(Properties in, String savepoint, OperatorSpec spec, Path file) throws Exception {
        StreamExecutionEnvironment env = environment(in);
        SavepointReader reader = SavepointReader.read(env, savepoint, backend(in));
        DataStream<String> lines = reader.readKeyedState(
                OperatorIdentifier.forUidHash(spec.id), new Reader(spec.states, spec.timers),
                new SerializerTypeInfo<>(spec.keySerializer), Types.STRING);
        long[] counts = new long[4];
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8);
                CloseableIterator<String> it = lines.executeAndCollect("flinkplane: read state of " + spec.id)) {
            while (it.hasNext()) {
                String line = it.next();
                // The reader prefixes each line with its counts: v,e,p|json
                int bar = line.indexOf('|');
                String[] c = line.substring(0, bar).split(",");
                counts[0]++;
                counts[1] += Long.parseLong(c[0]);
                counts[2] += Long.parseLong(c[1]);
                counts[3] += Long.parseLong(c[2]);
                w.write(line, bar + 1, line.length() - bar - 1);
                w.write('\n');
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return counts;
    }

    /** Reads a key's states with the serializers the savepoint recorded. */
    static final class Reader extends KeyedStateReaderFunction<Object, String> {
        private static final long serialVersionUID = 1L;
        private final List<StateSpec> specs;
        private final boolean timers;
        private transient List<State> states;

        Reader(List<StateSpec> specs, boolean timers) {
            this.specs = specs;
            this.timers = timers;
        }

        // Flink 1.x declares open(Configuration) abstract and calls it; 2.x calls open(OpenContext).
        public void open(Configuration parameters) {
            init();
        }

        @Override
        public void open(OpenContext ctx) {
            init();
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private void init() {
            if (states != null) {
                return;
            }
            states = new ArrayList<>();
            RuntimeContext rc = getRuntimeContext();
            for (StateSpec s : specs) {
                switch (s.kind) {
                    case "VALUE":
                        states.add(rc.getState(new ValueStateDescriptor(s.name, (TypeSerializer) s.value)));
                        break;
                    case "LIST":
                        states.add(rc.getListState(new ListStateDescriptor(s.name, (TypeSerializer) s.value)));
                        break;
                    default:
                        states.add(rc.getMapState(new MapStateDescriptor(s.name, (TypeSerializer) s.mapKey, (TypeSerializer) s.value)));
                }
            }
        }

        @Override
        @SuppressWarnings("unchecked")
        public void readKey(Object key, Context ctx, Collector<String> out) throws Exception {
            long values = 0;
            Json j = new Json().begin();
            j.key("key").raw(Neutral.encode(key));
            j.key("state").begin();
            for (int i = 0; i < specs.size(); i++) {
                StateSpec s = specs.get(i);
                State st = states.get(i);
                switch (s.kind) {
                    case "VALUE": {
                        Object v = ((ValueState<Object>) st).value();
                        if (v != null) {
                            j.key(s.name).raw(Neutral.encode(v));
                            values++;
                        }
                        break;
                    }
                    case "LIST": {
                        Iterable<Object> it = ((ListState<Object>) st).get();
                        List<Object> items = new ArrayList<>();
                        if (it != null) {
                            for (Object o : it) {
                                items.add(o);
                            }
                        }
                        if (!items.isEmpty()) {
                            j.key(s.name).raw(Neutral.encode(items));
                            values++;
                        }
                        break;
                    }
                    default: {
                        Map<Object, Object> m = new HashMap<>();
                        Iterable<Map.Entry<Object, Object>> es = ((MapState<Object, Object>) st).entries();
                        if (es != null) {
                            for (Map.Entry<Object, Object> e : es) {
                                m.put(e.getKey(), e.getValue());
                            }
                        }
                        if (!m.isEmpty()) {
                            j.key(s.name).raw(Neutral.encode(m));
                            values++;
                        }
                    }
                }
            }
            j.end();
            long ev = 0;
            long pr = 0;
            if (timers) {
                List<Long> e = sorted(ctx.registeredEventTimeTimers());
                List<Long> p = sorted(ctx.registeredProcessingTimeTimers());
                ev = e.size();
                pr = p.size();
                if (ev + pr > 0) {
                    j.key("timers").begin();
                    j.key("event").raw(longs(e));
                    j.key("processing").raw(longs(p));
                    j.end();
                }
            }
            j.end();
            if (values + ev + pr > 0) {
                out.collect(values + "," + ev + "," + pr + "|" + j);
            }
        }

        private static List<Long> sorted(Set<Long> s) {
            List<Long> l = new ArrayList<>(s);
            Collections.sort(l);
            return l;
        }

        private static String longs(List<Long> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    sb.append(',');
                }
                sb.append(l.get(i));
            }
            return sb.append(']').toString();
        }
    }

    /** TypeInformation of a given serializer (the key of state read or written). */
    static final class SerializerTypeInfo<T> extends TypeInformation<T> {
        private static final long serialVersionUID = 1L;
        private final TypeSerializer<T> serializer;

        @SuppressWarnings("unchecked")
        SerializerTypeInfo(TypeSerializer<?> serializer) {
            this.serializer = (TypeSerializer<T>) serializer;
        }

        @Override
        public boolean isBasicType() {
            return false;
        }

        @Override
        public boolean isTupleType() {
            return false;
        }

        @Override
        public int getArity() {
            return 1;
        }

        @Override
        public int getTotalFields() {
            return 1;
        }

        @Override
        @SuppressWarnings("unchecked")
        public Class<T> getTypeClass() {
            return (Class<T>) (Class<?>) Object.class;
        }

        @Override
        public boolean isKeyType() {
            return true;
        }

        // Flink 2.x
        @Override
        public TypeSerializer<T> createSerializer(SerializerConfig config) {
            return serializer.duplicate();
        }

        // Flink 1.x (abstract there; a plain method on 2.x)
        public TypeSerializer<T> createSerializer(ExecutionConfig config) {
            return serializer.duplicate();
        }

        @Override
        public String toString() {
            return "SerializerTypeInfo(" + serializer + ")";
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SerializerTypeInfo && ((SerializerTypeInfo<?>) o).serializer.equals(serializer);
        }

        @Override
        public int hashCode() {
            return serializer.hashCode();
        }

        @Override
        public boolean canEqual(Object o) {
            return o instanceof SerializerTypeInfo;
        }
    }

    // --------------------------------------------------------------- write

    /** What the new job declares for one operator. */
    static final class Captured {
        String id;
        String uid;
        TypeSerializer<?> keySerializer;
        final Map<String, StateDescriptor<?, ?>> descriptors = new LinkedHashMap<>();
        final List<String> unsupported = new ArrayList<>();
        String function;
    }

    static String write(Properties in) throws Exception {
        long start = System.nanoTime();
        String savepoint = required(in, "savepoint");
        boolean inspect = Boolean.parseBoolean(in.getProperty("inspect", "false"));
        Map<String, Object> manifest = asMap(Neutral.parse(new String(Files.readAllBytes(Path.of(required(in, "manifest"))), StandardCharsets.UTF_8)));
        if (!Boolean.TRUE.equals(manifest.get("ok"))) {
            throw new IllegalArgumentException("the read manifest is not a successful read");
        }
        List<Object> ops = asList(manifest.get("operators"));
        Set<String> ids = new HashSet<>();
        for (Object o : ops) {
            ids.add((String) asMap(o).get("id"));
        }
        Map<String, Captured> captured = capture(in, ids);
        Json j = new Json().begin().field("ok", true);
        j.field("flinkVersion", EnvironmentInformation.getVersion());
        StreamExecutionEnvironment env = environment(in);
        SavepointWriter writer = inspect ? null : SavepointWriter.fromExistingSavepoint(env, savepoint, backend(in));
        j.key("operators").beginArray();
        for (Object o : ops) {
            Map<String, Object> op = asMap(o);
            String id = (String) op.get("id");
            Captured c = captured.get(id);
            if (c == null) {
                throw new Refusal(id, "The new job has no operator with id " + id + " to take the migrated state.");
            }
            if (c.keySerializer == null) {
                throw new Refusal(id, "Operator " + label(c) + " of the new job is not keyed: its keyed state cannot be restored there.");
            }
            List<StateDescriptor<?, ?>> descs = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (Object so : asList(op.get("states"))) {
                Map<String, Object> s = asMap(so);
                String name = (String) s.get("name");
                String kind = (String) s.get("kind");
                StateDescriptor<?, ?> d = c.descriptors.get(name);
                if (d == null) {
                    String why = c.function == null
                            ? "its operator is not a function the migration can open"
                            : "its function " + c.function + " does not register it when it opens (open() or initializeState())";
                    if (!c.unsupported.isEmpty()) {
                        why += "; it registers " + c.unsupported;
                    }
                    throw new Refusal(id, "State " + name + " of operator " + label(c) + " is not declared by the new job: " + why
                            + ". The migration writes state with the descriptors the new job declares.");
                }
                if (!d.getType().name().equals(kind)) {
                    throw new Refusal(id, "State " + name + " of operator " + label(c) + " was a " + kind + " state; the new job declares a "
                            + d.getType() + " state of that name.");
                }
                descs.add(d);
                names.add(name);
            }
            j.begin();
            j.field("id", id);
            if (c.uid != null) {
                j.field("uid", c.uid);
            }
            j.field("function", c.function);
            j.field("keySerializer", c.keySerializer.getClass().getName());
            j.key("states").beginArray();
            for (StateDescriptor<?, ?> d : descs) {
                j.begin().field("name", d.getName()).field("kind", d.getType().name()).field("type", typeOf(d)).end();
            }
            j.endArray();
            j.end();
            if (!inspect) {
                Path data = Path.of(required(in, "in"), (String) op.get("file"));
                DataStream<String> lines = env.fromSource(
                        FileSource.forRecordStreamFormat(new TextLineInputFormat(), new org.apache.flink.core.fs.Path(data.toUri())).build(),
                        WatermarkStrategy.noWatermarks(), "neutral state of " + id);
                int maxPar = ((Number) op.get("maxParallelism")).intValue();
                StateBootstrapTransformation<String> t = OperatorTransformation.bootstrapWith(lines)
                        .setMaxParallelism(maxPar)
                        .keyBy(new KeyOf(), new SerializerTypeInfo<>(c.keySerializer))
                        .transform(new Writer(names, descs));
                writer.removeOperator(OperatorIdentifier.forUidHash(id));
                writer.withOperator(OperatorIdentifier.forUidHash(id), t);
            }
        }
        j.endArray();
        if (!inspect) {
            String out = required(in, "out");
            writer.write(out);
            env.execute("flinkplane: write migrated state");
        }
        List<String> notes = new ArrayList<>(NOTES.keySet());
        Collections.sort(notes);
        j.key("notes").beginArray();
        for (String n : notes) {
            j.value(n);
        }
        j.endArray();
        j.field("millis", (System.nanoTime() - start) / 1_000_000);
        return j.end().toString();
    }

    static String typeOf(StateDescriptor<?, ?> d) {
        try {
            Field f = StateDescriptor.class.getDeclaredField("typeInfo");
            f.setAccessible(true);
            Object ti = f.get(d);
            if (ti != null) {
                return ti.toString();
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            // fall through
        }
        TypeSerializer<?> s = d.isSerializerInitialized() ? d.getSerializer() : null;
        return s == null ? "?" : s.getClass().getName();
    }

    static String label(Captured c) {
        return c.uid != null ? "\"" + c.uid + "\" (" + c.id + ")" : c.id;
    }

    /** The key of a line of the neutral encoding. */
    static final class KeyOf implements KeySelector<String, Object> {
        private static final long serialVersionUID = 1L;

        @Override
        public Object getKey(String line) throws Exception {
            Map<String, Object> rec = asMap(Neutral.parse(line));
            return Neutral.decode(rec.get("key"), Object.class, Thread.currentThread().getContextClassLoader(), "key");
        }
    }

    /** Writes a key's states with the new job's descriptors. */
    static final class Writer extends KeyedStateBootstrapFunction<Object, String> {
        private static final long serialVersionUID = 1L;
        private final List<String> names;
        private final List<StateDescriptor<?, ?>> descs;
        private transient List<State> states;
        private transient ClassLoader cl;

        Writer(List<String> names, List<StateDescriptor<?, ?>> descs) {
            this.names = names;
            this.descs = descs;
        }

        public void open(Configuration parameters) {
            init();
        }

        @Override
        public void open(OpenContext ctx) {
            init();
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private void init() {
            if (states != null) {
                return;
            }
            cl = getRuntimeContext().getUserCodeClassLoader();
            states = new ArrayList<>();
            for (StateDescriptor<?, ?> d : descs) {
                switch (d.getType()) {
                    case VALUE:
                        states.add(getRuntimeContext().getState((ValueStateDescriptor) d));
                        break;
                    case LIST:
                        states.add(getRuntimeContext().getListState((ListStateDescriptor) d));
                        break;
                    default:
                        states.add(getRuntimeContext().getMapState((MapStateDescriptor) d));
                }
            }
        }

        @Override
        @SuppressWarnings("unchecked")
        public void processElement(String line, Context ctx) throws Exception {
            Map<String, Object> rec = asMap(Neutral.parse(line));
            Map<String, Object> values = asMap(rec.get("state"));
            for (int i = 0; i < names.size(); i++) {
                Object node = values.get(names.get(i));
                if (node == null) {
                    continue;
                }
                String where = "state " + names.get(i);
                State st = states.get(i);
                switch (descs.get(i).getType()) {
                    case VALUE:
                        ((ValueState<Object>) st).update(Neutral.decode(node, Object.class, cl, where));
                        break;
                    case LIST: {
                        List<Object> l = (List<Object>) Neutral.decode(node, List.class, cl, where);
                        ((ListState<Object>) st).update(l);
                        break;
                    }
                    default: {
                        Map<Object, Object> m = (Map<Object, Object>) Neutral.decode(node, Map.class, cl, where);
                        ((MapState<Object, Object>) st).putAll(m);
                    }
                }
            }
            Object t = rec.get("timers");
            if (t != null) {
                Map<String, Object> timers = asMap(t);
                for (Object e : asList(timers.get("event"))) {
                    ctx.timerService().registerEventTimeTimer(Long.parseLong(e.toString()));
                }
                for (Object p : asList(timers.get("processing"))) {
                    ctx.timerService().registerProcessingTimeTimer(Long.parseLong(p.toString()));
                }
            }
        }
    }

    /**
     * Runs the new job's main() into a StreamGraph and captures, for the
     * operators of ids, the key serializer and the state descriptors their
     * functions register.
     */
    static Map<String, Captured> capture(Properties in, Set<String> ids) throws Exception {
        Map<String, String> confMap = new HashMap<>();
        for (String k : in.stringPropertyNames()) {
            if (k.startsWith("conf.")) {
                confMap.put(k.substring(5), in.getProperty(k));
            }
        }
        // The user jar is on this JVM's class path: load it parent-first so the
        // classes the descriptors name are the ones the State Processor API job uses.
        confMap.put("classloader.resolve-order", "parent-first");
        int parallelism = Integer.parseInt(in.getProperty("jobParallelism", "-1"));
        if (parallelism > 0) {
            confMap.put("parallelism.default", Integer.toString(parallelism));
        }
        Configuration conf = Configuration.fromMap(confMap);
        int n = Integer.parseInt(in.getProperty("args", "0"));
        String[] programArgs = new String[n];
        for (int i = 0; i < n; i++) {
            programArgs[i] = in.getProperty("arg." + i, "");
        }
        String entry = in.getProperty("entry", "");
        PackagedProgram program = PackagedProgram.newBuilder()
                .setJarFile(new File(required(in, "jar")))
                .setEntryPointClassName(entry.isEmpty() ? null : entry)
                .setArguments(programArgs)
                .setConfiguration(conf)
                .build();
        Pipeline pipeline;
        try {
            pipeline = PackagedProgramUtils.getPipelineFromProgram(program, conf, parallelism, true);
        } catch (Throwable t) {
            throw new Refusal(null, "The new job's main() failed, so the state descriptors it declares are unknown: " + rootMessage(t));
        }
        if (!(pipeline instanceof StreamGraph)) {
            throw new Refusal(null, "The new job is not a DataStream job (" + pipeline.getClass().getSimpleName() + ").");
        }
        StreamGraph sg = (StreamGraph) pipeline;
        Map<Integer, byte[]> hashes = new StreamGraphHasherV2().traverseStreamGraphAndGenerateHashes(sg);
        ClassLoader cl = program.getUserCodeClassLoader();
        Map<String, Captured> out = new HashMap<>();
        for (StreamNode node : sg.getStreamNodes()) {
            byte[] h = hashes.get(node.getId());
            String id = node.getUserHash() != null ? node.getUserHash().toLowerCase() : (h == null ? null : hex(h));
            if (id == null || !ids.contains(id)) {
                continue;
            }
            Captured c = new Captured();
            c.id = id;
            c.uid = node.getTransformationUID();
            c.keySerializer = node.getStateKeySerializer();
            Function fn = userFunction(node.getOperatorFactory());
            if (fn != null) {
                c.function = fn.getClass().getName();
                try {
                    // Open a copy: the graph's instance stays untouched.
                    Function copy = InstantiationUtil.clone(fn, cl);
                    record(copy, c, cl);
                } catch (Throwable t) {
                    throw new Refusal(id, "Opening the function " + c.function + " of operator " + label(c)
                            + " to learn its state descriptors failed: " + rootMessage(t));
                }
            }
            out.put(id, c);
        }
        program.close();
        return out;
    }

    static Function userFunction(StreamOperatorFactory<?> f) {
        if (f instanceof SimpleUdfStreamOperatorFactory) {
            return ((SimpleUdfStreamOperatorFactory<?>) f).getUserFunction();
        }
        if (f instanceof SimpleOperatorFactory && ((SimpleOperatorFactory<?>) f).getOperator() instanceof AbstractUdfStreamOperator) {
            return ((AbstractUdfStreamOperator<?, ?>) ((SimpleOperatorFactory<?>) f).getOperator()).getUserFunction();
        }
        return null;
    }

    /** Opens fn with a RuntimeContext (and state stores) that record the descriptors it registers. */
    static void record(Function fn, Captured c, ClassLoader cl) throws Exception {
        InvocationHandler recorder = new InvocationHandler() {
            @Override
            public Object invoke(Object proxy, Method m, Object[] args) {
                String name = m.getName();
                if (m.getDeclaringClass() == Object.class) {
                    switch (name) {
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        default:
                            return "flinkplane recording context";
                    }
                }
                if (args != null && args.length == 1 && args[0] != null && name.startsWith("get") && name.endsWith("State")) {
                    Object d = args[0];
                    if (d instanceof StateDescriptor) {
                        StateDescriptor<?, ?> sd = (StateDescriptor<?, ?>) d;
                        c.descriptors.put(sd.getName(), sd);
                    } else {
                        c.unsupported.add(d.getClass().getSimpleName() + " " + d);
                    }
                    return unusable(m.getReturnType(), cl);
                }
                switch (name) {
                    case "getExecutionConfig":
                        return new ExecutionConfig();
                    case "getUserCodeClassLoader":
                        return cl;
                    case "getMetricGroup":
                        return org.apache.flink.metrics.groups.UnregisteredMetricsGroup.createOperatorMetricGroup();
                    case "isRestored":
                        return false;
                    case "getKeyedStateStore":
                    case "getOperatorStateStore":
                        return Proxy.newProxyInstance(cl, new Class<?>[] {m.getReturnType()}, this);
                    default:
                }
                Class<?> r = m.getReturnType();
                if (r == boolean.class) {
                    return false;
                }
                if (r == int.class) {
                    return name.contains("Parallel") ? 1 : 0;
                }
                if (r == long.class) {
                    return 0L;
                }
                if (r == String.class) {
                    return "flinkplane-migration";
                }
                return null;
            }
        };
        RuntimeContext rc = (RuntimeContext) Proxy.newProxyInstance(cl, new Class<?>[] {RuntimeContext.class}, recorder);
        if (fn instanceof RichFunction) {
            FunctionUtils.setFunctionRuntimeContext(fn, rc);
        }
        if (fn instanceof CheckpointedFunction) {
            Class<?> ctxClass = Class.forName("org.apache.flink.runtime.state.FunctionInitializationContext");
            Object ictx = Proxy.newProxyInstance(cl, new Class<?>[] {ctxClass}, recorder);
            Method init = CheckpointedFunction.class.getMethod("initializeState", ctxClass);
            init.invoke(fn, ictx);
        }
        if (fn instanceof RichFunction) {
            OpenContext oc = (OpenContext) Proxy.newProxyInstance(cl, new Class<?>[] {OpenContext.class}, recorder);
            FunctionUtils.openFunction(fn, oc);
        }
    }

    static Object unusable(Class<?> type, ClassLoader cl) {
        if (!type.isInterface()) {
            return null;
        }
        return Proxy.newProxyInstance(cl, new Class<?>[] {type}, (p, m, a) -> {
            if (m.getDeclaringClass() == Object.class) {
                return m.getName().equals("hashCode") ? System.identityHashCode(p) : m.getName().equals("equals") ? p == a[0] : "state";
            }
            throw new UnsupportedOperationException("state is not readable while the migration learns the job's state descriptors");
        });
    }

    // ------------------------------------------------------------ helpers

    static String required(Properties in, String k) {
        String v = in.getProperty(k);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("missing " + k);
        }
        return v;
    }

    static List<String> list(String s) {
        List<String> out = new ArrayList<>();
        for (String p : s.split(",")) {
            if (!p.trim().isEmpty()) {
                out.add(p.trim().toLowerCase());
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> asMap(Object o) {
        if (!(o instanceof Map)) {
            throw new IllegalArgumentException("expected a JSON object, got " + o);
        }
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> asList(Object o) {
        if (o == null) {
            return Collections.emptyList();
        }
        if (!(o instanceof List)) {
            throw new IllegalArgumentException("expected a JSON array, got " + o);
        }
        return (List<Object>) o;
    }

    static byte[] hexToBytes(String hex) {
        byte[] b = new byte[hex.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }

    static String rootMessage(Throwable t) {
        StringBuilder sb = new StringBuilder();
        Map<Throwable, Boolean> seen = new IdentityHashMap<>();
        for (Throwable c = t; c != null && !seen.containsKey(c); c = c.getCause()) {
            seen.put(c, true);
            if (sb.length() > 0) {
                sb.append("; caused by ");
            }
            String m = c.getMessage();
            if (m != null) {
                int i = m.indexOf("\n\nClasspath:");
                if (i >= 0) {
                    m = m.substring(0, i);
                }
                m = m.strip();
                if (m.length() > 400) {
                    m = m.substring(0, 400) + "…";
                }
            }
            sb.append(c.getClass().getName()).append(m == null || m.isEmpty() ? "" : ": " + m);
        }
        return sb.toString();
    }

    static void error(Json j, Throwable t) {
        j.begin();
        j.field("class", t.getClass().getName());
        j.field("message", rootMessage(t));
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        String trace = sw.toString();
        if (trace.length() > 32 << 10) {
            trace = trace.substring(0, 32 << 10);
        }
        j.field("stackTrace", trace);
        j.end();
    }

    // ------------------------------------------------------ neutral encoding

    /**
     * The neutral encoding of state values (docs/migrate.md): a JSON node per
     * value that names its kind, so that it is decoded without guessing.
     */
    static final class Neutral {
        private Neutral() {}

        static final int MAX_DEPTH = 64;

        static String encode(Object v) {
            StringBuilder sb = new StringBuilder();
            enc(sb, v, 0);
            return sb.toString();
        }

        static void enc(StringBuilder sb, Object v, int depth) {
            if (depth > MAX_DEPTH) {
                throw new IllegalArgumentException("value nested deeper than " + MAX_DEPTH + " (a cycle?)");
            }
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Boolean) {
                sb.append("{\"boolean\":").append(v).append('}');
            } else if (v instanceof Byte) {
                sb.append("{\"byte\":").append(v).append('}');
            } else if (v instanceof Short) {
                sb.append("{\"short\":").append(v).append('}');
            } else if (v instanceof Integer) {
                sb.append("{\"int\":").append(v).append('}');
            } else if (v instanceof Long) {
                sb.append("{\"long\":").append(v).append('}');
            } else if (v instanceof Float) {
                tagged(sb, "float", v.toString());
            } else if (v instanceof Double) {
                tagged(sb, "double", v.toString());
            } else if (v instanceof Character) {
                tagged(sb, "char", v.toString());
            } else if (v instanceof String) {
                tagged(sb, "string", (String) v);
            } else if (v instanceof byte[]) {
                tagged(sb, "bytes", Base64.getEncoder().encodeToString((byte[]) v));
            } else if (v instanceof BigInteger) {
                tagged(sb, "bigint", v.toString());
            } else if (v instanceof BigDecimal) {
                tagged(sb, "bigdec", v.toString());
            } else if (v instanceof Enum) {
                sb.append("{\"enum\":");
                Json.quote(sb, ((Enum<?>) v).name());
                sb.append(",\"class\":");
                Json.quote(sb, ((Enum<?>) v).getDeclaringClass().getName());
                sb.append('}');
            } else if (v instanceof UUID) {
                tagged(sb, "uuid", v.toString());
            } else if (v instanceof java.util.Date) {
                sb.append("{\"date\":").append(((java.util.Date) v).getTime()).append(",\"class\":");
                Json.quote(sb, v.getClass().getName());
                sb.append('}');
            } else if (v.getClass().getName().startsWith("java.time.")) {
                sb.append("{\"time\":");
                Json.quote(sb, v.toString());
                sb.append(",\"class\":");
                Json.quote(sb, v.getClass().getName());
                sb.append('}');
            } else if (v instanceof List) {
                sb.append("{\"list\":");
                items(sb, (Collection<?>) v, depth, false);
                sb.append('}');
            } else if (v instanceof Set) {
                sb.append("{\"set\":");
                items(sb, (Collection<?>) v, depth, true);
                sb.append('}');
            } else if (v instanceof Map) {
                sb.append("{\"map\":[");
                List<String> entries = new ArrayList<>();
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    StringBuilder x = new StringBuilder("[");
                    enc(x, e.getKey(), depth + 1);
                    x.append(',');
                    enc(x, e.getValue(), depth + 1);
                    entries.add(x.append(']').toString());
                }
                Collections.sort(entries); // one text for one map, whatever its iteration order
                sb.append(String.join(",", entries)).append("]}");
            } else if (v.getClass().isArray()) {
                int n = Array.getLength(v);
                List<Object> l = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    l.add(Array.get(v, i));
                }
                sb.append("{\"array\":");
                items(sb, l, depth, false);
                sb.append(",\"class\":");
                Json.quote(sb, v.getClass().getName());
                sb.append('}');
            } else if (v.getClass().getName().startsWith("java.") || v.getClass().getName().startsWith("javax.")
                    || v.getClass().getName().startsWith("scala.")) {
                throw new IllegalArgumentException("a value of class " + v.getClass().getName()
                        + " has no neutral encoding (supported: primitives, strings, enums, big numbers, dates and java.time values, UUIDs, lists, sets, maps, arrays and POJOs)");
            } else {
                sb.append("{\"pojo\":{");
                boolean first = true;
                for (Field f : fields(v.getClass())) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    Json.quote(sb, f.getName());
                    sb.append(':');
                    try {
                        enc(sb, f.get(v), depth + 1);
                    } catch (IllegalAccessException e) {
                        throw new IllegalStateException(e);
                    }
                }
                sb.append("},\"class\":");
                Json.quote(sb, v.getClass().getName());
                sb.append('}');
            }
        }

        static void tagged(StringBuilder sb, String tag, String s) {
            sb.append("{\"").append(tag).append("\":");
            Json.quote(sb, s);
            sb.append('}');
        }

        static void items(StringBuilder sb, Collection<?> c, int depth, boolean sort) {
            List<String> out = new ArrayList<>(c.size());
            for (Object o : c) {
                StringBuilder x = new StringBuilder();
                enc(x, o, depth + 1);
                out.add(x.toString());
            }
            if (sort) {
                Collections.sort(out);
            }
            sb.append('[').append(String.join(",", out)).append(']');
        }

        private static final Map<Class<?>, List<Field>> FIELDS = new ConcurrentHashMap<>();

        /** The fields Flink's POJO analysis serializes: non-static, non-transient, up the hierarchy. */
        static List<Field> fields(Class<?> c) {
            return FIELDS.computeIfAbsent(c, k -> {
                List<Field> out = new ArrayList<>();
                Set<String> names = new HashSet<>();
                for (Class<?> x = k; x != null && x != Object.class; x = x.getSuperclass()) {
                    for (Field f : x.getDeclaredFields()) {
                        int m = f.getModifiers();
                        if (Modifier.isStatic(m) || Modifier.isTransient(m)) {
                            continue;
                        }
                        if (!names.add(f.getName())) {
                            throw new IllegalArgumentException("class " + k.getName() + " has two fields named " + f.getName());
                        }
                        f.setAccessible(true);
                        out.add(f);
                    }
                }
                out.sort((a, b) -> a.getName().compareTo(b.getName()));
                return out;
            });
        }

        /** Builds the value of node as an instance of target (a type of the new job). */
        @SuppressWarnings({"unchecked", "rawtypes"})
        static Object decode(Object node, Type target, ClassLoader cl, String where) throws Exception {
            Class<?> raw = rawClass(target);
            if (node == null) {
                if (raw.isPrimitive()) {
                    throw new IllegalArgumentException(where + ": null cannot become a " + raw.getName());
                }
                return null;
            }
            Map<String, Object> n = asMap(node);
            if (n.containsKey("pojo")) {
                String cn = (String) n.get("class");
                Class<?> c = Class.forName(cn, false, cl);
                if (!box(raw).isAssignableFrom(c)) {
                    throw new IllegalArgumentException(where + ": a " + cn + " cannot become a " + raw.getName());
                }
                Constructor<?> ctor = c.getDeclaredConstructor();
                ctor.setAccessible(true);
                Object o = ctor.newInstance();
                Map<String, Object> fs = asMap(n.get("pojo"));
                Set<String> seen = new HashSet<>();
                for (Field f : fields(c)) {
                    if (!fs.containsKey(f.getName())) {
                        NOTES.put("Field " + f.getName() + " of " + cn + " is new: it keeps the value the constructor gives it.", true);
                        continue;
                    }
                    seen.add(f.getName());
                    f.set(o, decode(fs.get(f.getName()), f.getGenericType(), cl, where + "." + f.getName()));
                }
                for (String k : fs.keySet()) {
                    if (!seen.contains(k)) {
                        NOTES.put("Field " + k + " of " + cn + " is not in the new class: its values are dropped (as Flink's POJO schema evolution drops a removed field).", true);
                    }
                }
                return o;
            }
            if (n.containsKey("list") || n.containsKey("set")) {
                boolean set = n.containsKey("set");
                Collection<Object> c;
                if (raw.isArray()) {
                    throw new IllegalArgumentException(where + ": a list cannot become an array");
                }
                if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers()) && Collection.class.isAssignableFrom(raw)) {
                    c = (Collection<Object>) instantiate(raw);
                } else if (set) {
                    if (!raw.isAssignableFrom(HashSet.class) && !raw.isAssignableFrom(TreeSet.class)) {
                        throw new IllegalArgumentException(where + ": a set cannot become a " + raw.getName());
                    }
                    c = raw.isAssignableFrom(HashSet.class) && !SortedSet.class.isAssignableFrom(raw) ? new HashSet<>() : new TreeSet<>();
                } else {
                    if (!raw.isAssignableFrom(ArrayList.class)) {
                        throw new IllegalArgumentException(where + ": a list cannot become a " + raw.getName());
                    }
                    c = new ArrayList<>();
                }
                Type el = typeArg(target, Collection.class, 0);
                for (Object o : asList(set ? n.get("set") : n.get("list"))) {
                    c.add(decode(o, el, cl, where + "[]"));
                }
                return c;
            }
            if (n.containsKey("map")) {
                Map<Object, Object> m;
                if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers()) && Map.class.isAssignableFrom(raw)) {
                    m = (Map<Object, Object>) instantiate(raw);
                } else if (raw.isAssignableFrom(HashMap.class) && !SortedMap.class.isAssignableFrom(raw)) {
                    m = new HashMap<>();
                } else if (raw.isAssignableFrom(TreeMap.class)) {
                    m = new TreeMap<>();
                } else {
                    throw new IllegalArgumentException(where + ": a map cannot become a " + raw.getName());
                }
                Type kt = typeArg(target, Map.class, 0);
                Type vt = typeArg(target, Map.class, 1);
                for (Object e : asList(n.get("map"))) {
                    List<Object> kv = asList(e);
                    m.put(decode(kv.get(0), kt, cl, where + ".key"), decode(kv.get(1), vt, cl, where + ".value"));
                }
                return m;
            }
            if (n.containsKey("array")) {
                Class<?> ac = Class.forName((String) n.get("class"), false, cl);
                if (!box(raw).isAssignableFrom(ac)) {
                    throw new IllegalArgumentException(where + ": a " + ac.getName() + " cannot become a " + raw.getName());
                }
                List<Object> items = asList(n.get("array"));
                Object arr = Array.newInstance(ac.getComponentType(), items.size());
                for (int i = 0; i < items.size(); i++) {
                    Array.set(arr, i, decode(items.get(i), ac.getComponentType(), cl, where + "[" + i + "]"));
                }
                return arr;
            }
            if (n.containsKey("enum")) {
                Class<?> ec = Class.forName((String) n.get("class"), false, cl);
                check(raw, ec, where);
                return Enum.valueOf((Class) ec, (String) n.get("enum"));
            }
            if (n.containsKey("date")) {
                Class<?> dc = Class.forName((String) n.get("class"), false, cl);
                check(raw, dc, where);
                return dc.getConstructor(long.class).newInstance(Long.parseLong(n.get("date").toString()));
            }
            if (n.containsKey("time")) {
                Class<?> tc = Class.forName((String) n.get("class"), false, cl);
                check(raw, tc, where);
                String text = (String) n.get("time");
                if (java.time.ZoneId.class.isAssignableFrom(tc)) {
                    return java.time.ZoneId.of(text);
                }
                return tc.getMethod("parse", CharSequence.class).invoke(null, text);
            }
            if (n.size() != 1) {
                throw new IllegalArgumentException(where + ": not a value of the neutral encoding: " + n.keySet());
            }
            Map.Entry<String, Object> e = n.entrySet().iterator().next();
            String text = e.getValue().toString();
            Object v;
            switch (e.getKey()) {
                case "boolean":
                    v = Boolean.valueOf(text);
                    break;
                case "byte":
                    v = Byte.valueOf(text);
                    break;
                case "short":
                    v = Short.valueOf(text);
                    break;
                case "int":
                    v = Integer.valueOf(text);
                    break;
                case "long":
                    v = Long.valueOf(text);
                    break;
                case "float":
                    v = Float.valueOf(text);
                    break;
                case "double":
                    v = Double.valueOf(text);
                    break;
                case "char":
                    v = text.charAt(0);
                    break;
                case "string":
                    v = text;
                    break;
                case "bytes":
                    v = Base64.getDecoder().decode(text);
                    break;
                case "bigint":
                    v = new BigInteger(text);
                    break;
                case "bigdec":
                    v = new BigDecimal(text);
                    break;
                case "uuid":
                    v = UUID.fromString(text);
                    break;
                default:
                    throw new IllegalArgumentException(where + ": unknown kind of value " + e.getKey());
            }
            check(raw, v.getClass(), where);
            return v;
        }

        static void check(Class<?> target, Class<?> got, String where) {
            if (!box(target).isAssignableFrom(got)) {
                throw new IllegalArgumentException(where + ": a " + got.getName() + " cannot become a " + target.getName()
                        + " (the migration converts no types: change the type in a later release of the job)");
            }
        }

        static Object instantiate(Class<?> c) throws Exception {
            Constructor<?> ctor = c.getDeclaredConstructor();
            ctor.setAccessible(true);
            return ctor.newInstance();
        }

        static Class<?> rawClass(Type t) {
            if (t instanceof Class) {
                return (Class<?>) t;
            }
            if (t instanceof ParameterizedType) {
                return rawClass(((ParameterizedType) t).getRawType());
            }
            if (t instanceof GenericArrayType) {
                return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
            }
            if (t instanceof WildcardType) {
                Type[] ub = ((WildcardType) t).getUpperBounds();
                return ub.length > 0 ? rawClass(ub[0]) : Object.class;
            }
            return Object.class; // a type variable
        }

        /** The i-th type argument of target as an `of` (Collection, Map), or Object. */
        static Type typeArg(Type target, Class<?> of, int i) {
            if (target instanceof ParameterizedType) {
                ParameterizedType p = (ParameterizedType) target;
                Class<?> r = rawClass(p.getRawType());
                if (r == of || (of == Collection.class && (r == List.class || r == Set.class || r == Iterable.class
                        || r == ArrayList.class || r == HashSet.class || r == SortedSet.class || r == TreeSet.class))
                        || (of == Map.class && (r == HashMap.class || r == TreeMap.class || r == SortedMap.class
                        || r == LinkedHashMap.class))) {
                    Type[] a = p.getActualTypeArguments();
                    if (i < a.length) {
                        return a[i];
                    }
                }
            }
            return Object.class;
        }

        static Class<?> box(Class<?> c) {
            if (!c.isPrimitive()) {
                return c;
            }
            if (c == long.class) {
                return Long.class;
            }
            if (c == int.class) {
                return Integer.class;
            }
            if (c == boolean.class) {
                return Boolean.class;
            }
            if (c == double.class) {
                return Double.class;
            }
            if (c == float.class) {
                return Float.class;
            }
            if (c == short.class) {
                return Short.class;
            }
            if (c == byte.class) {
                return Byte.class;
            }
            return Character.class;
        }

        // A JSON parser: objects become LinkedHashMap, arrays ArrayList, strings
        // String, numbers their text (as a Num), true/false Boolean, null null.

        static Object parse(String s) {
            int[] pos = {0};
            Object v = value(s, pos);
            ws(s, pos);
            if (pos[0] != s.length()) {
                throw new IllegalArgumentException("trailing characters at " + pos[0]);
            }
            return v;
        }

        static void ws(String s, int[] pos) {
            while (pos[0] < s.length() && Character.isWhitespace(s.charAt(pos[0]))) {
                pos[0]++;
            }
        }

        static Object value(String s, int[] pos) {
            ws(s, pos);
            if (pos[0] >= s.length()) {
                throw new IllegalArgumentException("unexpected end of JSON");
            }
            char c = s.charAt(pos[0]);
            switch (c) {
                case '{': {
                    pos[0]++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    ws(s, pos);
                    if (s.charAt(pos[0]) == '}') {
                        pos[0]++;
                        return m;
                    }
                    while (true) {
                        ws(s, pos);
                        String k = string(s, pos);
                        ws(s, pos);
                        expect(s, pos, ':');
                        m.put(k, value(s, pos));
                        ws(s, pos);
                        if (s.charAt(pos[0]) == ',') {
                            pos[0]++;
                            continue;
                        }
                        expect(s, pos, '}');
                        return m;
                    }
                }
                case '[': {
                    pos[0]++;
                    List<Object> l = new ArrayList<>();
                    ws(s, pos);
                    if (s.charAt(pos[0]) == ']') {
                        pos[0]++;
                        return l;
                    }
                    while (true) {
                        l.add(value(s, pos));
                        ws(s, pos);
                        if (s.charAt(pos[0]) == ',') {
                            pos[0]++;
                            continue;
                        }
                        expect(s, pos, ']');
                        return l;
                    }
                }
                case '"':
                    return string(s, pos);
                case 't':
                    word(s, pos, "true");
                    return Boolean.TRUE;
                case 'f':
                    word(s, pos, "false");
                    return Boolean.FALSE;
                case 'n':
                    word(s, pos, "null");
                    return null;
                default: {
                    int start = pos[0];
                    while (pos[0] < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos[0])) >= 0) {
                        pos[0]++;
                    }
                    if (start == pos[0]) {
                        throw new IllegalArgumentException("unexpected '" + c + "' at " + start);
                    }
                    return new Num(s.substring(start, pos[0]));
                }
            }
        }

        static void expect(String s, int[] pos, char c) {
            if (pos[0] >= s.length() || s.charAt(pos[0]) != c) {
                throw new IllegalArgumentException("expected '" + c + "' at " + pos[0]);
            }
            pos[0]++;
        }

        static void word(String s, int[] pos, String w) {
            if (!s.startsWith(w, pos[0])) {
                throw new IllegalArgumentException("expected " + w + " at " + pos[0]);
            }
            pos[0] += w.length();
        }

        static String string(String s, int[] pos) {
            expect(s, pos, '"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = s.charAt(pos[0]++);
                if (c == '"') {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = s.charAt(pos[0]++);
                switch (e) {
                    case 'n':
                        sb.append('\n');
                        break;
                    case 'r':
                        sb.append('\r');
                        break;
                    case 't':
                        sb.append('\t');
                        break;
                    case 'b':
                        sb.append('\b');
                        break;
                    case 'f':
                        sb.append('\f');
                        break;
                    case 'u':
                        sb.append((char) Integer.parseInt(s.substring(pos[0], pos[0] + 4), 16));
                        pos[0] += 4;
                        break;
                    default:
                        sb.append(e);
                }
            }
        }
    }

    /** A JSON number, kept as its text so that no precision is lost. */
    static final class Num extends Number {
        private static final long serialVersionUID = 1L;
        final String text;

        Num(String text) {
            this.text = text;
        }

        @Override
        public int intValue() {
            return Integer.parseInt(text);
        }

        @Override
        public long longValue() {
            return Long.parseLong(text);
        }

        @Override
        public float floatValue() {
            return Float.parseFloat(text);
        }

        @Override
        public double doubleValue() {
            return Double.parseDouble(text);
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** A small JSON writer (the JDK has none). */
    static final class Json {
        private final StringBuilder sb = new StringBuilder();
        private final java.util.ArrayDeque<boolean[]> open = new java.util.ArrayDeque<>();
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
            quote(sb, k);
            sb.append(':');
            afterKey = true;
            return this;
        }

        Json raw(String json) {
            sep();
            sb.append(json);
            return this;
        }

        Json value(Object v) {
            sep();
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Number || v instanceof Boolean) {
                sb.append(v);
            } else {
                quote(sb, v.toString());
            }
            return this;
        }

        Json field(String k, Object v) {
            return key(k).value(v);
        }

        static void quote(StringBuilder sb, String s) {
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
                        if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) {
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
