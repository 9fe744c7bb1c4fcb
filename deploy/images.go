package deploy

import (
	"fmt"
	"strings"

	"github.com/flinkplane/flinkplane/runtime"
)

//go:generate go test -run TestImages -update .

// ImageFiles returns the files of images/ that are generated from the
// runtime catalog, by path: for every runtime, its Containerfile and the
// POM Maven resolves its jars from (runtime.Pom, the POM of `flinkplane
// runtime install`), so that the images cannot drift from the local
// runtimes. TestImages checks the files in the repository against them.
func ImageFiles() map[string]string {
	files := map[string]string{}
	for _, id := range runtime.IDs() {
		v, err := runtime.Lookup(id)
		if err != nil {
			continue
		}
		dir := "images/" + string(id) + "/"
		files[dir+"pom.xml"] = runtime.Pom(v)
		files[dir+"Containerfile"] = RuntimeContainerfile(v)
	}
	return files
}

// BaseImage is the Apache Flink image a runtime's image starts from.
func BaseImage(v runtime.Version) string {
	return "flink:" + v.FlinkVersion + "-scala_2.12-java17"
}

// ImageName is the default name of a runtime's image (the driver's
// --k8s-image-repository and the Flink version).
func ImageName(v runtime.Version) string { return "flinkplane-flink:" + v.FlinkVersion }

// RuntimeContainerfile returns the Containerfile of a runtime's image: the
// local runtime's lib/ and plugins/, resolved by Maven from the same POM
// with the same goals as `flinkplane runtime install`, on Apache Flink's
// image of the same version, which contributes what Maven does not
// publish: the launcher scripts (bin/, /docker-entrypoint.sh) and
// lib/flink-dist, the JobManager and TaskManager entrypoints of native
// Kubernetes mode. Its other jars are replaced.
func RuntimeContainerfile(v runtime.Version) string {
	plugins := []string{"none"}
	copyPlugins := ""
	if len(v.Plugins) > 0 {
		plugins = plugins[:0]
		// dependency:copy of the POM's artifactItems, as the installer
		// runs it only when there are plugins.
		copyPlugins = " \\\n      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy"
	}
	for _, p := range v.Plugins {
		plugins = append(plugins, p.Dir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Generated from the runtime catalog (runtime/catalog.go, runtime/dist.go) by
# "go generate ./deploy": do not edit.
#
# The JobManager and TaskManager image of runtime %[1]s (Flink %[2]s) for the
# Flink Kubernetes Operator's native mode. lib/ and plugins/ are the local
# runtime's: pom.xml is its POM (runtime.Pom), resolved by Maven with the
# goals of "flinkplane runtime install". Apache Flink's image of the same
# version supplies what Maven does not publish: the launcher scripts (bin/,
# /docker-entrypoint.sh) and lib/flink-dist-%[2]s.jar, which holds the native
# Kubernetes entrypoints; its other jars and plugins are replaced.
#
#   docker build -t %[3]s deploy/images/%[1]s
#
# Plugins: %[4]s.
FROM maven:3.9-eclipse-temurin-17 AS artifacts
WORKDIR /build
COPY pom.xml .
RUN mvn -B -q -f pom.xml \
      org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
      -DoutputDirectory=/build/lib -DincludeScope=runtime -DexcludeTransitive=false \
      -Dplugins.dir=/build/plugins%[6]s \
 && mkdir -p /build/plugins

FROM %[5]s
RUN test -f /opt/flink/lib/flink-dist-%[2]s.jar \
 && find /opt/flink/lib -name '*.jar' ! -name 'flink-dist-*' -delete \
 && rm -rf /opt/flink/plugins/*
COPY --from=artifacts --chown=flink:flink /build/lib/ /opt/flink/lib/
COPY --from=artifacts --chown=flink:flink /build/plugins/ /opt/flink/plugins/
`, v.ID, v.FlinkVersion, ImageName(v), strings.Join(plugins, ", "), BaseImage(v), copyPlugins)
	return b.String()
}
