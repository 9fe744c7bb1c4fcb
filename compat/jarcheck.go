package compat

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/classfile"
	"github.com/flinkplane/flinkplane/compat/jar"
)

// Finding codes of the JAR check.
const (
	CodeUnresolvedClass  = "UNRESOLVED_CLASS"
	CodeUnresolvedMethod = "UNRESOLVED_METHOD"
	CodeUnresolvedField  = "UNRESOLVED_FIELD"
	CodeMissingAnno      = "UNRESOLVED_ANNOTATION"
	CodeBundledFlink     = "BUNDLED_FLINK_CLASS"
	CodeConnectorVersion = "CONNECTOR_VERSION"
	CodeClassVersion     = "CLASS_VERSION"
	CodeScala            = "SCALA_LIBRARY"
	CodeBadClass         = "MALFORMED_CLASS"
	CodeBrokenBundled    = "INCOMPATIBLE_BUNDLED_CLASS"
	CodeOverride         = "OVERRIDE_NOT_CALLED"
)

// RuntimeJavaMajor is the class-file major version of the Java the runtimes
// run on (Java 17).
const RuntimeJavaMajor = 61

// runtimeJavaRelease is the Java release matching RuntimeJavaMajor, used to
// pick multi-release jar variants.
const runtimeJavaRelease = RuntimeJavaMajor - 44

// JarReport is the result of a JAR check.
type JarReport struct {
	Jar      string               `json:"jar"`
	Target   flinkplane.RuntimeID `json:"target"`
	Findings []flinkplane.Finding `json:"findings"`
	Summary  Summary              `json:"summary"`
}

// Summary counts a report's findings and what was scanned.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
	// JAR checks: the classes that can load were read, parsed and checked
	// (Classes of JarClasses, ClassBytes uncompressed).
	Classes    int   `json:"classes,omitempty"`
	JarClasses int   `json:"jarClasses,omitempty"`
	ClassBytes int64 `json:"classBytes,omitempty"`
	NestedJars int   `json:"nestedJars,omitempty"`
	// Savepoint checks.
	Operators int `json:"operators,omitempty"`
	States    int `json:"states,omitempty"`
	// Seconds spent scanning (index loading excluded).
	Seconds float64 `json:"seconds"`
}

func summarize(fs []flinkplane.Finding, s *Summary) {
	s.Errors, s.Warnings, s.Infos = 0, 0, 0
	for _, f := range fs {
		switch f.Severity {
		case flinkplane.SeverityError:
			s.Errors++
		case flinkplane.SeverityWarning:
			s.Warnings++
		default:
			s.Infos++
		}
	}
}

// site is where a reference is used: a class and (optionally) a method.
type site struct {
	class string // internal name
	// name and desc of the method or field (field set), "" for the class
	// itself; method() joins them only for a finding.
	name, desc string
	field      bool
	// m is the method's index in the class, -1 for the class or a field.
	m int32
}

// method returns name+descriptor of a method site, name+":"+descriptor of
// a field site, "" for the class itself.
func (s site) method() string {
	if s.field {
		return s.name + ":" + s.desc
	}
	return s.name + s.desc
}

// candidate is a reference to a Flink class absent from the target: a
// finding unless the user jar bundles the class.
type candidate struct {
	site
	class    string // the missing class
	severity string
	context  string // how it is used ("extends", "annotation", ...)
}

// deferredRef is a member reference whose owner is not a target class: it is
// resolved once every class of the jar is known.
type deferredRef struct {
	owner, name, desc string
	// ownerIdx is the owner's index in the scan's files, -1 when the jar
	// does not have it.
	ownerIdx int32
	// method is the index of the method using the reference in its class
	// (classResult.site), -1 for the class itself.
	method int32
	field  bool
	iface  bool
	// pooled: found by the constant-pool walk of a class without Flink or
	// Scala constants (its bytecode is not walked), so its site is the
	// class only: a finding re-reads the class to attribute it to the
	// methods that use the reference.
	pooled bool
}

type classResult struct {
	idx      int32 // in the scan's files
	loaded   bool  // the class the jar gives its name (world.user)
	name     string
	differs  bool // a bundled class the runtime shadows, of another shape
	info     *ClassInfo
	methods  []rawMember // the class's methods, for the sites of deferred refs
	major    uint16
	size     int64
	path     string
	findings []flinkplane.Finding
	cands    []candidate
	deferred []deferredRef
	scala    string // first scala/ class referenced
	err      error
	// seenIdx marks the constants already checked with no output that
	// depends on where they are used (a scratch buffer of the worker): a
	// method using one again needs no second check. A member reference is
	// recorded as deferred once, for its first use. Two constants naming
	// the same member (never emitted by javac) are deduplicated in pass 2.
	seenIdx []bool
	// jarNames are the class names of the jar (to their index in the
	// scan's files): a deferred reference to a class neither in the jar nor
	// in the Flink namespace cannot reach a Flink class and is not recorded.
	jarNames map[string]int32
	// edges are the jar classes (indexes) this class may load: supertypes,
	// class constants, annotation types and class names in string
	// constants (Class.forName).
	edges []int32
}

type refKey struct{ owner, name, desc string }

// site returns the site of a deferred reference made by method m (-1: the
// class itself).
func (res *classResult) site(m int32) site {
	if m < 0 || int(m) >= len(res.methods) {
		return site{class: res.name, m: -1}
	}
	mm := res.methods[m]
	return site{class: res.name, name: mm.Name, desc: mm.Descriptor, m: m}
}

// ScanJar checks the jar at path against index ix. The returned report's
// findings are sorted by severity, class and method.
func ScanJar(ctx context.Context, path string, ix *Index) (*JarReport, error) {
	start := time.Now()
	r, err := openJar(path)
	if err != nil {
		return nil, err
	}
	return scanReader(ctx, start, path, r, ix)
}

// openJar opens the jar at path for ScanJar. Returns ECODE if it is not a
// readable jar.
func openJar(path string) (*jar.Reader, error) {
	r, err := jar.Open(path, jar.DefaultLimits)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.ECODE, "Cannot read %s as a JAR: %v.", path, err)
	}
	return r, nil
}

