package runtime

import (
	"strings"

	"github.com/flinkplane/flinkplane"
)

// A distModule is one module of a Flink binary distribution and where
// flink-dist puts it: "dist" (shaded, unrelocated, into lib/flink-dist.jar),
// "lib" (its own jar in lib/), "opt" (opt/, an option the user copies into
// lib/ or plugins/), "plugins/<name>". The lists below follow flink-dist's
// pom.xml (compile-scope dependencies = the dist jar) and its assembly
// descriptors src/main/assemblies/bin.xml (lib/), opt.xml (opt/) and
// plugins.xml (plugins/) at the release tags; docs/runtimes.md says how they
// are regenerated and what is left out and why.
type distModule struct {
	Name  string
	Where string
	// Version: "" is the runtime's pinned version; otherwise the newest
	// patch release of the same minor version that the Maven repository
	// serves (see served below).
	Version string
	// Omit, when set, leaves the module out of the runtime and says why.
	Omit string
}

// dist120 is flink-dist 1.20.
var dist120 = []distModule{
	{Name: "flink-core", Where: "dist"},
	{Name: "flink-java", Where: "dist"},
	{Name: "flink-streaming-java", Where: "dist"},
	{Name: "flink-runtime", Where: "dist"},
	{Name: "flink-runtime-web", Where: "dist"},
	{Name: "flink-clients", Where: "dist"},
	{Name: "flink-optimizer", Where: "dist", Omit: "arrives through flink-clients (Maven closure)"},
	{Name: "flink-metrics-core", Where: "dist", Omit: "arrives through flink-core (Maven closure)"},
	{Name: "flink-rpc-akka-loader", Where: "dist", Omit: "arrives through flink-runtime (Maven closure)"},
	{Name: "flink-hadoop-fs", Where: "dist", Omit: "arrives through flink-runtime (Maven closure)"},
	{Name: "flink-connector-datagen", Where: "dist"},
	{Name: "flink-statebackend-rocksdb", Where: "dist"},
	{Name: "flink-statebackend-changelog", Where: "dist"},
	{Name: "flink-dstl-dfs", Where: "dist"},
	{Name: "flink-container", Where: "dist", Omit: "application-mode entrypoint; flinkplane runs session clusters"},
	{Name: "flink-kubernetes", Where: "dist", Omit: "native Kubernetes deployment (fabric8 client); clusters here are local processes"},
	{Name: "flink-yarn", Where: "dist", Omit: "YARN deployment; needs Hadoop, not used"},
	{Name: "flink-cep", Where: "lib"},
	{Name: "flink-connector-files", Where: "lib"},
	{Name: "flink-csv", Where: "lib", Version: "1.20.3"},
	{Name: "flink-json", Where: "lib"},
	{Name: "flink-scala_2.12", Where: "lib", Omit: "Scala DataSet/type API (removed in 2.x); not served at 1.20.5, and flinkplane has no Scala application"},
	// flink-table-api-java-uber is an unrelocated shade of these four
	// modules; the uber jar itself is not served by the Maven repository.
	{Name: "flink-table-common", Where: "lib", Version: "1.20.3"},
	{Name: "flink-table-api-java", Where: "lib", Version: "1.20.3"},
	{Name: "flink-table-api-bridge-base", Where: "lib", Version: "1.20.3"},
	{Name: "flink-table-api-java-bridge", Where: "lib", Version: "1.20.3"},
	{Name: "flink-table-runtime", Where: "lib", Version: "1.20.3"},
	{Name: "flink-table-planner-loader", Where: "lib", Version: "1.20.3"},
	{Name: "flink-s3-fs-hadoop", Where: "plugins/s3-fs-hadoop", Version: "1.20.1"},
	{Name: "flink-s3-fs-presto", Where: "plugins/s3-fs-presto", Version: "1.20.0"},
	{Name: "flink-metrics-jmx", Where: "plugins/metrics-jmx", Omit: "metrics reporters are not configured by flinkplane (the service reads metrics over REST)"},
	{Name: "flink-metrics-prometheus", Where: "plugins/metrics-prometheus", Omit: "metrics reporters are not configured by flinkplane"},
	{Name: "flink-external-resource-gpu", Where: "plugins/external-resource-gpu", Omit: "no GPUs"},
	{Name: "flink-table-planner_2.12", Where: "opt", Omit: "the planner is loaded through flink-table-planner-loader, as in lib/ of the distribution"},
	{Name: "flink-state-processor-api", Where: "opt", Omit: "a library for offline jobs; applications bundle it"},
	{Name: "flink-sql-client", Where: "opt", Omit: "interactive SQL shell, not a service component"},
	{Name: "flink-sql-gateway", Where: "opt", Omit: "SQL gateway service, not part of an application"},
	{Name: "flink-python", Where: "opt", Omit: "PyFlink needs a Python environment on every TaskManager; not supported"},
	{Name: "flink-azure-fs-hadoop", Where: "opt", Omit: "Azure storage; the service's storage is S3"},
	{Name: "flink-gs-fs-hadoop", Where: "opt", Omit: "Google Cloud Storage; the service's storage is S3"},
	{Name: "flink-oss-fs-hadoop", Where: "opt", Omit: "Aliyun OSS; the service's storage is S3"},
	{Name: "flink-queryable-state-runtime", Where: "opt", Omit: "queryable state is deprecated and not offered by the managed service"},
}

