// Package runtime is the catalog of Flink runtimes flinkplane can run and
// their installation with Maven.
//
// A runtime is what a Flink binary distribution holds, assembled from Maven
// module artifacts (flink-dist itself is not published): the modules of
// flink-dist's lib/ (see dist.go) with their transitive closure as resolved
// by Maven from the POMs of the exact versions, log4j, and the S3 file
// systems as plugins, each in its own directory as in the distribution.
// Installed layout, shared with the local driver and the compat checker:
//
//	<runtimes-dir>/<RuntimeID>/runtime.json        Manifest; written last, its presence means "installed"
//	<runtimes-dir>/<RuntimeID>/lib/*.jar           the class path of every JVM
//	<runtimes-dir>/<RuntimeID>/plugins/<name>/*.jar  FLINK_PLUGINS_DIR: loaded by Flink's plugin manager
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

// Plugin is a jar installed under plugins/<Dir>/ and loaded by Flink's
// plugin manager in its own class loader (not on the class path).
type Plugin struct {
	Dir      string
	Artifact Artifact
}

// Version is one catalog entry: a RuntimeID pinned to an exact Flink patch
// version and the artifacts that make up its installation.
type Version struct {
	ID           flinkplane.RuntimeID
	FlinkVersion string
	// JavaMin is the oldest Java feature release the runtime supports;
	// JavaMax the newest one it is known to run on (0: no limit known).
	JavaMin, JavaMax int
	// Artifacts are the direct dependencies of the generated POM; Maven
	// adds their runtime closure. Together: lib/.
	Artifacts []Artifact
	// Plugins are copied without their dependencies (each is a
	// self-contained shaded jar) into plugins/<Dir>/.
	Plugins []Plugin
}

// log4jVersion is the log4j version flink-dist bundles in 1.20 and 2.2.
const log4jVersion = "2.24.3"

var catalog = map[flinkplane.RuntimeID]Version{}

func init() {
	for _, v := range []Version{
		distVersion(flinkplane.RuntimeFlink118, "1.18.1", 8, 17),
		distVersion(flinkplane.RuntimeFlink119, "1.19.3", 8, 21),
		distVersion(flinkplane.RuntimeFlink120, "1.20.5", 8, 21),
		distVersion(flinkplane.RuntimeFlink22, "2.2.1", 11, 0),
		distVersion(flinkplane.RuntimeFlink23, "2.3.0", 11, 0),
	} {
		catalog[v.ID] = v
	}
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