// scanReader is ScanJar on the opened jar r, which it closes.
func scanReader(ctx context.Context, start time.Time, path string, r *jar.Reader, ix *Index) (*JarReport, error) {
	defer r.Close()
	rep := &JarReport{Jar: path, Target: ix.Runtime, Findings: []flinkplane.Finding{}}
	// jarNames maps the class names of the jar to their index in files.
	files, jarNames := effectiveClasses(r)

	// Pass 1, in parallel: read, parse and check the classes that can load,
	// starting from the entry points (Main-Class / program-class, service
	// providers) and following the classes they refer to — never through a
	// class the runtime shadows (Flink loads org.apache.flink parent-first).
	// Without an entry point every non-Flink class is a root. Code the JVM
	// never loads (optional integrations of bundled libraries, inner classes
	// of shadowed connector classes) is not even decompressed. Bundled Flink
	// classes the runtime shadows are parsed for their shape only.

	results := make([]*classResult, len(files))
	w := &world{ix: ix, user: map[string]*classResult{}} // user: filled by pass 1
	queue := make(chan int, len(files))
	queued := make([]bool, len(files))
	var mu sync.Mutex
	var pending sync.WaitGroup
	enqueueIdx := func(i int32) { // with mu held
		if !queued[i] {
			queued[i] = true
			pending.Add(1)
			queue <- int(i)
		}
	}
	enqueue := func(name string) { // with mu held
		if i, ok := jarNames[name]; ok {
			enqueueIdx(i)
		}
	}
	mu.Lock()
	for _, f := range files {
		if isFlink(f.ClassName) && ix.Classes[f.ClassName] != nil {
			enqueue(f.ClassName)
		}
	}
	rooted := false
	for _, n := range entryPoints(r, func(n string) bool { _, ok := jarNames[n]; return ok || ix.Classes[n] != nil }) {
		if _, ok := jarNames[n]; ok && ix.Classes[n] == nil {
			enqueue(n)
			rooted = true
		}
	}
	if !rooted {
		for _, f := range files {
			if !isFlink(f.ClassName) {
				enqueue(f.ClassName)
			}
		}
	}
	mu.Unlock()
	go func() {
		pending.Wait()
		close(queue)
	}()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var parser classfile.Parser
			var buf []byte
			var seenIdx []bool
			for i := range queue {
				if ctx.Err() != nil {
					pending.Done()
					continue
				}
				f := files[i]
				res := &classResult{path: f.Path(), idx: int32(i)}
				b, err := r.ReadBuf(f, buf)
				if err != nil {
					res.err = err
				} else {
					buf = b
					res.size = int64(len(b))
					// Bytecode matters only for references into Flink or
					// Scala (and their attribution): a class whose
					// constants name neither is checked from its constant
					// pool alone.
					parser.CodeIf = namesFlinkOrScala
					// A class the runtime shadows is compared for its shape
					// only: its bytecode does not matter either.
					parser.SkipCode = isFlink(f.ClassName) && ix.Classes[f.ClassName] != nil
					c, err := parser.Parse(b)
					if err != nil {
						res.findings = append(res.findings, flinkplane.Finding{
							Severity: flinkplane.SeverityWarning, Code: CodeBadClass, Class: f.ClassName,
							Message: fmt.Sprintf("%s is not a valid class file: %v", f.Path(), err),
						})
					} else {
						if cap(seenIdx) < len(c.Pool) {
							seenIdx = make([]bool, len(c.Pool))
						}
						res.seenIdx, res.jarNames = seenIdx[:len(c.Pool)], jarNames
						clear(res.seenIdx)
						scanClass(c, ix, res, !c.CodeSkipped)
						if rc := ix.Classes[res.name]; rc == nil {
							collectEdges(c, jarNames, res)
						} else if isFlink(res.name) {
							// Bundled, shadowed by the runtime's copy:
							// compared for its shape only.
							res.differs = !sameShape(res.info, rc)
						}
						res.seenIdx, res.jarNames = nil, nil
					}
				}
				mu.Lock()
				results[i] = res
				if res.name != "" && ix.Classes[res.name] == nil {
					// A class name declared twice (a malformed jar): the
					// later file wins, as in file order.
					if prev := w.user[res.name]; prev == nil || prev.idx < res.idx {
						if prev != nil {
							prev.loaded = false
						}
						w.user[res.name] = res
						res.loaded = true
					}
					// Edges cover every jar class the class refers to: the
					// owners of its member references are class constants,
					// and candidates add theirs.
					for _, e := range res.edges {
						enqueueIdx(e)
					}
				}
				mu.Unlock()
				pending.Done()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var bundled []bundledClass // Flink classes in the jar
	versions := map[uint16][]string{}
	rep.Summary.JarClasses = len(files)
	for i, f := range files {
		res := results[i]
		if res == nil {
			if isFlink(f.ClassName) {
				bundled = append(bundled, bundledClass{name: f.ClassName})
			}
			continue
		}
		if res.err != nil {
			return nil, flinkplane.Errorf(flinkplane.ECODE, "Cannot read %s: %v.", res.path, res.err)
		}
		rep.Summary.Classes++
		rep.Summary.ClassBytes += res.size
		if res.name == "" {
			rep.Findings = append(rep.Findings, res.findings...)
			continue
		}
		shadowed := ix.Classes[res.name] != nil
		if isFlink(res.name) {
			bundled = append(bundled, bundledClass{name: res.name, shadowed: shadowed, live: !shadowed, differs: res.differs})
		}
		if shadowed {
			continue // the runtime's copy is used: never loaded
		}
		if res.major > RuntimeJavaMajor {
			versions[res.major] = append(versions[res.major], res.name)
		}
	}
	// live: a class of the jar that loads (parsed, not shadowed).
	live := func(res *classResult) bool { return res != nil && res.name != "" && w.user[res.name] != nil }
	rep.Summary.NestedJars = len(r.NestedJars())

	// Relocated libraries: a missing class under a relocation root
	// (".../shaded/") that the jar bundles and the runtime does not is an
	// optional dependency of a library relocated into the jar (e.g. the
	// table planner's calcite-shaded protobuf), not a Flink API break.
	jarRoots := map[string]bool{}
	for _, f := range files {
		if r := relocationRoot(f.ClassName); r != "" {
			jarRoots[r] = true
		}
	}
	optionalRelocated := func(name string) bool {
		r := relocationRoot(name)
		return r != "" && jarRoots[r] && !ix.hasRelocationRoot(r)
	}

	var scalaFirst string
	// Pass 2: findings that need the whole jar, per class in parallel (the
	// world is read-only by now, but for what ClassInfos compute once:
	// their member maps and whether they have a Flink supertype).
	type findingKey struct{ code, class, method, symbol string }
	seen := map[findingKey]bool{}
	add := func(f flinkplane.Finding) {
		k := findingKey{f.Code, f.Class, f.Method, f.Symbol}
		if seen[k] {
			return
		}
		seen[k] = true
		rep.Findings = append(rep.Findings, f)
	}
	type classFindings struct {
		findings []flinkplane.Finding
		// unattributed are unresolved pooled references: attributed to
		// methods below.
		unattributed []refKey
	}
	perClass := make([]classFindings, len(results))
	check := func(res *classResult, out *classFindings) {
		add := func(f flinkplane.Finding) { out.findings = append(out.findings, f) }
		out.findings = append(out.findings, res.findings...)
		for _, c := range res.cands {
			if w.user[c.class] != nil {
				continue // the jar bundles it: its own references are checked
			}
			code := CodeUnresolvedClass
			if c.context == "annotation" {
				code = CodeMissingAnno
			}
			sev, note := c.severity, ""
			if optionalRelocated(c.class) {
				// A relocated library inside the jar (calcite-shaded,
				// ...) referring to its own missing, usually optional,
				// dependency: not a Flink API break.
				sev, note = flinkplane.SeverityWarning, " (relocated library code referring to a relocated class that is not bundled, usually an optional dependency)"
			}
			add(flinkplane.Finding{
				Severity: sev, Code: code,
				Class: dotted(c.site.class), Method: prettyMethod(c.method()), Symbol: dotted(c.class),
				Message: fmt.Sprintf("%s %s is not in %s%s%s.", kindOf(c.class), dotted(c.class), ix.Runtime, contextText(c.context), note),
				Hint:    hintFor(c.class, "", ""),
			})
		}
		var seenRef map[refKey]bool
		dup := func(d deferredRef) bool { // a second constant naming the same member
			if seenRef == nil {
				seenRef = map[refKey]bool{}
			}
			k := refKey{d.owner, d.name, d.desc}
			if seenRef[k] {
				return true
			}
			seenRef[k] = true
			return false
		}
		for _, d := range res.deferred {
			var owner *classResult // the jar's class of that name, if it loads
			if d.ownerIdx >= 0 {
				if o := results[d.ownerIdx]; o != nil && o.loaded && o.name == d.owner {
					owner = o
				}
			}
			if owner == nil && isFlink(d.owner) {
				if dup(d) {
					continue
				}
				// The owner is neither in the runtime nor in the jar.
				f := memberFinding(res.site(d.method), d.owner, d.name, d.desc, d.field, ix.Runtime)
				if optionalRelocated(d.owner) {
					f.Severity = flinkplane.SeverityWarning
				}
				add(f)
				continue
			}
			if owner == nil || !w.infoHasFlinkAncestor(owner.info) || dup(d) {
				continue
			}
			var r resolution
			var touched bool
			if d.field {
				r, touched = w.resolveField(d.owner, d.name+":"+d.desc)
			} else {
				r, touched = w.resolveMethod(d.owner, d.name+d.desc, d.iface)
			}
			if r == unresolved && touched {
				if d.pooled {
					out.unattributed = append(out.unattributed, refKey{d.owner, d.name, d.desc})
					continue
				}
				add(memberFinding(res.site(d.method), d.owner, d.name, d.desc, d.field, ix.Runtime))
			}
		}
		// Overrides of callbacks the target no longer has: a user method
		// that shares its name with a method of a Flink supertype but
		// whose Flink signature no supertype declares any more
		// (open(Configuration) next to 2.x's open(OpenContext)) is never
		// called by the runtime.
		if !isFlink(res.name) && res.info != nil {
			out.findings = append(out.findings, overrideFindings(w, res.name, res.info, ix.Runtime)...)
		}
	}
	var next atomic.Int64
	const chunk = 256
	var pwg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(results) {
					return
				}
				for ri := lo; ri < min(lo+chunk, len(results)); ri++ {
					if res := results[ri]; live(res) {
						check(res, &perClass[ri])
					}
				}
			}
		}()
	}
	pwg.Wait()
	unattributed := map[int][]refKey{}
	for ri, res := range results {
		if !live(res) {
			continue
		}
		if scalaFirst == "" && res.scala != "" {
			scalaFirst = res.name
		}
		for _, f := range perClass[ri].findings {
			add(f)
		}
		if u := perClass[ri].unattributed; len(u) > 0 {
			unattributed[ri] = u
		}
	}
	// A class checked from its constant pool with an unresolved reference
	// (rare: a real finding) is read again with its bytecode, so the
	// finding names the method(s) using the reference like any other.
	for ri, keys := range unattributed {
		full, err := rescan(r, files[ri], ix, jarNames)
		if err != nil {
			return nil, flinkplane.Errorf(flinkplane.ECODE, "Cannot read %s: %v.", files[ri].Path(), err)
		}
		want := map[refKey]bool{}
		for _, k := range keys {
			want[k] = true
		}
		for _, d := range full.deferred {
			if k := (refKey{d.owner, d.name, d.desc}); want[k] {
				delete(want, k) // the first use, like the bytecode path's dedup
				add(memberFinding(full.site(d.method), d.owner, d.name, d.desc, d.field, ix.Runtime))
			}
		}
	}
	// A user class that uses a bundled Flink class which cannot be loaded
	// on the target (its supertypes are gone, e.g. FlinkKafkaConsumer
	// extending RichParallelSourceFunction) fails at that use site too.
	brokenMemo := map[string]string{}
	var broken func(name string, depth int) string
	broken = func(name string, depth int) string {
		if v, ok := brokenMemo[name]; ok || depth > 64 {
			return v
		}
		brokenMemo[name] = ""
		i, ok := jarNames[name]
		if !ok || !live(results[i]) || results[i].name != name {
			return ""
		}
		res := results[i]
		var why string
		for _, c := range res.cands {
			if !c.field && c.name == "" && c.desc == "" && c.severity == flinkplane.SeverityError && w.user[c.class] == nil {
				why = c.class
				break
			}
		}
		if why == "" && res.info != nil {
			for _, sup := range append([]string{res.info.Super}, res.info.Interfaces...) {
				if isFlink(sup) && w.user[sup] != nil {
					if b := broken(sup, depth+1); b != "" {
						why = b
						break
					}
				}
			}
		}
		brokenMemo[name] = why
		return why
	}
	for _, res := range results {
		if !live(res) || isFlink(res.name) {
			continue
		}
		for _, c := range res.cands {
			if !isFlink(c.class) || w.user[c.class] == nil {
				continue
			}
			if why := broken(c.class, 0); why != "" {
				add(flinkplane.Finding{
					Severity: flinkplane.SeverityError, Code: CodeBrokenBundled,
					Class: dotted(c.site.class), Method: prettyMethod(c.method()), Symbol: dotted(c.class),
					Message: fmt.Sprintf("%s, bundled in the jar, cannot be loaded on %s: its supertype %s does not exist there.", dotted(c.class), ix.Runtime, dotted(why)),
					Hint:    firstNonEmpty(hintFor(c.class, "", ""), hintFor(why, "", "")),
				})
			}
		}
	}
	rep.Findings = append(rep.Findings, bundledFindings(bundled, ix)...)
	rep.Findings = append(rep.Findings, pomFindings(r.Poms, ix)...)
	for major, names := range versions {
		sort.Strings(names)
		rep.Findings = append(rep.Findings, flinkplane.Finding{
			Severity: flinkplane.SeverityError, Code: CodeClassVersion, Class: dotted(names[0]),
			Symbol:  fmt.Sprintf("class file version %d (Java %d)", major, int(major)-44),
			Message: fmt.Sprintf("%d class(es) are compiled for Java %d (class file version %d) but the runtime runs Java %d; e.g. %s.", len(names), int(major)-44, major, runtimeJavaRelease, dotted(names[0])),
			Hint:    fmt.Sprintf("Compile with --release %d or lower (Flink 2.x needs Java 11+).", runtimeJavaRelease),
		})
	}
	if scalaFirst != "" {
		sev, msg := flinkplane.SeverityWarning, "The job uses the Scala library"
		bundlesScala := false
		for _, f := range r.Files() {
			if strings.HasPrefix(f.ClassName, "scala/") {
				bundlesScala = true
				break
			}
		}
		switch {
		case bundlesScala:
			msg += " and bundles it; Flink 2.x has no Scala API and no Scala on its classpath."
		case !ix.HasScala:
			msg += " but neither the jar nor " + string(ix.Runtime) + " provides it: scala.* classes will not be found."
			sev = flinkplane.SeverityError
		default:
			msg += "."
		}
		rep.Findings = append(rep.Findings, flinkplane.Finding{
			Severity: sev, Code: CodeScala, Class: dotted(scalaFirst), Symbol: "scala", Message: msg, Hint: ScalaHint,
		})
	}
	sortFindings(rep.Findings)
	summarize(rep.Findings, &rep.Summary)
	rep.Summary.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// effectiveClasses returns the class files the JVM would load: for each
