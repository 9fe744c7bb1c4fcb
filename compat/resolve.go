package compat

import "strings"

// world resolves class names the way the target JVM would see them for a
// user jar running on the target runtime. Flink's user-code class loader
// loads org.apache.flink.* parent-first: a name the runtime has always comes
// from the runtime, even when the user jar bundles a copy; the jar's copy is
// used only for names the runtime does not have.
type world struct {
	ix   *Index
	user map[string]*classResult // effective classes of the user jar
}

// origin of a class name.
const (
	originUnknown = iota // not in the runtime index nor in the jar (JDK, provided libraries)
	originTarget         // the target runtime's org/apache/flink classes
	originUser           // the user jar (including bundled Flink classes the runtime lacks)
)

func (w *world) lookup(name string) (*ClassInfo, int) {
	if isFlink(name) { // the index holds org/apache/flink/ only
		if c := w.ix.Classes[name]; c != nil {
			return c, originTarget
		}
	}
	if r := w.user[name]; r != nil {
		return r.info, originUser
	}
	return nil, originUnknown
}

// isFlink reports whether an internal class name is in the Flink namespace.
func isFlink(name string) bool { return strings.HasPrefix(name, FlinkPrefix) }

// objectMethods are java/lang/Object's public methods: an interface method
// reference resolves against them too (JVMS 5.4.3.4).
var objectMethods = map[string]bool{
	"hashCode()I": true, "equals(Ljava/lang/Object;)Z": true, "toString()Ljava/lang/String;": true,
	"getClass()Ljava/lang/Class;": true, "notify()V": true, "notifyAll()V": true, "wait()V": true,
	"wait(J)V": true, "wait(JI)V": true, "clone()Ljava/lang/Object;": true, "finalize()V": true,
}

// resolution is the outcome of a member lookup.
type resolution int

const (
	resolved   resolution = iota
	unknown               // the lookup reached a class we do not know: assume it resolves
	unresolved            // every class searched is known and none declares the member
)

// resolveMethod follows JVMS 5.4.3.3/5.4.3.4: the class and its superclasses,
// then (for interfaces, Object's methods and) all superinterfaces.
// touchedFlink reports whether a Flink class was searched.
func (w *world) resolveMethod(owner, nameDesc string, iface bool) (r resolution, touchedFlink bool) {
	if iface && objectMethods[nameDesc] {
		return resolved, false
	}
	var ifaces []string
	var seenBuf [16]string
	seen := visited(seenBuf[:0])
	for c := owner; c != ""; {
		if seen.has(c) {
			break // cyclic hierarchy in a malformed jar
		}
		seen = append(seen, c)
		ci, origin := w.lookup(c)
		if ci == nil {
			if cannotDeclare(c, nameDesc) {
				break
			}
			return unknown, touchedFlink
		}
		if origin == originTarget {
			touchedFlink = true
		}
		if ci.HasMethod(nameDesc) {
			return resolved, touchedFlink
		}
		ifaces = append(ifaces, ci.Interfaces...)
		if ci.Super == "" || ci.Super == "java/lang/Object" {
			if objectMethods[nameDesc] {
				return resolved, touchedFlink
			}
			break
		}
		c = ci.Super
	}
	for len(ifaces) > 0 {
		c := ifaces[len(ifaces)-1]
		ifaces = ifaces[:len(ifaces)-1]
		if seen.has(c) {
			continue
		}
		seen = append(seen, c)
		ci, origin := w.lookup(c)
		if ci == nil {
			if cannotDeclare(c, nameDesc) {
				continue
			}
			return unknown, touchedFlink
		}
		if origin == originTarget {
			touchedFlink = true
		}
		if ci.HasMethod(nameDesc) {
			return resolved, touchedFlink
		}
		ifaces = append(ifaces, ci.Interfaces...)
	}
	return unresolved, touchedFlink
}

// resolveField follows JVMS 5.4.3.2: the class, its superinterfaces
// (recursively), then its superclass.
func (w *world) resolveField(owner, nameDesc string) (r resolution, touchedFlink bool) {
	var seenBuf [16]string
	seen := visited(seenBuf[:0])
	var walk func(c string, depth int) resolution
	walk = func(c string, depth int) resolution {
		if seen.has(c) || depth > 256 {
			return unresolved
		}
		seen = append(seen, c)
		ci, origin := w.lookup(c)
		if ci == nil {
			if cannotDeclare(c, nameDesc) {
				return unresolved
			}
			return unknown
		}
		if origin == originTarget {
			touchedFlink = true
		}
		if ci.HasField(nameDesc) {
			return resolved
		}
		for _, i := range ci.Interfaces {
			if r := walk(i, depth+1); r != unresolved {
				return r
			}
		}
		if ci.Super != "" {
			return walk(ci.Super, depth+1)
		}
		return unresolved
	}
	r = walk(owner, 0)
	return r, touchedFlink
}

// infoHasFlinkAncestor reports whether the jar class of ci has a class of
// the target runtime among its supertypes. The answer is kept in the
// ClassInfo, so concurrent callers share it without a map.
func (w *world) infoHasFlinkAncestor(ci *ClassInfo) bool {
	return w.infoFlinkAncestor(ci, 0)
}

func (w *world) flinkAncestor(name string, depth int) bool {
	ci, origin := w.lookup(name)
	switch {
	case ci == nil:
		return isFlink(name)
	case origin == originTarget:
		return true
	}
	return w.infoFlinkAncestor(ci, depth)
}

func (w *world) infoFlinkAncestor(ci *ClassInfo, depth int) bool {
	switch ci.anc.Load() {
	case ancYes:
		return true
	case ancNo:
		return false
	}
	if depth > 64 {
		return false // a cyclic or absurdly deep hierarchy (malformed jar)
	}
	v := ci.Super != "" && w.flinkAncestor(ci.Super, depth+1)
	for _, i := range ci.Interfaces {
		v = v || w.flinkAncestor(i, depth+1)
	}
	if v {
		ci.anc.Store(ancYes)
	} else {
		ci.anc.Store(ancNo)
	}
	return v
}

// ClassInfo.anc values.
const (
	ancUnknown = iota
	ancNo
	ancYes
)

// cannotDeclare reports whether class c, which is not indexed, certainly
// does not declare a member with descriptor nameDesc: JDK classes cannot
// declare members whose types are Flink classes.
func cannotDeclare(c, nameDesc string) bool {
	return (strings.HasPrefix(c, "java/") || strings.HasPrefix(c, "javax/")) && strings.Contains(nameDesc, "L"+FlinkPrefix)
}

// visited is a small set of class names (hierarchies are shallow).
type visited []string

func (v visited) has(s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}
