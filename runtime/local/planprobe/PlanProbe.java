// Compiled by flinkplane (runtime/local/plan.go) against an installed
// runtime's lib/ with javac, and run on that runtime's class path: builds
// the job graph of an application jar without running it (Flink's
// PackagedProgramUtils: main() runs with an environment that captures the
// pipeline instead of executing it) and prints one line per operator:
//   OP <generated id> <user-defined id or -> <vertex name>
// The classes used are Flink's public client API, the same in 1.x and 2.x.
import java.io.File;
import java.util.Arrays;

import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.client.program.PackagedProgramUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.OperatorIDPair;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;

public final class PlanProbe {
    public static void main(String[] args) throws Exception {
        // args: jar, entry class ("-" for the manifest's), parallelism, program args...
        File jar = new File(args[0]);
        String entry = args[1];
        int parallelism = Integer.parseInt(args[2]);
        String[] programArgs = Arrays.copyOfRange(args, 3, args.length);
        Configuration conf = new Configuration();
        PackagedProgram.Builder b = PackagedProgram.newBuilder()
                .setJarFile(jar)
                .setArguments(programArgs)
                .setConfiguration(conf);
        if (!"-".equals(entry)) {
            b.setEntryPointClassName(entry);
        }
        PackagedProgram program = b.build();
        try {
            JobGraph jg = PackagedProgramUtils.createJobGraph(program, conf, parallelism, true);
            for (JobVertex v : jg.getVertices()) {
                for (OperatorIDPair p : v.getOperatorIDs()) {
                    String user = p.getUserDefinedOperatorID().map(Object::toString).orElse("-");
                    System.out.println("OP " + p.getGeneratedOperatorID() + " " + user + " " + v.getName().replace('\n', ' '));
                }
            }
        } finally {
            program.close();
        }
        System.out.flush();
        System.exit(0);
    }
}