// class name the outer jar's entry before a nested jar's, and in a
// multi-release jar (manifest Multi-Release: true) the highest
// META-INF/versions/N variant with N not above the runtime's Java release.
func effectiveClasses(r *jar.Reader) ([]*jar.File, map[string]int32) {
	idx := make(map[string]int32, len(r.Files()))
	var out []*jar.File
	multiRelease := strings.EqualFold(strings.TrimSpace(r.Manifest["Multi-Release"]), "true")
	for _, f := range r.Files() {
		if f.ClassName == "" || f.Release > runtimeJavaRelease || (f.Release > 0 && !multiRelease) {
			continue
		}
		if strings.HasSuffix(f.ClassName, "module-info") || strings.HasSuffix(f.ClassName, "package-info") {
			continue
		}
		i, ok := idx[f.ClassName]
		if !ok {
			idx[f.ClassName] = int32(len(out))
			out = append(out, f)
			continue
		}
		if b := out[i]; b.Nested == f.Nested && f.Release > b.Release {
			out[i] = f
		}
	}
	return out, idx
}

// rescan reads and checks one class again with its bytecode.
func rescan(r *jar.Reader, f *jar.File, ix *Index, jarNames map[string]int32) (*classResult, error) {
	b, err := r.Read(f)
	if err != nil {
		return nil, err
	}
	var parser classfile.Parser
	c, err := parser.Parse(b)
	if err != nil {
		return nil, err
	}
	res := &classResult{jarNames: jarNames, seenIdx: make([]bool, len(c.Pool))}
	scanClass(c, ix, res, true)
	return res, nil
}

