#!/usr/bin/env bash
# Prints which Flink modules a binary distribution holds and where, from
# flink-dist's pom.xml and assembly descriptors at a release tag of an
# apache/flink git checkout:
#
#   scripts/dist-modules.sh ~/src/flink release-2.2.1
#
# One line per module: "<artifactId> <where>", where is "dist" (a compile
# dependency of flink-dist: shaded into lib/flink-dist-*.jar), "lib",
# "opt" or "plugins/<dir>" (assemblies bin.xml, opt.xml, plugins.xml).
# Compare it with runtime/dist.go when a release line is added or pinned
# anew; docs/runtimes.md says what the runtimes leave out and why.
set -euo pipefail
src=${1:?usage: dist-modules.sh FLINK_CHECKOUT TAG}
tag=${2:?usage: dist-modules.sh FLINK_CHECKOUT TAG}
show() { git -C "$src" show "$tag:flink-dist/$1" 2>/dev/null || true; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
show pom.xml >"$tmp/pom.xml"
for a in bin opt plugins; do show "src/main/assemblies/$a.xml" >"$tmp/$a.xml"; done
python3 - "$tmp" <<'PY'
import re, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
def strip(tag): return tag.split("}")[-1]
def parse(name):
    try:
        return ET.parse(f"{d}/{name}").getroot()
    except Exception:
        return None
out = {}
pom = parse("pom.xml")
if pom is not None:
    deps = pom.find("m:dependencies", ns)
    for dep in (deps if deps is not None else []):
        g = dep.findtext("m:groupId", "", ns)
        a = dep.findtext("m:artifactId", "", ns)
        scope = dep.findtext("m:scope", "compile", ns)
        if g == "org.apache.flink" and scope == "compile":
            out.setdefault(re.sub(r"_\$\{scala.binary.version\}", "", a), "dist")
def module_of(source):
    base = source.rsplit("/", 1)[-1]
    base = re.sub(r"[-_]\$\{(project\.version|scala\.binary\.version)\}.*", "", base)
    return base
for name, default in (("bin.xml", "lib"), ("opt.xml", "opt"), ("plugins.xml", "plugins")):
    root = parse(name)
    if root is None:
        continue
    for el in root.iter():
        t = strip(el.tag)
        if t == "include" and el.text and el.text.startswith("org.apache.flink:"):
            a = el.text.split(":")[1]
            out[re.sub(r"_\$\{scala.binary.version\}", "", a)] = "lib" if name == "bin.xml" else default
        if t == "file":
            src_ = dst = None
            for c in el:
                if strip(c.tag) == "source": src_ = (c.text or "").strip()
                if strip(c.tag) == "outputDirectory": dst = (c.text or "").strip().strip("/")
            if not src_ or not src_.endswith(".jar") or "flink-dist" in src_:
                continue
            where = default
            if dst and dst.startswith("plugins"):
                where = dst
            elif dst and dst.startswith("lib"):
                where = "lib"
            elif dst and dst.startswith("opt"):
                where = "opt"
            out[module_of(src_)] = where
for m in sorted(out):
    print(m, out[m])
PY
