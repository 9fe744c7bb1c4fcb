package compat

import "strings"

// A migration is a known replacement for a Flink 1.x API that is gone from
// 2.x. Class is an internal class name, or a package prefix ending in "/";
// Member, when set, restricts the entry to that method or field name.
type migration struct {
	Class  string
	Member string
	Hint   string
}

// migrations is the table of known 1.x → 2.x replacements (from the Flink
// 2.0 release notes, see docs/compat.md). More specific entries (with a
// member) come first; the first match wins.
var migrations = []migration{
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "addSource", "Use a FLIP-27 Source with env.fromSource(source, WatermarkStrategy, name); SourceFunction and addSource are gone in Flink 2.x."},
	{"org/apache/flink/streaming/api/datastream/DataStream", "addSink", "Use a Sink V2 (org.apache.flink.api.connector.sink2.Sink) with DataStream.sinkTo(sink); SinkFunction and addSink are gone in Flink 2.x."},
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "setStateBackend", "Set the state backend in the configuration: state.backend.type: hashmap|rocksdb (StateBackendOptions), passed with env.configure(conf) or the cluster configuration."},
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "getStateBackend", "Read state.backend.type from the configuration."},
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "setRestartStrategy", "Configure restarts with restart-strategy.type and restart-strategy.* keys (RestartStrategyOptions), passed with env.configure(conf)."},
	{"org/apache/flink/api/common/ExecutionConfig", "setRestartStrategy", "Configure restarts with restart-strategy.type and restart-strategy.* keys (RestartStrategyOptions)."},
	{"org/apache/flink/api/common/ExecutionConfig", "getRestartStrategy", "Read restart-strategy.* from the configuration."},
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "setStreamTimeCharacteristic", "Remove the call: event time is the default; use a WatermarkStrategy."},
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "readTextFile", "Use org.apache.flink.connector.file.src.FileSource with env.fromSource."},
	{"org/apache/flink/streaming/api/environment/StreamExecutionEnvironment", "enableCheckpointing", "Use enableCheckpointing(long) or enableCheckpointing(long, CheckpointingMode)."},
	{"org/apache/flink/streaming/api/environment/CheckpointConfig", "setCheckpointStorage", "Set execution.checkpointing.dir (and execution.checkpointing.storage) in the configuration."},
	{"org/apache/flink/streaming/api/environment/CheckpointConfig", "enableExternalizedCheckpoints", "Use setExternalizedCheckpointRetention(org.apache.flink.configuration.ExternalizedCheckpointRetention)."},
	{"org/apache/flink/streaming/api/environment/CheckpointConfig", "setExternalizedCheckpointCleanup", "Use setExternalizedCheckpointRetention(org.apache.flink.configuration.ExternalizedCheckpointRetention)."},
	{"org/apache/flink/streaming/api/datastream/DataStream", "writeAsText", "Use FileSink (flink-connector-files) with sinkTo."},
	{"org/apache/flink/streaming/api/datastream/DataStream", "writeAsCsv", "Use FileSink (flink-connector-files) with sinkTo."},
	{"org/apache/flink/streaming/api/datastream/DataStream", "timeWindowAll", "Use windowAll(TumblingEventTimeWindows.of(Duration))."},
	{"org/apache/flink/streaming/api/datastream/KeyedStream", "timeWindow", "Use window(TumblingEventTimeWindows.of(Duration)) or SlidingEventTimeWindows.of(Duration, Duration)."},
	{"org/apache/flink/api/common/functions/RichFunction", "open", "Override open(org.apache.flink.api.common.functions.OpenContext) instead of open(Configuration)."},
	{"org/apache/flink/api/common/functions/AbstractRichFunction", "open", "Override open(org.apache.flink.api.common.functions.OpenContext) instead of open(Configuration)."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getIndexOfThisSubtask", "Use getRuntimeContext().getTaskInfo().getIndexOfThisSubtask()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getNumberOfParallelSubtasks", "Use getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getMaxNumberOfParallelSubtasks", "Use getRuntimeContext().getTaskInfo().getMaxNumberOfParallelSubtasks()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getAttemptNumber", "Use getRuntimeContext().getTaskInfo().getAttemptNumber()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getTaskName", "Use getRuntimeContext().getTaskInfo().getTaskName()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getTaskNameWithSubtasks", "Use getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getJobId", "Use getRuntimeContext().getJobInfo().getJobId()."},
	{"org/apache/flink/api/common/functions/RuntimeContext", "getExecutionConfig", "Use createSerializer(), getGlobalJobParameters() or isObjectReuseEnabled() on the RuntimeContext."},
	{"org/apache/flink/api/common/typeinfo/TypeInformation", "createSerializer", "Use createSerializer(org.apache.flink.api.common.serialization.SerializerConfig)."},
	{"org/apache/flink/api/common/typeutils/TypeSerializerSnapshot", "resolveSchemaCompatibility", "Implement resolveSchemaCompatibility(TypeSerializerSnapshot oldSnapshot)."},
	{"org/apache/flink/api/common/ExecutionConfig", "registerKryoType", "Use pipeline.serialization-config in the configuration."},
	{"org/apache/flink/api/common/ExecutionConfig", "registerTypeWithKryoSerializer", "Use pipeline.serialization-config in the configuration."},
	{"org/apache/flink/api/common/ExecutionConfig", "addDefaultKryoSerializer", "Use pipeline.serialization-config in the configuration."},
	{"org/apache/flink/api/common/ExecutionConfig", "enableForceKryo", "Use pipeline.force-kryo in the configuration."},
	{"org/apache/flink/api/common/ExecutionConfig", "disableGenericTypes", "Use pipeline.generic-types: false in the configuration."},
	{"org/apache/flink/configuration/Configuration", "", "Use get(ConfigOption) / set(ConfigOption, value) instead of the typed getters and setters."},
	{"org/apache/flink/core/execution/JobClient", "triggerSavepoint", "Use the overload with SavepointFormatType."},
	{"org/apache/flink/core/execution/JobClient", "stopWithSavepoint", "Use the overload with SavepointFormatType."},

	{"org/apache/flink/streaming/connectors/kafka/FlinkKafkaConsumer", "", "Use org.apache.flink.connector.kafka.source.KafkaSource with env.fromSource (flink-connector-kafka 4.x or later for Flink 2.x)."},
	{"org/apache/flink/streaming/connectors/kafka/FlinkKafkaProducer", "", "Use org.apache.flink.connector.kafka.sink.KafkaSink with sinkTo (flink-connector-kafka 4.x or later for Flink 2.x)."},
	{"org/apache/flink/streaming/connectors/kafka/", "", "The legacy Kafka connector API is gone: use KafkaSource/KafkaSink from flink-connector-kafka 4.x or later for Flink 2.x."},
	{"org/apache/flink/streaming/connectors/kinesis/FlinkKinesisConsumer", "", "Use org.apache.flink.connector.kinesis.source.KinesisStreamsSource (flink-connector-aws-kinesis-streams 6.x for Flink 2.x)."},
	{"org/apache/flink/streaming/connectors/kinesis/FlinkKinesisProducer", "", "Use org.apache.flink.connector.kinesis.sink.KinesisStreamsSink (flink-connector-aws-kinesis-streams 6.x for Flink 2.x)."},
	{"org/apache/flink/streaming/connectors/kinesis/", "", "The legacy Kinesis connector is gone: use KinesisStreamsSource/KinesisStreamsSink (AWS connectors 6.x for Flink 2.x)."},
	{"org/apache/flink/streaming/api/functions/source/SourceFunction$SourceContext", "", "Implement a FLIP-27 Source: records are emitted through SourceReader/ReaderOutput."},
	{"org/apache/flink/streaming/api/functions/source/FromElementsFunction", "", "Use env.fromData(...)."},
	{"org/apache/flink/streaming/api/functions/source/StatefulSequenceSource", "", "Use env.fromSequence(...) or org.apache.flink.api.connector.source.lib.NumberSequenceSource."},
	{"org/apache/flink/streaming/api/functions/source/datagen/", "", "Use org.apache.flink.connector.datagen.source.DataGeneratorSource (flink-connector-datagen)."},
	{"org/apache/flink/streaming/api/functions/source/", "", "Implement a FLIP-27 Source (org.apache.flink.api.connector.source.Source) and use env.fromSource(source, WatermarkStrategy, name)."},
	{"org/apache/flink/streaming/api/functions/sink/filesystem/StreamingFileSink", "", "Use org.apache.flink.connector.file.sink.FileSink (flink-connector-files) with sinkTo."},
	{"org/apache/flink/streaming/api/functions/sink/DiscardingSink", "", "Use org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink with sinkTo."},
	{"org/apache/flink/streaming/api/functions/sink/PrintSinkFunction", "", "Use org.apache.flink.streaming.api.functions.sink.PrintSink with sinkTo, or DataStream.print()."},
	{"org/apache/flink/streaming/api/functions/sink/TwoPhaseCommitSinkFunction", "", "Implement a Sink V2 with SupportsCommitter."},
	{"org/apache/flink/streaming/api/functions/sink/", "", "Implement a Sink V2 (org.apache.flink.api.connector.sink2.Sink) and use DataStream.sinkTo(sink)."},
	{"org/apache/flink/api/connector/sink/", "", "Sink V1 is gone: implement org.apache.flink.api.connector.sink2.Sink."},
	{"org/apache/flink/api/connector/sink2/StatefulSink", "", "Use org.apache.flink.api.connector.sink2.SupportsWriterState."},
	{"org/apache/flink/api/connector/sink2/TwoPhaseCommittingSink", "", "Use org.apache.flink.api.connector.sink2.SupportsCommitter."},
	{"org/apache/flink/api/connector/sink2/Sink$InitContext", "", "Use createWriter(org.apache.flink.api.connector.sink2.WriterInitContext)."},
	{"org/apache/flink/streaming/api/windowing/time/Time", "", "Use java.time.Duration: every window assigner, trigger, evictor, allowedLateness and IntervalJoin.between has a Duration overload."},
	{"org/apache/flink/api/common/time/Time", "", "Use java.time.Duration (e.g. StateTtlConfig.newBuilder(Duration))."},
	{"org/apache/flink/api/common/restartstrategy/", "", "Configure restarts with restart-strategy.type and restart-strategy.* keys (RestartStrategyOptions) instead of RestartStrategies."},
	{"org/apache/flink/runtime/state/filesystem/FsStateBackend", "", "Use HashMapStateBackend with execution.checkpointing.storage: filesystem and execution.checkpointing.dir, or set state.backend.type in the configuration."},
	{"org/apache/flink/runtime/state/memory/MemoryStateBackend", "", "Use HashMapStateBackend with execution.checkpointing.storage: jobmanager, or set state.backend.type in the configuration."},
	{"org/apache/flink/contrib/streaming/state/RocksDBStateBackend", "", "Use org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend or state.backend.type: rocksdb."},
	{"org/apache/flink/runtime/state/StateBackend", "", "Set the state backend in the configuration (state.backend.type) instead of in code."},
	{"org/apache/flink/runtime/state/CheckpointListener", "", "Use org.apache.flink.api.common.state.CheckpointListener."},
	{"org/apache/flink/streaming/api/TimeCharacteristic", "", "Remove it: event time is the default; use a WatermarkStrategy."},
	{"org/apache/flink/streaming/api/functions/AssignerWithPeriodicWatermarks", "", "Use assignTimestampsAndWatermarks(WatermarkStrategy)."},
	{"org/apache/flink/streaming/api/functions/AssignerWithPunctuatedWatermarks", "", "Use assignTimestampsAndWatermarks(WatermarkStrategy)."},
	{"org/apache/flink/streaming/api/functions/timestamps/", "", "Use WatermarkStrategy (e.g. WatermarkStrategy.forMonotonousTimestamps() or forBoundedOutOfOrderness(Duration))."},
	{"org/apache/flink/streaming/api/functions/windowing/RichProcessWindowFunction", "", "Use ProcessWindowFunction."},
	{"org/apache/flink/streaming/api/functions/windowing/RichProcessAllWindowFunction", "", "Use ProcessAllWindowFunction."},
	{"org/apache/flink/streaming/api/environment/ExecutionCheckpointingOptions", "", "Use org.apache.flink.configuration.CheckpointingOptions."},
	{"org/apache/flink/streaming/api/environment/StreamPipelineOptions", "", "Use org.apache.flink.configuration.PipelineOptions."},
	{"org/apache/flink/streaming/util/serialization/", "", "Use the same class from org.apache.flink.api.common.serialization."},
	{"org/apache/flink/api/java/utils/ParameterTool", "", "Use org.apache.flink.util.ParameterTool."},
	{"org/apache/flink/api/java/utils/MultipleParameterTool", "", "Use org.apache.flink.util.MultipleParameterTool."},
	{"org/apache/flink/api/java/ExecutionEnvironment", "", "The DataSet API is gone: use StreamExecutionEnvironment with execution.runtime-mode: BATCH, or the Table API."},
	{"org/apache/flink/api/java/DataSet", "", "The DataSet API is gone: use the DataStream API (BATCH runtime mode) or the Table API."},
	{"org/apache/flink/api/java/operators/", "", "The DataSet API is gone: use the DataStream API (BATCH runtime mode) or the Table API."},
	{"org/apache/flink/api/java/io/", "", "The DataSet API is gone: use FileSource/FileSink and the DataStream API."},
	{"org/apache/flink/api/common/ExecutionMode", "", "Use execution.runtime-mode."},
	{"org/apache/flink/api/scala/", "", "The Scala APIs are gone: use the Java DataStream or Table API (from Scala too)."},
	{"org/apache/flink/streaming/api/scala/", "", "The Scala DataStream API is gone: use the Java DataStream API (from Scala too)."},
	{"org/apache/flink/configuration/ConfigConstants", "", "Use the *Options classes (CoreOptions, CheckpointingOptions, ...)."},
	{"org/apache/flink/core/execution/RestoreMode", "", "Use org.apache.flink.core.execution.RecoveryClaimMode."},
	{"org/apache/flink/runtime/jobgraph/SavepointConfigOptions", "", "Use org.apache.flink.configuration.StateRecoveryOptions."},
	{"org/apache/flink/table/sources/", "", "Use DynamicTableSource (+ DynamicTableSourceFactory)."},
	{"org/apache/flink/table/sinks/", "", "Use DynamicTableSink (+ DynamicTableSinkFactory)."},
	{"org/apache/flink/table/api/TableSchema", "", "Use org.apache.flink.table.api.Schema / ResolvedSchema."},
	{"org/apache/flink/state/api/", "", "Use SavepointReader / SavepointWriter / StateBootstrapTransformation of flink-state-processor-api 2.x."},
}

// hintFor returns the migration hint for a symbol: an internal class name
// and, for member references, the member name and descriptor (whose types are
// consulted when the class itself has no entry).
func hintFor(class, member, desc string) string {
	for _, m := range migrations {
		if m.Member != "" && m.Member == member && m.Class == class {
			return m.Hint
		}
	}
	if h := classHint(class); h != "" {
		return h
	}
	if desc != "" {
		for _, t := range descClasses(desc) {
			if h := classHint(t); h != "" {
				return h
			}
		}
	}
	return ""
}

func classHint(class string) string {
	for _, m := range migrations {
		if m.Member != "" {
			continue
		}
		if m.Class == class || (strings.HasSuffix(m.Class, "/") && strings.HasPrefix(class, m.Class)) ||
			(strings.HasPrefix(class, m.Class) && class[len(m.Class)] == '$') {
			return m.Hint
		}
	}
	return ""
}

// ScalaHint is the hint of SCALA_LIBRARY findings.
const ScalaHint = "Flink 2.x ships no Scala: bundle scala-library in the job jar (and no Flink Scala API), or port to the Java API."