// namesFlinkOrScala reports whether a Utf8 constant names a Flink or Scala
// class: a class name starting with one, or a descriptor mentioning one.
// These are what a class's bytecode can refer to in Flink or Scala through
// its constants (class, member and method-type constants, call sites).
func namesFlinkOrScala(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case '(', 'L', '[':
		return bytes.Contains(b, lFlinkBytes) || bytes.Contains(b, lScalaBytes)
	}
	return bytes.HasPrefix(b, flinkBytes) || bytes.HasPrefix(b, scalaBytes)
}

// scanClass checks one class's references against the target index. With
// code false the class has no Flink or Scala constant (and was parsed
// without bytecode): its member references are taken from the constant
// pool, attributed to the class (see deferredRef.pooled).
func scanClass(c *classfile.Class, ix *Index, res *classResult, code bool) {
	res.name, res.major = c.Name, c.Major
	res.info = lazyClassInfo(c)
	res.methods = res.info.rawMethods
	if ix.Classes[c.Name] != nil {
		return // shadowed by the runtime
	}
	p := c.Pool
	classSite := site{class: c.Name, m: -1}
	// checkClass records a reference to class name (internal form or array
	// descriptor) used at s.
	checkClass := func(s site, name, sev, ctx string) {
		if strings.HasPrefix(name, "[") {
			for _, n := range classfile.DescriptorClasses(name, nil) {
				checkClassName(s, n, sev, ctx, ix, res)
			}
			return
		}
		checkClassName(s, name, sev, ctx, ix, res)
	}
	checkDesc := func(s site, desc, sev, ctx string) {
		if !code {
			return // no Utf8 constant of the class names Flink or Scala
		}
		if !strings.Contains(desc, "org/apache/flink/") && !strings.Contains(desc, "Lscala/") {
			return
		}
		for _, n := range classfile.DescriptorClasses(desc, nil) {
			checkClassName(s, n, sev, ctx, ix, res)
		}
	}
	if c.Super != "" {
		checkClass(classSite, c.Super, flinkplane.SeverityError, "extends")
	}
	for _, i := range c.Interfaces {
		checkClass(classSite, i, flinkplane.SeverityError, "implements")
	}
	for _, a := range c.Annotations {
		checkDesc(classSite, a, flinkplane.SeverityWarning, "annotation")
	}
	for _, f := range c.Fields {
		s := site{class: c.Name, name: f.Name, desc: f.Descriptor, field: true, m: -1}
		checkDesc(s, f.Descriptor, flinkplane.SeverityError, "field type")
		for _, a := range f.Annotations {
			checkDesc(s, a, flinkplane.SeverityWarning, "annotation")
		}
	}
	if !code {
		for i := range p {
			switch e := p[i]; e.Tag {
			case classfile.TagFieldref, classfile.TagMethodref, classfile.TagInterfaceMethodref:
				if inertConstant(c, p, e, res.jarNames) {
					continue
				}
				n := len(res.deferred)
				checkConstant(c, p, uint16(i), classSite, ix, res, checkClass, checkDesc, 0)
				for j := n; j < len(res.deferred); j++ {
					res.deferred[j].pooled = true
				}
			}
		}
	}
	for mi := range c.Methods {
		m := &c.Methods[mi]
		s := site{class: c.Name, name: m.Name, desc: m.Descriptor, m: int32(mi)}
		checkDesc(s, m.Descriptor, flinkplane.SeverityError, "signature")
		for _, a := range m.Annotations {
			checkDesc(s, a, flinkplane.SeverityWarning, "annotation")
		}
		for _, e := range m.Exceptions {
			checkClass(s, e, flinkplane.SeverityWarning, "throws")
		}
		for _, idx := range m.Refs {
			checkConstant(c, p, idx, s, ix, res, checkClass, checkDesc, 0)
		}
	}
}

