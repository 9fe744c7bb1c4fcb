package dev.example;

import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** A 1.x job whose RichMapFunction initializes itself in open(Configuration). */
public class OpenConfigJob {
    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(1, 10).map(new Prefix()).print();
        env.execute("open-configuration");
    }

    static final class Prefix extends RichMapFunction<Long, String> {
        private transient String prefix;

        @Override
        public void open(Configuration parameters) {
            prefix = "n=";
        }

        @Override
        public String map(Long n) {
            return prefix + n;
        }
    }
}
