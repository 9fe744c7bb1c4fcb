package compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// Finding codes of the savepoint check.
const (
	CodeMetadataVersion = "METADATA_VERSION"
	CodeKryoState       = "KRYO_STATE"
	CodePojoCollection  = "POJO_COLLECTION_KRYO"
	CodeStateUnreadable = "STATE_UNREADABLE"
)

// Limits of the savepoint reader.
const (
	maxMetadataSize = 256 << 20 // bytes of _metadata
	maxHeaderSize   = 16 << 20  // bytes read from the start of a state file
	maxSubtasks     = 1024      // subtasks whose state files are read per operator
)

// SavepointReport is the result of a savepoint check.
type SavepointReport struct {
	Path            string               `json:"path"`
	Target          flinkplane.RuntimeID `json:"target"`
	MetadataVersion int                  `json:"metadataVersion"`
	CheckpointID    int64                `json:"checkpointId"`
	// TakenOn is the Flink major line that wrote the savepoint ("1.x" for
	// metadata versions 3 and 4, "2.x" for 5 and 6).
	TakenOn   string               `json:"takenOn"`
	Operators []OperatorReport     `json:"operators"`
	Findings  []flinkplane.Finding `json:"findings"`
	Summary   Summary              `json:"summary"`
}

// OperatorReport lists one operator's states.
type OperatorReport struct {
	ID             string        `json:"id"`
	UID            string        `json:"uid,omitempty"`
	Name           string        `json:"name,omitempty"`
	Parallelism    int32         `json:"parallelism"`
	MaxParallelism int32         `json:"maxParallelism"`
	States         []StateReport `json:"states,omitempty"`
}

// StateReport is one state of an operator.
type StateReport struct {
	Name string `json:"name"`
	// Kind is "keyed VALUE", "keyed LIST", "timers", "operator UNION", ...
	Kind string `json:"kind"`
	// Serializers lists role=snapshot class (type class) entries.
	Serializers []string `json:"serializers,omitempty"`
}

// CheckSavepoint checks the savepoint at path (its directory or its
// _metadata file, a local path or a file: URI as Flink reports savepoint
// locations) against target. Returns ENOTFOUND if path does not exist and
// EINVALID if it is not a savepoint.
func CheckSavepoint(ctx context.Context, path string, target flinkplane.RuntimeID) (*SavepointReport, error) {
	return CheckSavepointFor(ctx, path, target, nil, nil)
}

// savepointFiles resolves a savepoint location (its directory or its
// _metadata file, a local path or a file: URI) to the directory and the
// _metadata file. Returns ENOTFOUND if it does not exist.
func savepointFiles(path string) (dir, meta string, err error) {
	if rest, ok := strings.CutPrefix(path, "file://"); ok {
		path = rest
	} else if rest, ok := strings.CutPrefix(path, "file:"); ok {
		path = rest
	}
	dir, meta = path, filepath.Join(path, "_metadata")
	if st, err := os.Stat(path); err != nil {
		return "", "", flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint %s not found.", path)
	} else if !st.IsDir() {
		dir, meta = filepath.Dir(path), path
	}
	return dir, meta, nil
}

// readSavepointMetadata reads and parses a savepoint's _metadata. Returns
// ENOTFOUND if it does not exist and EINVALID if it is not a savepoint this
// reader understands.
func readSavepointMetadata(path string) (string, *savepoint.Metadata, error) {
	dir, meta, err := savepointFiles(path)
	if err != nil {
		return "", nil, err
	}
	b, err := readLimited(meta, 0, maxMetadataSize)
	if err != nil {
		return "", nil, flinkplane.Errorf(flinkplane.EINVALID, "Cannot read %s: %v.", meta, err)
	}
	md, err := savepoint.ParseMetadata(b)
	if err != nil {
		return "", nil, flinkplane.Errorf(flinkplane.EINVALID, "%s is not a readable savepoint: %v.", meta, err)
	}
	return dir, md, nil
}