var (
	jdkOwners   = [][]byte{[]byte("["), []byte("java/"), []byte("javax/"), []byte("jdk/"), []byte("sun/")}
	flinkBytes  = []byte(FlinkPrefix)
	lFlinkBytes = []byte("L" + FlinkPrefix)
	scalaBytes  = []byte("scala/")
	lScalaBytes = []byte("Lscala/")
)

// inertConstant reports, from the undecoded constant-pool text, that
// checkConstant would do nothing for e: a class reference outside Flink
// and Scala (and not an array), or a member of a JDK class (or array), or
// of a class neither in the jar nor in Flink or Scala, whose descriptor
// names no Flink or Scala class. Text that is not plain ASCII, or already
// decoded, is left to the full check.
func inertConstant(c *classfile.Class, p classfile.Pool, e classfile.Constant, jarNames map[string]int32) bool {
	switch e.Tag {
	case classfile.TagClass:
		n, ok := c.RawASCII(e.A)
		return ok && !bytes.HasPrefix(n, flinkBytes) && !bytes.HasPrefix(n, scalaBytes) && !bytes.HasPrefix(n, jdkOwners[0])
	case classfile.TagFieldref, classfile.TagMethodref, classfile.TagInterfaceMethodref:
		if int(e.A) >= len(p) || p[e.A].Tag != classfile.TagClass || int(e.B) >= len(p) || p[e.B].Tag != classfile.TagNameAndType {
			return false
		}
		owner, ok := c.RawASCII(p[e.A].A)
		if !ok {
			return false
		}
		if !slices.ContainsFunc(jdkOwners, func(pre []byte) bool { return bytes.HasPrefix(owner, pre) }) {
			// Not a JDK class: inert as well when it is neither in the
			// jar nor in the Flink or Scala namespace (no Flink supertype
			// can be reached through it).
			if _, inJar := jarNames[string(owner)]; inJar || jarNames == nil ||
				bytes.HasPrefix(owner, flinkBytes) || bytes.HasPrefix(owner, scalaBytes) {
				return false
			}
		}
		desc, ok := c.RawASCII(p[e.B].B)
		return ok && !bytes.Contains(desc, flinkBytes) && !bytes.Contains(desc, lScalaBytes)
	}
	return false
}

// checkConstant checks the constant at idx used by the code at s.
func checkConstant(c *classfile.Class, p classfile.Pool, idx uint16, s site, ix *Index, res *classResult,
	checkClass func(site, string, string, string), checkDesc func(site, string, string, string), depth int) {
	if int(idx) >= len(p) || depth > 4 {
		return
	}
	e := p[idx]
	if inertConstant(c, p, e, res.jarNames) {
		return
	}
	switch e.Tag {
	case classfile.TagClass, classfile.TagFieldref, classfile.TagMethodref, classfile.TagInterfaceMethodref:
		// Class and member references: checked once per class unless the
		// outcome depends on the use (candidates, findings name the site).
		if int(idx) < len(res.seenIdx) && res.seenIdx[idx] {
			return
		}
		nc, nf := len(res.cands), len(res.findings)
		if e.Tag == classfile.TagClass {
			if n, err := c.Utf8(e.A); err == nil {
				checkClass(s, n, flinkplane.SeverityError, "")
			}
		} else {
			owner, name, desc, err := c.MemberRef(idx)
			if err != nil {
				return
			}
			checkMember(s, owner, name, desc, e.Tag == classfile.TagFieldref, e.Tag == classfile.TagInterfaceMethodref, ix, res, checkDesc)
		}
		if int(idx) < len(res.seenIdx) && len(res.cands) == nc && len(res.findings) == nf {
			res.seenIdx[idx] = true
		}
	case classfile.TagMethodType:
		if d, err := c.Utf8(e.A); err == nil {
			checkDesc(s, d, flinkplane.SeverityError, "")
		}
	case classfile.TagMethodHandle:
		checkConstant(c, p, e.B, s, ix, res, checkClass, checkDesc, depth+1)
	case classfile.TagInvokeDynamic, classfile.TagDynamic:
		if _, d, err := p.NameAndType(e.B); err == nil {
			checkDesc(s, d, flinkplane.SeverityError, "")
		}
		if int(e.A) < len(c.Bootstrap) {
			bm := c.Bootstrap[e.A]
			checkConstant(c, p, bm.Ref, s, ix, res, checkClass, checkDesc, depth+1)
			for _, a := range bm.Args {
				checkConstant(c, p, a, s, ix, res, checkClass, checkDesc, depth+1)
			}
		}
	}
}

func checkClassName(s site, name, sev, ctx string, ix *Index, res *classResult) {
	if strings.HasPrefix(name, "scala/") {
		if res.scala == "" {
			res.scala = name
		}
		return
	}
	if !isFlink(name) || ix.Classes[name] != nil || res.bundledFromFlink(name) {
		return
	}
	if i, ok := res.jarNames[name]; ok {
		res.edges = append(res.edges, i) // loads from the jar (a descriptor may be its only mention)
	}
	res.cands = append(res.cands, candidate{site: s, class: name, severity: sev, context: ctx})
}

