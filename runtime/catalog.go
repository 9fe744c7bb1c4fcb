// Package runtime is the catalog of Flink runtimes flinkplane can run and
// their installation with Maven.
//
// A runtime is the classpath of a Flink standalone cluster assembled from
// Maven module artifacts (flink-dist is not used): the Flink modules listed in
// the catalog, their transitive closure (flink-shaded, third-party libraries)
// as resolved by Maven from the POMs of the exact Flink version, and log4j.
// Installed layout, shared with the local driver and the compat checker:
//
//	<runtimes-dir>/<RuntimeID>/runtime.json   Manifest; written last, its presence means "installed"
//	<runtimes-dir>/<RuntimeID>/lib/*.jar      the full classpath
package runtime

import (
	"sort"

	"github.com/flinkplane/flinkplane"
)

// Artifact is a Maven artifact "groupId:artifactId:version".
type Artifact struct {
	Group, Name, Version string
}

func (a Artifact) String() string { return a.Group + ":" + a.Name + ":" + a.Version }

// Version is one catalog entry: a RuntimeID pinned to an exact Flink patch
// version and the artifacts that make up its classpath.
type Version struct {
	ID           flinkplane.RuntimeID
	FlinkVersion string
	// JavaMin is the oldest Java feature release the runtime supports;
	// JavaMax the newest one it is known to run on (0: no limit known).
	JavaMin, JavaMax int
	// Artifacts are the direct dependencies of the generated POM; Maven
	// adds their runtime closure.
	Artifacts []Artifact
}

// log4jVersion is the log4j version flink-dist bundles in 1.20 and 2.2.
const log4jVersion = "2.24.3"

// flinkModules are the modules of a standalone session cluster (what
// flink-dist shades into lib/, see flink-runtime-notes §4.2), plus the file
// connector that flink-dist ships as lib/flink-connector-files.
var flinkModules1 = []string{
	"flink-core", "flink-java", "flink-streaming-java", "flink-runtime",
	"flink-clients", "flink-runtime-web", "flink-connector-files",
	"flink-connector-datagen",
}

var flinkModules2 = []string{
	"flink-core", "flink-core-api", "flink-datastream", "flink-datastream-api",
	"flink-streaming-java", "flink-runtime", "flink-clients",
	"flink-runtime-web", "flink-connector-files", "flink-connector-datagen",
}

func artifacts(version string, modules []string) []Artifact {
	var a []Artifact
	for _, m := range modules {
		a = append(a, Artifact{"org.apache.flink", m, version})
	}
	for _, m := range []string{"log4j-slf4j-impl", "log4j-api", "log4j-core", "log4j-1.2-api"} {
		a = append(a, Artifact{"org.apache.logging.log4j", m, log4jVersion})
	}
	return a
}

var catalog = map[flinkplane.RuntimeID]Version{
	flinkplane.RuntimeFlink118: {ID: flinkplane.RuntimeFlink118, FlinkVersion: "1.18.1", JavaMin: 8, JavaMax: 17, Artifacts: artifacts("1.18.1", flinkModules1)},
	flinkplane.RuntimeFlink119: {ID: flinkplane.RuntimeFlink119, FlinkVersion: "1.19.3", JavaMin: 8, JavaMax: 21, Artifacts: artifacts("1.19.3", flinkModules1)},
	flinkplane.RuntimeFlink120: {ID: flinkplane.RuntimeFlink120, FlinkVersion: "1.20.5", JavaMin: 8, JavaMax: 21, Artifacts: artifacts("1.20.5", flinkModules1)},
	flinkplane.RuntimeFlink22:  {ID: flinkplane.RuntimeFlink22, FlinkVersion: "2.2.1", JavaMin: 11, Artifacts: artifacts("2.2.1", flinkModules2)},
	flinkplane.RuntimeFlink23:  {ID: flinkplane.RuntimeFlink23, FlinkVersion: "2.3.0", JavaMin: 11, Artifacts: artifacts("2.3.0", flinkModules2)},
}

// Lookup returns the catalog entry of a runtime. Returns EINVALID for a
// runtime that is not in the catalog.
func Lookup(id flinkplane.RuntimeID) (Version, error) {
	v, ok := catalog[id]
	if !ok {
		return Version{}, flinkplane.Errorf(flinkplane.EINVALID, "Unknown runtime %q; known runtimes: %v.", id, IDs())
	}
	return v, nil
}

// IDs returns the runtimes of the catalog, oldest first.
func IDs() []flinkplane.RuntimeID {
	ids := make([]flinkplane.RuntimeID, 0, len(catalog))
	for id := range catalog {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Compare(ids[j]) < 0 })
	return ids
}