// CheckSavepointFor is CheckSavepoint for the job of graph (the new job
// graph, from a dry compile; nil: unknown): findings name operators by the
// uid graph or previous (the graph of the job that wrote the savepoint)
// gives them, and state no operator of graph takes (it is not restored) is
// not checked for serializer compatibility (see CheckStateMapping for it).
func CheckSavepointFor(ctx context.Context, path string, target flinkplane.RuntimeID, graph, previous *flinkplane.JobGraphInfo) (*SavepointReport, error) {
	start := time.Now()
	dir, meta, err := savepointFiles(path)
	if err != nil {
		return nil, err
	}
	b, err := readLimited(meta, 0, maxMetadataSize)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "Cannot read %s: %v.", meta, err)
	}
	rep := &SavepointReport{Path: dir, Target: target, Findings: []flinkplane.Finding{}}
	md, err := savepoint.ParseMetadata(b)
	if md != nil {
		rep.MetadataVersion = md.Version
	}
	tmaj, _, _ := target.Version()
	if errors.Is(err, savepoint.ErrUnsupportedVersion) {
		rep.Findings = append(rep.Findings, flinkplane.Finding{
			Severity: flinkplane.SeverityError, Code: CodeMetadataVersion, Symbol: fmt.Sprintf("version %d", md.Version),
			Message: fmt.Sprintf("The savepoint's _metadata version %d is not one this checker or %s understands.", md.Version, target),
		})
		summarize(rep.Findings, &rep.Summary)
		return rep, nil
	} else if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "%s is not a readable savepoint: %v.", meta, err)
	}
	rep.CheckpointID = md.CheckpointID
	takenMajor := 1
	if md.Version >= 5 {
		takenMajor = 2
	}
	rep.TakenOn = fmt.Sprintf("%d.x", takenMajor)
	if tmaj == 1 && md.Version > 4 {
		rep.Findings = append(rep.Findings, flinkplane.Finding{
			Severity: flinkplane.SeverityError, Code: CodeMetadataVersion, Symbol: fmt.Sprintf("version %d", md.Version),
			Message: fmt.Sprintf("The savepoint was taken by Flink 2.x (_metadata version %d); %s reads versions up to 4 (\"Unrecognized checkpoint version number: %d\").", md.Version, target, md.Version),
			Hint:    "A Flink 2.x savepoint cannot be restored on Flink 1.x: restore the last snapshot taken on 1.x instead.",
		})
	}
	crossMajor := takenMajor == 1 && tmaj >= 2
	rep.Findings = append(rep.Findings, formatFindings(md, takenMajor, tmaj)...)
	for _, op := range md.Operators {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		or := OperatorReport{ID: op.ID, UID: op.UID, Name: op.Name, Parallelism: op.Parallelism, MaxParallelism: op.MaxParallelism}
		if o, _, ok := graph.Operator(op.ID); ok {
			or.UID, or.Name = firstNonEmpty(or.UID, o.UID), firstNonEmpty(or.Name, o.Name)
		} else if o, _, ok := previous.Operator(op.ID); ok {
			or.UID, or.Name = firstNonEmpty(or.UID, o.UID), firstNonEmpty(or.Name, o.Name)
		}
		where := "operator " + operatorLabel(op, graph, previous)
		// State the new job does not take is not restored: its serializers
		// do not matter.
		crossMajor := crossMajor
		if _, _, ok := graph.Operator(op.ID); graph != nil && !ok {
			crossMajor = false
		}
		states := map[string]*StateReport{}
		var order []string
		addState := func(name, kind string) *StateReport {
			if s := states[name]; s != nil {
				return s
			}
			s := &StateReport{Name: name, Kind: kind}
			states[name] = s
			order = append(order, name)
			return s
		}
		flagged := map[string]bool{}
		flag := func(f flinkplane.Finding) {
			k := f.Code + f.Method + f.Symbol
			if !flagged[k] {
				flagged[k] = true
				rep.Findings = append(rep.Findings, f)
			}
		}
		for i, st := range op.Subtasks {
			if i >= maxSubtasks {
				break
			}
			for _, kh := range []*savepoint.KeyedStateHandle{st.ManagedKeyed} {
				for _, h := range flattenKeyed(kh) {
					p, err := readKeyedProxy(dir, h)
					if err != nil {
						flag(flinkplane.Finding{Severity: flinkplane.SeverityWarning, Code: CodeStateUnreadable, Class: where,
							Symbol: "keyed state", Message: fmt.Sprintf("Cannot read the keyed state meta information of %s: %v; its serializers were not checked.", where, err)})
						continue
					}
					for _, sm := range p.States {
						kind := "keyed " + sm.Options["KEYED_STATE_TYPE"]
						if sm.Type == "PRIORITY_QUEUE" {
							kind = "timers"
						}
						s := addState(sm.Name, strings.TrimSpace(kind))
						if len(s.Serializers) == 0 {
							s.Serializers = describeSerializers(sm.Serializers)
						}
						if crossMajor {
							for _, f := range stateFindings(where, sm.Name, sm.Serializers) {
								flag(f)
							}
						}
					}
					if p.KeySerializer != nil && crossMajor {
						for _, f := range stateFindings(where, "(key)", map[string]*savepoint.Snapshot{"KEY_SERIALIZER": p.KeySerializer}) {
							flag(f)
						}
					}
					if p.Scanned {
						s := addState("(undecoded)", "keyed")
						s.Serializers = p.ScannedClasses
						if crossMajor {
							for _, f := range scannedFindings(where, p.ScannedClasses) {
								flag(f)
							}
						}
					}
				}
			}
			for _, oh := range []*savepoint.OperatorStateHandle{st.ManagedOp} {
				if oh == nil {
					continue
				}
				for _, sm := range oh.States {
					addState(sm.Name, "operator "+sm.Mode)
				}
				p, err := readOperatorProxy(dir, oh)
				if err != nil {
					flag(flinkplane.Finding{Severity: flinkplane.SeverityWarning, Code: CodeStateUnreadable, Class: where,
						Symbol: "operator state", Message: fmt.Sprintf("Cannot read the operator state meta information of %s: %v; its serializers were not checked.", where, err)})
					continue
				}
				for _, sm := range p.States {
					s := addState(sm.Name, "operator")
					if len(s.Serializers) == 0 {
						s.Serializers = describeSerializers(sm.Serializers)
					}
					if crossMajor {
						for _, f := range stateFindings(where, sm.Name, sm.Serializers) {
							flag(f)
						}
					}
				}
				if p.Scanned && crossMajor {
					for _, f := range scannedFindings(where, p.ScannedClasses) {
						flag(f)
					}
				}
			}
		}
		for _, n := range order {
			or.States = append(or.States, *states[n])
		}
		rep.Summary.States += len(order)
		rep.Operators = append(rep.Operators, or)
	}
	rep.Summary.Operators = len(rep.Operators)
	sortFindings(rep.Findings)
	summarize(rep.Findings, &rep.Summary)
	rep.Summary.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// flattenKeyed returns the handles whose streams carry a serialization proxy.