// bundledFromFlink reports a reference from a class of the Flink namespace
// (a relocated library, a bundled connector) to a class the jar bundles,
// and records it as an edge instead of a candidate: the class loads from the
// jar and its own references are checked; only user classes' uses of
// bundled Flink classes matter later (INCOMPATIBLE_BUNDLED_CLASS). Relocated
// libraries refer to each other a lot, so this keeps the scan's memory down.
func (res *classResult) bundledFromFlink(name string) bool {
	if i, ok := res.jarNames[name]; ok && isFlink(res.name) {
		res.edges = append(res.edges, i)
		return true
	}
	return false
}

// checkMember checks a field or method reference.
func checkMember(s site, owner, name, desc string, field, iface bool, ix *Index, res *classResult,
	checkDesc func(site, string, string, string)) {
	if strings.HasPrefix(owner, "[") || strings.HasPrefix(owner, "java/") || strings.HasPrefix(owner, "javax/") ||
		strings.HasPrefix(owner, "jdk/") || strings.HasPrefix(owner, "sun/") {
		checkDesc(s, desc, flinkplane.SeverityError, "")
		return
	}
	if strings.HasPrefix(owner, "scala/") {
		if res.scala == "" {
			res.scala = owner
		}
		return
	}
	checkDesc(s, desc, flinkplane.SeverityError, "")
	if !isFlink(owner) || ix.Classes[owner] == nil { // the index holds org/apache/flink/ only
		if isFlink(owner) && !res.bundledFromFlink(owner) {
			// A Flink class the runtime lacks: a finding unless bundled,
			// then resolved against the bundled copy.
			res.cands = append(res.cands, candidate{site: s, class: owner, severity: flinkplane.SeverityError})
		}
		if name == "<init>" && !isFlink(owner) {
			return // constructors are not inherited: no Flink class involved
		}
		if _, ok := res.jarNames[owner]; !isFlink(owner) && res.jarNames != nil && !ok {
			return // neither in the jar nor in Flink: no Flink supertype can be found
		}
		if owner == res.name {
			ms := res.info.rawMethods
			if field {
				ms = res.info.rawFields
			}
			for _, m := range ms {
				if m.Name == name && m.Descriptor == desc {
					return
				}
			}
		}
		oi := int32(-1)
		if i, ok := res.jarNames[owner]; ok {
			oi = i
		}
		res.deferred = append(res.deferred, deferredRef{method: s.m, owner: owner, ownerIdx: oi, name: name, desc: desc, field: field, iface: iface})
		return
	}
	w := world{ix: ix}
	var r resolution
	if field {
		r, _ = w.resolveField(owner, name+":"+desc)
	} else {
		r, _ = w.resolveMethod(owner, name+desc, iface)
	}
	if r == unresolved {
		res.findings = append(res.findings, memberFinding(s, owner, name, desc, field, ix.Runtime))
	}
}

func memberFinding(s site, owner, name, desc string, field bool, target flinkplane.RuntimeID) flinkplane.Finding {
	f := flinkplane.Finding{Severity: flinkplane.SeverityError, Class: dotted(s.class), Method: prettyMethod(s.method())}
	if field {
		f.Code = CodeUnresolvedField
		f.Symbol = dotted(owner) + "#" + name
		f.Message = fmt.Sprintf("Field %s (%s) does not exist in %s.", f.Symbol, typeName(desc), target)
	} else {
		f.Code = CodeUnresolvedMethod
		f.Symbol = dotted(owner) + "#" + prettyMethodFull(name, desc)
		f.Message = fmt.Sprintf("Method %s with descriptor %s does not exist in %s.", f.Symbol, desc, target)
	}
	f.Hint = hintFor(owner, name, desc)
	return f
}

// corePrefixes are Flink packages that belong to the runtime (provided by
// the cluster): bundling them in a job jar is an error when the target lacks
// the class.
var corePrefixes = []string{
	"org/apache/flink/api/", "org/apache/flink/streaming/api/", "org/apache/flink/streaming/runtime/",
	"org/apache/flink/runtime/", "org/apache/flink/configuration/", "org/apache/flink/core/",
	"org/apache/flink/util/", "org/apache/flink/types/", "org/apache/flink/client/",
	"org/apache/flink/metrics/", "org/apache/flink/shaded/", "org/apache/flink/table/api/",
	"org/apache/flink/state/", "org/apache/flink/contrib/streaming/state/", "org/apache/flink/annotation/",
}

func isCore(name string) bool {
	for _, p := range corePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// bundledClass is a class of the Flink namespace found in the user jar.
type bundledClass struct {
	name     string
	shadowed bool // the runtime has a class of that name (and wins)
	differs  bool // shadowed, and the runtime's class has another shape
	live     bool // not shadowed and loaded from the jar
}

// sameShape reports whether a bundled class declares the same supertypes and
// non-synthetic members as the runtime's class of the same name.
func sameShape(a, b *ClassInfo) bool {
	a.build()
	b.build()
	if a.Super != b.Super || len(a.Interfaces) != len(b.Interfaces) {
		return false
	}
	for i := range a.Interfaces {
		if a.Interfaces[i] != b.Interfaces[i] {
			return false
		}
	}
	count := func(m map[string]uint16) int {
		n := 0
		for k, acc := range m {
			if acc&classfile.AccSynthetic == 0 && !strings.HasPrefix(k, "lambda$") {
				n++
			}
		}
		return n
	}
	for _, pair := range [][2]map[string]uint16{{a.Methods, b.Methods}, {a.Fields, b.Fields}} {
		x, y := pair[0], pair[1]
		if count(x) != count(y) {
			return false
		}
		for k, acc := range x {
			if acc&classfile.AccSynthetic != 0 || strings.HasPrefix(k, "lambda$") {
				continue
			}
			if _, ok := y[k]; !ok {
				return false
			}
		}
	}
	return true
}

// moduleOf groups Flink class names for reporting: the first five name
// segments (org/apache/flink/connector/file).
func moduleOf(name string) string {
	parts := strings.SplitN(name, "/", 6)
	if len(parts) > 5 {
		parts = parts[:5]
	} else if len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "/")
}

