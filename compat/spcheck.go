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
	start := time.Now()
	if rest, ok := strings.CutPrefix(path, "file://"); ok {
		path = rest
	} else if rest, ok := strings.CutPrefix(path, "file:"); ok {
		path = rest
	}
	dir, meta := path, filepath.Join(path, "_metadata")
	if st, err := os.Stat(path); err != nil {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint %s not found.", path)
	} else if !st.IsDir() {
		dir, meta = filepath.Dir(path), path
	}
	b, err := readLimited(meta, 0, maxMetadataSize)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "Cannot read %s: %v.", meta, err)
	}
	rep := &SavepointReport{Path: dir, Target: target}
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
		where := "operator " + op.ID
		if op.UID != "" {
			where = "operator " + op.UID
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

// isCollection reports whether a Kryo type class is a java.util collection
// (the types Flink 2.x serializes with its own List/Map/Set serializers).
func isCollection(t string) bool {
	if !strings.HasPrefix(t, "java.util.") {
		return false
	}
	for _, s := range []string{"List", "Map", "Set", "Collection", "Queue", "Deque"} {
		if strings.HasSuffix(t, s) {
			return true
		}
	}
	return false
}

// stateFindings flags Kryo-serialized state in a 1.x savepoint restored on
// 2.x: Kryo 2 bytes cannot be read by Kryo 5, and POJO collection fields get
// a different serializer in 2.x.
func stateFindings(where, state string, sers map[string]*savepoint.Snapshot) []flinkplane.Finding {
	var out []flinkplane.Finding
	roles := make([]string, 0, len(sers))
	for r := range sers {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, role := range roles {
		sers[role].Walk(func(path []string, s *savepoint.Snapshot) {
			if s.Class != savepoint.KryoSnapshot {
				return
			}
			if len(path) > 0 && isCollection(s.TypeClass) {
				field := strings.Join(path, ".")
				out = append(out, flinkplane.Finding{
					Severity: flinkplane.SeverityError, Code: CodePojoCollection, Class: where, Method: state,
					Symbol:  field + ": " + s.TypeClass,
					Message: fmt.Sprintf("State %q of %s has POJO field %q of type %s serialized with Kryo by Flink 1.x; Flink 2.x serializes List/Map/Set fields with its own serializers and cannot restore it (StateMigrationException).", state, where, field, s.TypeClass),
					Hint:    "Migrate the state with the State Processor API (read on 1.x, write for 2.x), or declare the field's TypeInformation explicitly (e.g. @TypeInfo / Types.LIST) in both versions.",
				})
				return
			}
			sym := s.TypeClass
			if len(path) > 0 {
				sym = strings.Join(path, ".") + ": " + s.TypeClass
			}
			out = append(out, flinkplane.Finding{
				Severity: flinkplane.SeverityError, Code: CodeKryoState, Class: where, Method: state,
				Symbol:  sym,
				Message: fmt.Sprintf("State %q of %s (%s) is serialized with Kryo (type %s); Flink 2.x upgraded Kryo 2 to 5 and cannot read Kryo state written by 1.x.", state, where, strings.ToLower(strings.TrimSuffix(role, "_SERIALIZER")), s.TypeClass),
				Hint:    "Give the type a Flink-native serializer (POJO without generic fields, Avro, Tuple, or an explicit TypeInformation) and migrate the state with the State Processor API.",
			})
		})
	}
	return out
}

func scannedFindings(where string, classes []string) []flinkplane.Finding {
	for _, c := range classes {
		if c == savepoint.KryoSnapshot {
			return []flinkplane.Finding{{
				Severity: flinkplane.SeverityError, Code: CodeKryoState, Class: where, Symbol: "KryoSerializerSnapshot",
				Message: fmt.Sprintf("The state meta information of %s mentions KryoSerializerSnapshot (found by a scan of a serializer snapshot this checker cannot decode): Flink 2.x cannot read Kryo state written by 1.x.", where),
				Hint:    "Migrate the state with the State Processor API.",
			}}
		}
	}
	return nil
}