func flattenKeyed(h *savepoint.KeyedStateHandle) []*savepoint.KeyedStateHandle {
	if h == nil {
		return nil
	}
	if len(h.Nested) > 0 {
		var out []*savepoint.KeyedStateHandle
		for _, n := range h.Nested {
			out = append(out, flattenKeyed(n)...)
		}
		return out
	}
	if h.Stream == nil && h.MetaData == nil {
		return nil
	}
	return []*savepoint.KeyedStateHandle{h}
}

func readKeyedProxy(dir string, h *savepoint.KeyedStateHandle) (*savepoint.Proxy, error) {
	stream, limit := h.Stream, int64(maxHeaderSize)
	if h.MetaData != nil {
		stream = h.MetaData
	} else if len(h.Offsets) > 0 {
		first := h.Offsets[0]
		for _, o := range h.Offsets {
			if o < first {
				first = o
			}
		}
		if first > 0 && first < limit {
			limit = first
		}
	}
	b, err := handleBytes(dir, stream, limit)
	if err != nil {
		return nil, err
	}
	return savepoint.ParseKeyedProxy(b)
}

func readOperatorProxy(dir string, h *savepoint.OperatorStateHandle) (*savepoint.Proxy, error) {
	limit := int64(maxHeaderSize)
	for _, s := range h.States {
		for _, o := range s.Offsets {
			if o > 0 && o < limit {
				limit = o
			}
		}
	}
	b, err := handleBytes(dir, h.Stream, limit)
	if err != nil {
		return nil, err
	}
	return savepoint.ParseOperatorProxy(b)
}

// handleBytes returns up to limit bytes of a stream handle's content: inline
// bytes, a file relative to the savepoint directory, or an absolute file
// (looked up in the savepoint directory by name when the savepoint was
// moved).
func handleBytes(dir string, h *savepoint.StreamHandle, limit int64) ([]byte, error) {
	if h == nil {
		return nil, errors.New("no state handle")
	}
	if h.Data != nil {
		b := h.Data
		if int64(len(b)) > limit {
			b = b[:limit]
		}
		return b, nil
	}
	var p string
	switch {
	case h.Relative != "":
		p = filepath.Join(dir, filepath.FromSlash(h.Relative))
	case h.LocalPath() != "":
		p = h.LocalPath()
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join(dir, filepath.Base(p))
		}
	default:
		return nil, fmt.Errorf("state at %q is not on a local file system", h.Path)
	}
	return readLimited(p, h.Offset, limit)
}