// bundledFindings reports the Flink classes bundled in the jar, at most one
// finding per severity:
//   - ERROR: classes of Flink runtime (core) packages that the target lacks
//     and that would be loaded from the jar, next to the runtime's own
//     classes;
//   - WARNING: bundled classes built for another Flink line (their shape
//     differs from the runtime's copy, or the runtime lacks them in a core
//     package) that the runtime shadows: harmless on flinkplane's runtime
//     (org.apache.flink loads parent-first), fatal on a runtime without
//     that module;
//   - INFO: connector or library classes the runtime does not have; they
//     are checked like user code.
//
// Classes identical in shape to the runtime's copy produce no finding.
func bundledFindings(bundled []bundledClass, ix *Index) []flinkplane.Finding {
	type stat struct{ n int }
	groups := map[string]map[string]*stat{} // severity -> module -> stat
	examples := map[string]string{}
	for _, b := range bundled {
		var sev string
		switch {
		case !b.shadowed && b.live && isCore(b.name):
			sev = flinkplane.SeverityError
		case b.differs || (!b.shadowed && isCore(b.name)):
			sev = flinkplane.SeverityWarning
		case !b.shadowed && b.live:
			sev = flinkplane.SeverityInfo
		default:
			continue
		}
		m := moduleOf(b.name)
		if groups[sev] == nil {
			groups[sev] = map[string]*stat{}
		}
		st := groups[sev][m]
		if st == nil {
			st = &stat{}
			groups[sev][m] = st
		}
		st.n++
		if e, ok := examples[sev]; !ok || b.name < e {
			examples[sev] = b.name
		}
	}
	totals := map[string]int{}
	for _, b := range bundled {
		totals[moduleOf(b.name)]++
	}
	var out []flinkplane.Finding
	for _, sev := range []string{flinkplane.SeverityError, flinkplane.SeverityWarning, flinkplane.SeverityInfo} {
		g := groups[sev]
		if len(g) == 0 {
			continue
		}
		var mods []string
		for m := range g {
			mods = append(mods, m)
		}
		sort.Strings(mods)
		var parts []string
		for _, m := range mods {
			parts = append(parts, fmt.Sprintf("%s (%d of %d classes)", dotted(m), g[m].n, totals[m]))
		}
		f := flinkplane.Finding{Severity: sev, Code: CodeBundledFlink, Class: dotted(examples[sev]), Symbol: dotted(strings.Join(mods, ","))}
		list := strings.Join(parts, ", ")
		switch sev {
		case flinkplane.SeverityError:
			f.Message = fmt.Sprintf("The jar bundles Flink runtime classes that %s does not have; they would be loaded from the jar next to the runtime's own classes: %s.", ix.Runtime, list)
			f.Hint = "Declare Flink core dependencies with <scope>provided</scope> and remove them from the shaded jar."
		case flinkplane.SeverityWarning:
			f.Message = fmt.Sprintf("The jar bundles Flink classes built for another Flink line than %s: %s. The runtime's own copies shadow them (Flink loads org.apache.flink parent-first); on a runtime without these modules the bundled copies would load and fail.", ix.Runtime, list)
			f.Hint = "Build the jar against the target Flink version, or declare Flink modules the runtime provides with <scope>provided</scope>."
		default:
			f.Message = fmt.Sprintf("The jar bundles Flink connector or library classes that the runtime does not have; they are checked as user code: %s.", list)
		}
		out = append(out, f)
	}
	return out
}

// flinkLine matches a Flink line suffix of a connector version: 3.4.0-1.20.
var flinkLine = regexp.MustCompile(`-(\d+)\.(\d+)$`)

// pomFindings reports Flink artifacts in the jar built for another Flink line.
func pomFindings(poms []jar.Pom, ix *Index) []flinkplane.Finding {
	tmaj, tmin, _ := ix.Runtime.Version()
	var out []flinkplane.Finding
	for _, p := range poms {
		if p.GroupID != "org.apache.flink" {
			continue
		}
		coord := p.GroupID + ":" + p.ArtifactID + ":" + p.Version
		var maj, min int
		connector := strings.Contains(p.ArtifactID, "connector")
		if m := flinkLine.FindStringSubmatch(p.Version); m != nil && connector {
			fmt.Sscanf(m[1]+" "+m[2], "%d %d", &maj, &min)
		} else if _, err := fmt.Sscanf(p.Version, "%d.%d", &maj, &min); err != nil || connector {
			continue // connector without a Flink line suffix (or unparsable): nothing to compare
		}
		if maj == tmaj && min == tmin {
			continue
		}
		f := flinkplane.Finding{Code: CodeConnectorVersion, Symbol: coord}
		where := ""
		if p.Nested != "" {
			where = " (in " + p.Nested + ")"
		}
		if maj != tmaj {
			f.Severity = flinkplane.SeverityError
		} else {
			f.Severity = flinkplane.SeverityWarning
		}
		f.Message = fmt.Sprintf("The jar bundles %s%s, built for Flink %d.%d; the target is Flink %d.%d.", coord, where, maj, min, tmaj, tmin)
		if connector {
			f.Hint = fmt.Sprintf("Use a release of %s built for Flink %d.%d.", p.ArtifactID, tmaj, tmin)
		} else {
			f.Hint = "Flink modules must not be bundled: declare them with <scope>provided</scope>."
		}
		out = append(out, f)
	}
	return out
}

func kindOf(internal string) string {
	if strings.Contains(internal, "$") {
		return "Nested class"
	}
	return "Class"
}

func contextText(ctx string) string {
	switch ctx {
	case "":
		return ""
	case "extends":
		return " (the class extends it)"
	case "implements":
		return " (the class implements it)"
	default:
		return " (used as " + ctx + ")"
	}
}

// severityRank orders severities: errors first.
func severityRank(s string) int {
	switch s {
	case flinkplane.SeverityError:
		return 0
	case flinkplane.SeverityWarning:
		return 1
	case flinkplane.SeverityInfo:
		return 2
	}
	return 3
}

func sortFindings(fs []flinkplane.Finding) {
	slices.SortStableFunc(fs, func(a, b flinkplane.Finding) int {
		if c := cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Class, b.Class); c != 0 {
			return c
		}
		if c := strings.Compare(a.Method, b.Method); c != 0 {
			return c
		}
		if c := strings.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		return strings.Compare(a.Symbol, b.Symbol)
	})
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// entryPoints returns the classes the JVM and Flink load from the jar by
// name: the manifest's program-class or Main-Class and the service
// providers of META-INF/services whose service interface exists (a
// ServiceLoader for an interface that is not on the classpath never runs).
// Empty when the jar names no main class.
func entryPoints(r *jar.Reader, exists func(string) bool) []string {
	var out []string
	for _, k := range []string{"program-class", "Program-Class", "Main-Class"} {
		if v := strings.TrimSpace(r.Manifest[k]); v != "" {
			out = append(out, strings.ReplaceAll(v, ".", "/"))
		}
	}
	if len(out) == 0 {
		return nil
	}
	for svc, ps := range r.Services {
		if !exists(strings.ReplaceAll(svc, ".", "/")) {
			continue
		}
		for _, p := range ps {
			out = append(out, strings.ReplaceAll(p, ".", "/"))
		}
	}
	return out
}