// dist22 is flink-dist 2.2.
var dist22 = []distModule{
	{Name: "flink-core", Where: "dist"},
	{Name: "flink-core-api", Where: "dist"},
	{Name: "flink-datastream", Where: "dist"},
	{Name: "flink-datastream-api", Where: "dist"},
	{Name: "flink-streaming-java", Where: "dist"},
	{Name: "flink-runtime", Where: "dist"},
	{Name: "flink-runtime-web", Where: "dist"},
	{Name: "flink-clients", Where: "dist"},
	{Name: "flink-metrics-core", Where: "dist", Omit: "arrives through flink-core (Maven closure)"},
	{Name: "flink-rpc-akka-loader", Where: "dist", Omit: "arrives through flink-runtime (Maven closure)"},
	{Name: "flink-hadoop-fs", Where: "dist", Omit: "arrives through flink-runtime (Maven closure)"},
	{Name: "flink-connector-datagen", Where: "dist"},
	{Name: "flink-statebackend-rocksdb", Where: "dist"},
	{Name: "flink-statebackend-forst", Where: "dist", Version: "2.2.0"},
	{Name: "flink-statebackend-changelog", Where: "dist"},
	{Name: "flink-dstl-dfs", Where: "dist"},
	{Name: "flink-container", Where: "dist", Omit: "application-mode entrypoint; flinkplane runs session clusters"},
	{Name: "flink-kubernetes", Where: "dist", Omit: "native Kubernetes deployment (fabric8 client); clusters here are local processes"},
	{Name: "flink-yarn", Where: "dist", Omit: "YARN deployment; needs Hadoop, not used"},
	{Name: "flink-cep", Where: "lib"},
	{Name: "flink-connector-files", Where: "lib"},
	{Name: "flink-csv", Where: "lib", Version: "2.2.0"},
	{Name: "flink-json", Where: "lib"},
	// flink-table-api-java-uber: see dist120.
	{Name: "flink-table-common", Where: "lib"},
	{Name: "flink-table-api-java", Where: "lib"},
	{Name: "flink-table-api-bridge-base", Where: "lib"},
	{Name: "flink-table-api-java-bridge", Where: "lib"},
	{Name: "flink-table-runtime", Where: "lib"},
	{Name: "flink-table-planner-loader", Where: "lib"},
	{Name: "flink-s3-fs-hadoop", Where: "plugins/s3-fs-hadoop", Version: "2.2.0"},
	{Name: "flink-s3-fs-presto", Where: "plugins/s3-fs-presto", Version: "2.2.0"},
	{Name: "flink-metrics-jmx", Where: "plugins/metrics-jmx", Omit: "metrics reporters are not configured by flinkplane (the service reads metrics over REST)"},
	{Name: "flink-metrics-prometheus", Where: "plugins/metrics-prometheus", Omit: "metrics reporters are not configured by flinkplane"},
	{Name: "flink-external-resource-gpu", Where: "plugins/external-resource-gpu", Omit: "no GPUs"},
	{Name: "flink-table-planner_2.12", Where: "opt", Omit: "the planner is loaded through flink-table-planner-loader, as in lib/ of the distribution"},
	{Name: "flink-state-processor-api", Where: "opt", Omit: "a library for offline jobs; applications bundle it"},
	{Name: "flink-sql-client", Where: "opt", Omit: "interactive SQL shell, not a service component"},
	{Name: "flink-sql-gateway", Where: "opt", Omit: "SQL gateway service, not part of an application"},
	{Name: "flink-python", Where: "opt", Omit: "PyFlink needs a Python environment on every TaskManager; not supported"},
	{Name: "flink-azure-fs-hadoop", Where: "opt", Omit: "Azure storage; the service's storage is S3"},
	{Name: "flink-gs-fs-hadoop", Where: "opt", Omit: "Google Cloud Storage; the service's storage is S3"},
	{Name: "flink-oss-fs-hadoop", Where: "opt", Omit: "Aliyun OSS; the service's storage is S3"},
}