func readLimited(p string, off, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, err
	}
	return b, nil
}

func shortClass(c string) string {
	if i := strings.LastIndexByte(c, '.'); i >= 0 {
		return c[i+1:]
	}
	return c
}

func describeSerializers(m map[string]*savepoint.Snapshot) []string {
	var out []string
	for role, s := range m {
		if s == nil {
			continue
		}
		d := strings.TrimSuffix(role, "_SERIALIZER") + "=" + describeSnapshot(s, 0)
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func describeSnapshot(s *savepoint.Snapshot, depth int) string {
	if s == nil {
		return "?"
	}
	d := shortClass(s.Class)
	if s.TypeClass != "" {
		d += "(" + s.TypeClass + ")"
	}
	if depth < 3 {
		var parts []string
		for _, f := range s.Fields {
			parts = append(parts, f.Name+": "+describeSnapshot(f.Snapshot, depth+1))
		}
		for _, n := range s.Nested {
			parts = append(parts, describeSnapshot(n, depth+1))
		}
		if len(parts) > 0 {
			d += "{" + strings.Join(parts, ", ") + "}"
		}
	}
	return d
}

// collectionTypes are the declared types Flink 2.x's TypeExtractor gives its
// own List/Map/Set type information (with concrete type arguments, e.g. a
// POJO field List<Long>) where Flink 1.x used Kryo: 2.x's serializer for
// them cannot read what Kryo wrote. Implementations (ArrayList, HashMap, ...)
// stay Kryo-serialized in 2.x.
var collectionTypes = map[string]string{
	"java.util.List":       "List",
	"java.util.Collection": "List",
	"java.lang.Iterable":   "List",
	"java.util.Map":        "Map",
	"java.util.Set":        "Set",
}

// pojoCollectionFailure is how Flink 2.2 fails to restore a 1.x POJO whose
// collection field Kryo wrote: testdata/apps/pojo-list and pojo-map restart
// with the StateMigrationException of the serializer check (hashmap state
// backend); the POJO serializer reading the Kryo-written field has also been
// seen to fail with an IllegalArgumentException.
const pojoCollectionFailure = "the job restarts in a loop, with a StateMigrationException when Flink compares the old and new POJO serializers, or an IllegalArgumentException when the POJO serializer reads the field"

// kryoSerializers lists the Kryo serializers a snapshot registers besides
// Flink's own placeholder for Avro.
func kryoSerializers(k *savepoint.KryoConfig) []string {
	if k == nil {
		return nil
	}
	var out []string
	for _, r := range k.Registrations {
		if r.Serializer != "" && r.Serializer != savepoint.DummyAvroSerializer {
			out = append(out, r.Serializer+" for "+r.Class)
		}
	}
	for _, c := range k.DefaultSerializers {
		out = append(out, "a default serializer for "+c)
	}
	for _, c := range k.DefaultSerializerClasses {
		out = append(out, "a default serializer class for "+c)
	}
	return out
}

// stateFindings grades Kryo-serialized state in a 1.x savepoint restored on
// 2.x the way Flink 2.2 behaves (KryoSerializerSnapshot and
// PojoSerializerSnapshot.resolveSchemaCompatibility, Kryo 2.24 data read by
// Kryo 5):
//   - a POJO field of a List/Map/Set type that Kryo wrote: ERROR, the
//     restore of that operator's state fails (2.x serializes such fields
//     with its own serializers; the POJO serializer snapshots are
//     incompatible);
//   - any other Kryo state: WARNING. 2.x resolves the Kryo snapshot as
//     compatible when its registrations still resolve, and Kryo 5 reads what
//     Kryo 2.24 wrote for plain classes (testdata/apps/kryo-generic restores
//     with its values on 2.2); custom Kryo serializers must be ported.
func stateFindings(where, state string, sers map[string]*savepoint.Snapshot) []flinkplane.Finding {
	var out []flinkplane.Finding
	roles := make([]string, 0, len(sers))
	for r := range sers {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, role := range roles {
		walkPojo(sers[role], nil, "", 0, func(path []string, pojo string, s *savepoint.Snapshot) {
			if s.Class != savepoint.KryoSnapshot {
				return
			}
			kind := strings.ToLower(strings.TrimSuffix(role, "_SERIALIZER"))
			coll := collectionTypes[s.TypeClass]
			if len(path) > 0 && coll != "" {
				field := strings.Join(path, ".")
				out = append(out, flinkplane.Finding{
					Severity: flinkplane.SeverityError, Code: CodePojoCollection, Class: where, Method: state,
					Symbol: field + ": " + s.TypeClass,
					Message: fmt.Sprintf("Restoring the state of %s fails on Flink 2.x: state %q holds POJO %s whose field %q (%s) Flink 1.x serialized with Kryo; Flink 2.x serializes %s fields with its own serializer and cannot read it (on Flink 2.2 %s).",
						where, state, pojo, field, s.TypeClass, coll, pojoCollectionFailure),
					Hint: "Migrate the state with the State Processor API (read on 1.x, write for 2.x), or keep the field Kryo-serialized in the 2.x job (declare it with a concrete type such as ArrayList/HashMap, which 2.x still gives to Kryo).",
				})
				return
			}
			sym := s.TypeClass
			if len(path) > 0 {
				sym = strings.Join(path, ".") + ": " + s.TypeClass
			}
			msg := fmt.Sprintf("State %q of %s (%s) is serialized with Kryo (type %s). Flink 2.x reads the Kryo state of Flink 1.x with Kryo 5 (1.x wrote it with Kryo 2.24): Flink 2.2 restores the state of plain classes with their values; check them after the upgrade.", state, where, kind, s.TypeClass)
			hint := "Give the type a Flink-native serializer (a POJO without generic fields, Avro, a Tuple, or explicit TypeInformation) when convenient; the State Processor API can migrate the state."
			if ser := kryoSerializers(s.Kryo); len(ser) > 0 {
				msg += fmt.Sprintf(" The state registers Kryo serializers (%s): the new jar must have them, written for Kryo 5, or Flink 2.x refuses the state.", strings.Join(ser, ", "))
			}
			if len(path) == 0 && coll != "" {
				msg += fmt.Sprintf(" If the 2.x job declares this state's type as %s<…> with a TypeHint, Flink 2.x gives it its own %s serializer instead of Kryo and the restore fails.", coll, coll)
				hint = fmt.Sprintf("In the 2.x job keep the state Kryo-serialized (e.g. new GenericTypeInfo<>(%s.class)) or migrate it with the State Processor API.", shortClass(s.TypeClass))
			}
			if role == "KEY_SERIALIZER" || role == "USER_KEY_SERIALIZER" {
				msg += " With RocksDB, state is found by the key's serialized bytes: Kryo 5 must write the key exactly as Kryo 2.24 did."
			}
			out = append(out, flinkplane.Finding{
				Severity: flinkplane.SeverityWarning, Code: CodeKryoState, Class: where, Method: state,
				Symbol: sym, Message: msg, Hint: hint,
			})
		})
	}
	return out
}

// walkPojo calls fn for s and every snapshot nested in it, with the path of
// POJO field names leading to it and the POJO class holding the last field.
func walkPojo(s *savepoint.Snapshot, path []string, pojo string, depth int, fn func(path []string, pojo string, s *savepoint.Snapshot)) {
	if s == nil || depth > 24 {
		return
	}
	fn(path, pojo, s)
	for _, f := range s.Fields {
		walkPojo(f.Snapshot, append(path[:len(path):len(path)], f.Name), s.TypeClass, depth+1, fn)
	}
	for _, n := range s.Nested {
		walkPojo(n, path, pojo, depth+1, fn)
	}
}

func scannedFindings(where string, classes []string) []flinkplane.Finding {
	for _, c := range classes {
		if c == savepoint.KryoSnapshot {
			return []flinkplane.Finding{{
				Severity: flinkplane.SeverityWarning, Code: CodeKryoState, Class: where, Symbol: "KryoSerializerSnapshot",
				Message: fmt.Sprintf("The state meta information of %s mentions KryoSerializerSnapshot (found by a scan of a serializer snapshot this checker cannot decode): Flink 2.x reads Kryo state of 1.x with Kryo 5; check the values after the upgrade, and that no POJO field of a List/Map/Set type is Kryo-serialized (its restore fails on 2.x).", where),
				Hint:    "The State Processor API can migrate the state.",
			}}
		}
	}
	return nil
}