// collectEdges records which jar classes c may load.
func collectEdges(c *classfile.Class, jarNames map[string]int32, res *classResult) {
	if res.name == "" {
		return
	}
	add := func(n string) {
		if i, ok := jarNames[n]; ok && n != c.Name {
			res.edges = append(res.edges, i)
		}
	}
	add(c.Super)
	for _, i := range c.Interfaces {
		add(i)
	}
	addDesc := func(d string) {
		for _, n := range classfile.DescriptorClasses(d, nil) {
			add(n)
		}
	}
	for _, a := range c.Annotations {
		addDesc(a)
	}
	for _, m := range c.Methods {
		for _, a := range m.Annotations {
			addDesc(a)
		}
	}
	for _, f := range c.Fields {
		for _, a := range f.Annotations {
			addDesc(a)
		}
	}
	// Names not decoded yet are looked up from their bytes (a map lookup
	// with string(b) does not allocate).
	addRaw := func(b []byte) {
		if i, ok := jarNames[string(b)]; ok && string(b) != c.Name {
			res.edges = append(res.edges, i)
		}
	}
	var dotted []byte
	for i := range c.Pool {
		e := c.Pool[i]
		switch e.Tag {
		case classfile.TagClass:
			if b, ok := c.RawASCII(e.A); ok && len(b) > 0 && b[0] != '[' {
				addRaw(b)
				continue
			}
			n, err := c.Utf8(e.A)
			if err != nil {
				continue
			}
			if strings.HasPrefix(n, "[") {
				addDesc(n)
			} else {
				add(n)
			}
		case classfile.TagString:
			// Class.forName("a.b.C") and class names in configuration.
			if b, ok := c.RawASCII(e.A); ok {
				if len(b) < 3 || len(b) > 300 || bytes.IndexByte(b, '.') < 0 || bytes.ContainsAny(b, " /;") {
					continue // the same test on the text, without decoding it
				}
				dotted = append(dotted[:0], b...)
				for j, x := range dotted {
					if x == '.' {
						dotted[j] = '/'
					}
				}
				addRaw(dotted)
				continue
			}
			n, err := c.Utf8(e.A)
			if err != nil || len(n) < 3 || len(n) > 300 || !strings.Contains(n, ".") || strings.ContainsAny(n, " /;") {
				continue
			}
			add(strings.ReplaceAll(n, ".", "/"))
		}
	}
	slices.Sort(res.edges)
	res.edges = slices.Compact(res.edges)
}

// overrideFindings reports methods of user class name that look like
// overrides of a Flink callback the target does not have any more.
func overrideFindings(w *world, name string, ci *ClassInfo, target flinkplane.RuntimeID) []flinkplane.Finding {
	if ci.Methods == nil && !slices.ContainsFunc(ci.rawMethods, func(m rawMember) bool {
		return m.Access&(classfile.AccStatic|classfile.AccPrivate|classfile.AccSynthetic) == 0 &&
			!strings.HasPrefix(m.Name, "<") &&
			(strings.Contains(m.Descriptor, "L"+FlinkPrefix) || strings.Contains(m.Name, "L"+FlinkPrefix))
	}) {
		return nil // no candidate (the loop below), without building the maps
	}
	ci.build()
	var cands []string
	for key, acc := range ci.Methods {
		if acc&(classfile.AccStatic|classfile.AccPrivate|classfile.AccSynthetic) != 0 ||
			strings.HasPrefix(key, "<") || !strings.Contains(key, "L"+FlinkPrefix) {
			continue
		}
		cands = append(cands, key)
	}
	if len(cands) == 0 {
		return nil
	}
	// The Flink supertypes of the class in the target runtime.
	var flinkSupers []*ClassInfo
	var supNames []string
	seen := map[string]bool{name: true}
	queue := append([]string{ci.Super}, ci.Interfaces...)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		c, origin := w.lookup(n)
		if c == nil {
			continue
		}
		if origin == originTarget {
			flinkSupers = append(flinkSupers, c)
			supNames = append(supNames, n)
		}
		queue = append(queue, c.Super)
		queue = append(queue, c.Interfaces...)
	}
	if len(flinkSupers) == 0 {
		return nil
	}
	// Names for which the class does override a Flink method (generic
	// methods override through their synthetic bridge).
	overrides := map[string]bool{}
	for key := range ci.Methods {
		if strings.HasPrefix(key, "<") {
			continue
		}
		for _, s := range flinkSupers {
			if s.HasMethod(key) {
				overrides[key[:strings.IndexByte(key, '(')]] = true
				break
			}
		}
	}
	sort.Strings(cands)
	var out []flinkplane.Finding
	for _, key := range cands {
		mname := key[:strings.IndexByte(key, '(')]
		if overrides[mname] {
			continue
		}
		declared, sameName := false, ""
		for i, s := range flinkSupers {
			if s.HasMethod(key) {
				declared = true
				break
			}
			if sameName == "" {
				for k := range s.Methods {
					if strings.HasPrefix(k, mname+"(") {
						sameName = supNames[i]
						break
					}
				}
			}
		}
		if declared || sameName == "" {
			continue
		}
		desc := key[len(mname):]
		out = append(out, flinkplane.Finding{
			Severity: flinkplane.SeverityError, Code: CodeOverride,
			Class: dotted(name), Method: prettyMethod(key),
			Symbol:  dotted(sameName) + "#" + prettyMethodFull(mname, desc),
			Message: fmt.Sprintf("%s overrides %s%s, which %s no longer declares: %s never calls it.", dotted(name), mname, params(desc, false), dotted(sameName), target),
			Hint:    hintFor(sameName, mname, desc),
		})
	}
	return out
}

// relocationRoot returns the relocation prefix of a relocated (shaded)
// library class in the Flink namespace, up to and including "/shaded/"
// (org/apache/flink/calcite/shaded/), or "".
func relocationRoot(name string) string {
	if !isFlink(name) {
		return ""
	}
	if i := strings.Index(name, "/shaded/"); i >= 0 {
		return name[:i+len("/shaded/")]
	}
	return ""
}
