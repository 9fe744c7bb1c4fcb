package flinkplane.testjob;

import com.amazonaws.services.kinesisanalytics.runtime.KinesisAnalyticsRuntime;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Test job of the local driver's tests: a throttled sequence, keyed by
 * value % 4, counted in keyed ValueState (uid "counter"). It reads its
 * EnvironmentProperties with the real AWS runtime library: the job name
 * carries group FlinkApplicationProperties key "marker", and the counter
 * fails on the TaskManager when the properties are not visible there.
 * Argument "--fail" makes the counter throw on its first record.
 */
public class TestJob {
    public static void main(String[] args) throws Exception {
        Map<String, Properties> props = KinesisAnalyticsRuntime.getApplicationProperties();
        Properties p = props.getOrDefault("FlinkApplicationProperties", new Properties());
        String marker = p.getProperty("marker", "none");
        boolean fail = args.length > 0 && args[0].equals("--fail");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE).uid("source")
            .map(new Throttle()).uid("throttle")
            .keyBy(new ModKey())
            .process(new Counter(marker, fail)).uid("counter");
        // No sink: the same source compiles against 1.18 to 2.3.
        env.execute("testjob marker=" + marker);
    }

    public static class Throttle implements MapFunction<Long, Long> {
        @Override
        public Long map(Long v) throws Exception {
            Thread.sleep(20);
            return v;
        }
    }

    public static class ModKey implements KeySelector<Long, Long> {
        @Override
        public Long getKey(Long v) {
            return v % 4;
        }
    }

    public static class Counter extends KeyedProcessFunction<Long, Long, String> {
        private final String marker;
        private final boolean fail;
        private transient ValueState<Long> count;
        private transient boolean checked;

        Counter(String marker, boolean fail) {
            this.marker = marker;
            this.fail = fail;
        }

        @Override
        public void processElement(Long v, Context ctx, Collector<String> out) throws Exception {
            if (fail) {
                throw new IllegalStateException("testjob failure requested");
            }
            if (!checked) {
                String seen = KinesisAnalyticsRuntime.getApplicationProperties()
                    .getOrDefault("FlinkApplicationProperties", new Properties()).getProperty("marker", "none");
                if (!seen.equals(marker)) {
                    throw new IllegalStateException("TaskManager sees marker " + seen + ", JobManager saw " + marker);
                }
                checked = true;
            }
            if (count == null) {
                count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            }
            Long c = count.value();
            count.update(c == null ? 1 : c + 1);
            out.collect(ctx.getCurrentKey() + "=" + count.value());
        }
    }
}