// coreModules are the DataStream core kept for the runtimes whose full
// distribution is not assembled (FLINK-1_18, FLINK-1_19, FLINK-2_3: the
// served patch versions of their table and S3 modules were not verified),
// plus the RocksDB state backend, the default state backend of every
// application.
var core1 = []string{"flink-core", "flink-java", "flink-streaming-java", "flink-runtime", "flink-clients",
	"flink-runtime-web", "flink-connector-files", "flink-connector-datagen", "flink-statebackend-rocksdb"}
var core2 = []string{"flink-core", "flink-core-api", "flink-datastream", "flink-datastream-api", "flink-streaming-java",
	"flink-runtime", "flink-clients", "flink-runtime-web", "flink-connector-files", "flink-connector-datagen",
	"flink-statebackend-rocksdb"}

// distModules returns the distribution of a runtime (nil: core only).
func distModules(id flinkplane.RuntimeID) []distModule {
	switch id {
	case flinkplane.RuntimeFlink120:
		return dist120
	case flinkplane.RuntimeFlink22:
		return dist22
	}
	return nil
}

func distVersion(id flinkplane.RuntimeID, flinkVersion string, javaMin, javaMax int) Version {
	v := Version{ID: id, FlinkVersion: flinkVersion, JavaMin: javaMin, JavaMax: javaMax}
	mods := distModules(id)
	if mods == nil {
		names := core1
		if major, _, _ := id.Version(); major >= 2 {
			names = core2
		}
		for _, n := range names {
			mods = append(mods, distModule{Name: n, Where: "dist"})
		}
	}
	for _, m := range mods {
		if m.Omit != "" || m.Where == "opt" {
			continue
		}
		a := Artifact{"org.apache.flink", m.Name, flinkVersion}
		if m.Version != "" {
			a.Version = m.Version
		}
		if dir, ok := strings.CutPrefix(m.Where, "plugins/"); ok {
			v.Plugins = append(v.Plugins, Plugin{Dir: dir, Artifact: a})
			continue
		}
		v.Artifacts = append(v.Artifacts, a)
	}
	for _, m := range []string{"log4j-slf4j-impl", "log4j-api", "log4j-core", "log4j-1.2-api"} {
		v.Artifacts = append(v.Artifacts, Artifact{"org.apache.logging.log4j", m, log4jVersion})
	}
	return v
}
