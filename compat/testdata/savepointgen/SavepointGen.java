import java.io.File;
import java.util.Arrays;

import org.apache.flink.api.common.JobID;
import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.client.program.PackagedProgramUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;

/**
 * Takes a real savepoint of a job jar on a MiniCluster (compiled and run on a
 * flinkplane runtime's classpath by compat's tests and gen-savepoints.sh).
 *
 * <pre>
 * SavepointGen JAR MAIN_CLASS SAVEPOINT_DIR RUN_MILLIS [key=value ...] -- [job args ...]
 * </pre>
 *
 * Submits the job, lets it run RUN_MILLIS, triggers a canonical savepoint
 * (cancelling the job) and prints "SAVEPOINT path".
 */
public class SavepointGen {
    public static void main(String[] a) throws Exception {
        String jar = a[0], mainClass = a[1], target = a[2];
        long runMillis = Long.parseLong(a[3]);
        Configuration conf = new Configuration();
        int i = 4;
        for (; i < a.length && !a[i].equals("--"); i++) {
            String[] kv = a[i].split("=", 2);
            conf.setString(kv[0], kv[1]);
        }
        String[] jobArgs = i < a.length ? Arrays.copyOfRange(a, i + 1, a.length) : new String[0];
        MiniClusterConfiguration mcc =
                new MiniClusterConfiguration.Builder()
                        .setConfiguration(conf)
                        .setNumTaskManagers(1)
                        .setNumSlotsPerTaskManager(4)
                        .build();
        int status = 1;
        try (MiniCluster mc = new MiniCluster(mcc)) {
            mc.start();
            PackagedProgram p =
                    PackagedProgram.newBuilder()
                            .setJarFile(new File(jar))
                            .setEntryPointClassName(mainClass)
                            .setArguments(jobArgs)
                            .setConfiguration(conf)
                            .build();
            JobGraph jg = PackagedProgramUtils.createJobGraph(p, conf, 1, false);
            JobID id = jg.getJobID();
            mc.submitJob(jg).get();
            Thread.sleep(runMillis);
            long deadline = System.currentTimeMillis() + 60_000;
            while (true) {
                try {
                    String path =
                            mc.triggerSavepoint(id, target, true, SavepointFormatType.CANONICAL)
                                    .get();
                    System.out.println("SAVEPOINT " + path);
                    status = 0;
                    break;
                } catch (Exception e) {
                    if (System.currentTimeMillis() > deadline) {
                        throw e;
                    }
                    Thread.sleep(500);
                }
            }
        }
        System.exit(status);
    }
}
