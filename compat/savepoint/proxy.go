package savepoint

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
)

// Serialization constants (flink-core / flink-runtime).
const (
	proxyVersion          = 6       // Keyed/OperatorBackendSerializationProxy.VERSION
	snapshotProxyVersion  = 2       // TypeSerializerSnapshotSerializationProxy.VERSION
	compositeMagic        = 911108  // CompositeTypeSerializerSnapshot.MAGIC_NUMBER
	nestedMagic           = 1333245 // NestedSerializersSnapshotDelegate.MAGIC_NUMBER
	optionalMapHeader     = 0x4f2c69a3d70
	maxSnapshotDepth      = 24
	maxStatesPerProxy     = 1 << 15
	metaInfoReaderVersion = 7
)

// Snapshot class names the checks look for.
const (
	KryoSnapshot     = "org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializerSnapshot"
	PojoSnapshot     = "org.apache.flink.api.java.typeutils.runtime.PojoSerializerSnapshot"
	NullableSnapshot = "org.apache.flink.api.java.typeutils.runtime.NullableSerializer$NullableSerializerSnapshot"
)

// Snapshot is a decoded TypeSerializerSnapshot.
type Snapshot struct {
	Class   string
	Version int32
	// TypeClass is the serialized type for Kryo, POJO, Enum, Tuple, generic
	// (Value/Java/CopyableValue) and array snapshots.
	TypeClass string
	// Fields are a POJO snapshot's fields, in order.
	Fields []PojoField
	// Nested are a composite snapshot's nested serializer snapshots.
	Nested []*Snapshot
	// Opaque is set when the body's layout is unknown; the rest of the
	// enclosing structure was then scanned for class names (see Scanned).
	Opaque bool
	// Kryo is set for a Kryo snapshot: its registrations and default
	// serializers.
	Kryo *KryoConfig
}

// KryoConfig is what a KryoSerializerSnapshot records besides its type.
type KryoConfig struct {
	// Registrations are the registered classes, in order, with the
	// serializer class each was registered with ("" for none).
	Registrations []KryoRegistration
	// DefaultSerializers and DefaultSerializerClasses name the types given
	// a default Kryo serializer (an instance, or a class).
	DefaultSerializers       []string
	DefaultSerializerClasses []string
}

// KryoRegistration is one Kryo registration of a snapshot.
type KryoRegistration struct {
	Class string
	// Serializer is the serializer class (for an instance: the first class
	// named in its Java serialization), "" when Kryo's default is used.
	Serializer string
}

// DummyAvroSerializer is the serializer Flink registers for Avro's
// GenericData.Array when flink-avro is absent (every Kryo snapshot has it).
const DummyAvroSerializer = "org.apache.flink.api.java.typeutils.runtime.kryo.Serializers$DummyAvroKryoSerializerClass"

// PojoField is one field of a POJO serializer snapshot.
type PojoField struct {
	Name     string
	Snapshot *Snapshot // nil when the field's class no longer exists
}

// Walk calls fn for s and every snapshot nested in it, with the path of POJO
// field names leading to it.
func (s *Snapshot) Walk(fn func(path []string, s *Snapshot)) {
	var walk func(path []string, s *Snapshot, depth int)
	walk = func(path []string, s *Snapshot, depth int) {
		if s == nil || depth > maxSnapshotDepth {
			return
		}
		fn(path, s)
		for _, f := range s.Fields {
			walk(append(path[:len(path):len(path)], f.Name), f.Snapshot, depth+1)
		}
		for _, n := range s.Nested {
			walk(path, n, depth+1)
		}
	}
	walk(nil, s, 0)
}

// StateMeta is one state's meta information (StateMetaInfoSnapshot).
type StateMeta struct {
	Name string
	// Type is the backend state type: KEY_VALUE, OPERATOR, BROADCAST,
	// PRIORITY_QUEUE, KEY_VALUE_V2.
	Type    string
	Options map[string]string
	// Serializers maps KEY_SERIALIZER, NAMESPACE_SERIALIZER,
	// VALUE_SERIALIZER, USER_KEY_SERIALIZER to snapshots.
	Serializers map[string]*Snapshot
}

// Proxy is a decoded keyed or operator backend serialization proxy header.
type Proxy struct {
	Version       int32
	Compression   bool
	KeySerializer *Snapshot // keyed only
	States        []*StateMeta
	// Scanned is set when a serializer snapshot could not be decoded and the
	// remaining header was scanned for strings instead: ScannedClasses then
	// holds the class names found there.
	Scanned        bool
	ScannedClasses []string
}

var backendStateTypes = []string{"KEY_VALUE", "OPERATOR", "BROADCAST", "PRIORITY_QUEUE", "KEY_VALUE_V2"}

// errOpaque signals a snapshot body of unknown layout.
type errOpaque struct{ class string }

func (e *errOpaque) Error() string { return "unknown serializer snapshot layout: " + e.class }

// ParseKeyedProxy decodes a KeyedBackendSerializationProxy at the start of
// b (a keyed state stream or the header region before the first key group).
func ParseKeyedProxy(b []byte) (*Proxy, error) {
	r := &reader{b: b}
	p := &Proxy{}
	var err error
	if p.Version, err = r.i32(); err != nil {
		return nil, err
	}
	if p.Version != proxyVersion {
		return nil, r.fail("keyed state proxy version %d, expected %d", p.Version, proxyVersion)
	}
	if p.Compression, err = r.bool(); err != nil {
		return nil, err
	}
	start := r.off
	if p.KeySerializer, err = r.serializerSnapshot(0); err != nil {
		return p.scanned(b[start:], err)
	}
	n, err := r.i16()
	if err != nil {
		return nil, err
	}
	if n < 0 || int(n)*9 > r.remaining() {
		return nil, r.fail("state count %d exceeds input", n)
	}
	for range int(n) {
		start := r.off
		s, err := r.stateMeta()
		if err != nil {
			return p.scanned(b[start:], err)
		}
		p.States = append(p.States, s)
	}
	return p, nil
}

// ParseOperatorProxy decodes an OperatorBackendSerializationProxy at the
// start of an operator state stream: operator states, then broadcast states.
func ParseOperatorProxy(b []byte) (*Proxy, error) {
	r := &reader{b: b}
	p := &Proxy{}
	var err error
	if p.Version, err = r.i32(); err != nil {
		return nil, err
	}
	if p.Version != proxyVersion {
		return nil, r.fail("operator state proxy version %d, expected %d", p.Version, proxyVersion)
	}
	if p.Compression, err = r.bool(); err != nil {
		return nil, err
	}
	for range 2 {
		n, err := r.i16()
		if err != nil {
			return nil, err
		}
		if n < 0 || int(n)*9 > r.remaining() {
			return nil, r.fail("state count %d exceeds input", n)
		}
		for range int(n) {
			start := r.off
			s, err := r.stateMeta()
			if err != nil {
				return p.scanned(b[start:], err)
			}
			p.States = append(p.States, s)
		}
	}
	return p, nil
}

// scanned falls back to a string scan of the rest of the header when a
// snapshot body cannot be decoded. Malformed-input errors are returned as is.
func (p *Proxy) scanned(rest []byte, err error) (*Proxy, error) {
	if _, ok := err.(*errOpaque); !ok {
		return nil, err
	}
	p.Scanned = true
	p.ScannedClasses = ScanClassNames(rest)
	return p, nil
}

func (r *reader) stateMeta() (*StateMeta, error) {
	s := &StateMeta{Options: map[string]string{}, Serializers: map[string]*Snapshot{}}
	var err error
	if s.Name, err = r.utf(); err != nil {
		return nil, err
	}
	t, err := r.i32()
	if err != nil {
		return nil, err
	}
	if t >= 0 && int(t) < len(backendStateTypes) {
		s.Type = backendStateTypes[t]
	} else {
		return nil, r.fail("unknown backend state type %d", t)
	}
	n, err := r.count(4, "state option")
	if err != nil {
		return nil, err
	}
	for range n {
		k, err := r.utf()
		if err != nil {
			return nil, err
		}
		v, err := r.utf()
		if err != nil {
			return nil, err
		}
		s.Options[k] = v
	}
	n, err = r.count(12, "state serializer")
	if err != nil {
		return nil, err
	}
	for range n {
		k, err := r.utf()
		if err != nil {
			return nil, err
		}
		snap, err := r.serializerSnapshot(0)
		if err != nil {
			return nil, err
		}
		s.Serializers[k] = snap
	}
	return s, nil
}

// serializerSnapshot reads TypeSerializerSnapshotSerializationUtil's
// encoding: proxy version, then a versioned snapshot.
func (r *reader) serializerSnapshot(depth int) (*Snapshot, error) {
	v, err := r.i32()
	if err != nil {
		return nil, err
	}
	if v != snapshotProxyVersion {
		return nil, r.fail("serializer snapshot proxy version %d, expected %d", v, snapshotProxyVersion)
	}
	return r.versionedSnapshot(depth)
}

// simpleSnapshots are snapshot classes with an empty body that do not follow
// the "...base.*Serializer$*SerializerSnapshot" naming rule.
var simpleSnapshots = map[string]bool{
	"org.apache.flink.runtime.state.VoidNamespaceSerializer$VoidNamespaceSerializerSnapshot":               true,
	"org.apache.flink.api.common.typeutils.base.VoidSerializer$VoidSerializerSnapshot":                     true,
	"org.apache.flink.api.java.typeutils.runtime.NullableSerializer$NullableSerializerSnapshot":            false,
	"org.apache.flink.table.runtime.typeutils.StringDataSerializer$StringDataSerializerSnapshot":           true,
	"org.apache.flink.api.common.typeutils.base.InstantSerializer$InstantSerializerSnapshot":               true,
	"org.apache.flink.api.common.typeutils.base.LocalDateTimeSerializer$LocalDateTimeSerializerSnapshot":   true,
	"org.apache.flink.api.common.typeutils.base.LocalDateSerializer$LocalDateSerializerSnapshot":           true,
	"org.apache.flink.api.common.typeutils.base.LocalTimeSerializer$LocalTimeSerializerSnapshot":           true,
	"org.apache.flink.api.common.typeutils.base.BigDecSerializer$BigDecSerializerSnapshot":                 true,
	"org.apache.flink.api.common.typeutils.base.BigIntSerializer$BigIntSerializerSnapshot":                 true,
	"org.apache.flink.api.java.typeutils.runtime.NullValueSerializer$NullValueSerializerSnapshot":          true,
	"org.apache.flink.api.common.typeutils.base.array.StringArraySerializer$StringArraySerializerSnapshot": true,
}

// typeClassSnapshots have a body of one UTF class name
// (GenericTypeSerializerSnapshot subclasses and the like).
var typeClassSnapshots = map[string]bool{
	"org.apache.flink.api.java.typeutils.runtime.ValueSerializer$ValueSerializerSnapshot":                 true,
	"org.apache.flink.api.java.typeutils.runtime.CopyableValueSerializer$CopyableValueSerializerSnapshot": true,
	"org.apache.flink.runtime.state.JavaSerializer$JavaSerializerSnapshot":                                true,
	"org.apache.flink.api.java.typeutils.runtime.AvroSerializerSnapshot":                                  false,
}

var simpleBase = regexp.MustCompile(`^org\.apache\.flink\.api\.common\.typeutils\.base\.(array\.)?[A-Za-z]+Serializer\$[A-Za-z]+SerializerSnapshot$`)

// versionedSnapshot reads TypeSerializerSnapshot.writeVersionedSnapshot:
// UTF class name, int version, body.
func (r *reader) versionedSnapshot(depth int) (*Snapshot, error) {
	if depth > maxSnapshotDepth {
		return nil, r.fail("serializer snapshots nested deeper than %d", maxSnapshotDepth)
	}
	s := &Snapshot{}
	var err error
	if s.Class, err = r.utf(); err != nil {
		return nil, err
	}
	if s.Version, err = r.i32(); err != nil {
		return nil, err
	}
	switch {
	case s.Class == PojoSnapshot:
		return s, r.pojoBody(s, depth)
	case s.Class == KryoSnapshot:
		if s.TypeClass, err = r.utf(); err != nil {
			return nil, err
		}
		k := &KryoConfig{}
		s.Kryo = k
		// KryoSerializerSnapshotData: registrations, default serializer
		// instances, default serializer classes.
		if err := r.skipOptionalMap(func(name string, value []byte) error {
			k.Registrations = append(k.Registrations, kryoRegistration(name, value))
			return nil
		}); err != nil {
			return nil, err
		}
		if err := r.skipOptionalMap(func(name string, _ []byte) error {
			k.DefaultSerializers = append(k.DefaultSerializers, name)
			return nil
		}); err != nil {
			return nil, err
		}
		if err := r.skipOptionalMap(func(name string, _ []byte) error {
			k.DefaultSerializerClasses = append(k.DefaultSerializerClasses, name)
			return nil
		}); err != nil {
			return nil, err
		}
		return s, nil
	case s.Class == "org.apache.flink.api.common.typeutils.base.EnumSerializer$EnumSerializerSnapshot":
		if s.TypeClass, err = r.utf(); err != nil {
			return nil, err
		}
		n, err := r.count(2, "enum constant")
		if err != nil {
			return nil, err
		}
		for range n {
			if _, err := r.utf(); err != nil {
				return nil, err
			}
		}
		return s, nil
	case s.Class == "org.apache.flink.api.java.typeutils.runtime.EitherSerializerSnapshot":
		return s, r.nested(s, depth)
	case simpleSnapshots[s.Class] || (simpleBase.MatchString(s.Class) && !strings.Contains(s.Class, "Enum")):
		if peekInt(r) == compositeMagic {
			return s, r.composite(s, depth)
		}
		return s, nil
	case typeClassSnapshots[s.Class]:
		s.TypeClass, err = r.utf()
		return s, err
	}
	// Unknown class: composite snapshots announce themselves with a magic
	// number; anything else has an unknown body.
	if peekInt(r) == compositeMagic {
		return s, r.composite(s, depth)
	}
	s.Opaque = true
	return s, &errOpaque{class: s.Class}
}

func peekInt(r *reader) int32 {
	if r.remaining() < 4 {
		return -1
	}
	return int32(uint32(r.b[r.off])<<24 | uint32(r.b[r.off+1])<<16 | uint32(r.b[r.off+2])<<8 | uint32(r.b[r.off+3]))
}

// outerBodies are the outer snapshot layouts of known composite snapshots.
var outerBodies = map[string]string{
	"org.apache.flink.api.java.typeutils.runtime.TupleSerializerSnapshot":                       "utf",
	"org.apache.flink.api.common.typeutils.base.GenericArraySerializerSnapshot":                 "utf",
	"org.apache.flink.api.java.typeutils.runtime.RowSerializer$RowSerializerSnapshot":           "bool",
	"org.apache.flink.api.java.typeutils.runtime.NullableSerializer$NullableSerializerSnapshot": "int",
	"org.apache.flink.api.common.typeutils.base.ListSerializerSnapshot":                         "",
	"org.apache.flink.api.common.typeutils.base.MapSerializerSnapshot":                          "",
	"org.apache.flink.runtime.state.ArrayListSerializerSnapshot":                                "",
	"org.apache.flink.runtime.state.ttl.TtlStateFactory$TtlSerializerSnapshot":                  "",
	"org.apache.flink.streaming.api.operators.TimerSerializerSnapshot":                          "",
	"org.apache.flink.api.java.typeutils.runtime.JavaEitherSerializerSnapshot":                  "",
	"org.apache.flink.api.scala.typeutils.ScalaCaseClassSerializerSnapshot":                     "utf",
	"org.apache.flink.api.common.typeutils.base.SetSerializerSnapshot":                          "",
}

// version, outer body, nested snapshots.
func (r *reader) composite(s *Snapshot, depth int) error {
	if _, err := r.i32(); err != nil { // magic
		return err
	}
	if _, err := r.i32(); err != nil { // outer version
		return err
	}
	body, known := outerBodies[s.Class]
	switch {
	case body == "utf":
		t, err := r.utf()
		if err != nil {
			return err
		}
		s.TypeClass = t
	case body == "bool":
		if _, err := r.bool(); err != nil {
			return err
		}
	case body == "int":
		if _, err := r.i32(); err != nil {
			return err
		}
	case !known:
		// Unknown outer body: nested snapshots follow the next nested magic
		// (searched within a small window).
		end := min(r.off+4096, len(r.b)-4)
		found := false
		for i := r.off; i <= end; i++ {
			if int32(uint32(r.b[i])<<24|uint32(r.b[i+1])<<16|uint32(r.b[i+2])<<8|uint32(r.b[i+3])) == nestedMagic {
				r.off = i
				found = true
				break
			}
		}
		if !found {
			s.Opaque = true
			return &errOpaque{class: s.Class}
		}
	}
	return r.nested(s, depth)
}

// nested reads NestedSerializersSnapshotDelegate.
func (r *reader) nested(s *Snapshot, depth int) error {
	m, err := r.i32()
	if err != nil {
		return err
	}
	if m != nestedMagic {
		return r.fail("bad nested serializers magic %d in %s", m, s.Class)
	}
	if _, err := r.i32(); err != nil {
		return err
	}
	n, err := r.count(6, "nested serializer")
	if err != nil {
		return err
	}
	for range n {
		ns, err := r.versionedSnapshot(depth + 1)
		if ns != nil {
			s.Nested = append(s.Nested, ns)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pojoBody reads PojoSerializerSnapshotData: class name, then optional maps
// of fields, registered and non-registered subclasses.
func (r *reader) pojoBody(s *Snapshot, depth int) error {
	var err error
	if s.TypeClass, err = r.utf(); err != nil {
		return err
	}
	fields := func(name string, value []byte) error {
		f := PojoField{Name: name}
		if value != nil {
			fr := &reader{b: value}
			snap, err := fr.versionedSnapshot(depth + 1)
			if err != nil {
				if _, ok := err.(*errOpaque); !ok {
					return err
				}
			}
			f.Snapshot = snap
		}
		s.Fields = append(s.Fields, f)
		return nil
	}
	if err := r.skipOptionalMap(fields); err != nil {
		return err
	}
	subclasses := func(name string, value []byte) error {
		if value == nil {
			return nil
		}
		fr := &reader{b: value}
		snap, err := fr.versionedSnapshot(depth + 1)
		if snap != nil {
			s.Nested = append(s.Nested, snap)
		}
		if _, ok := err.(*errOpaque); ok {
			return nil
		}
		return err
	}
	for range 2 {
		if err := r.skipOptionalMap(subclasses); err != nil {
			return err
		}
	}
	return nil
}

// kryoRegistration decodes KryoRegistrationUtil.writeKryoRegistration:
// class name, serializer definition type (0 unspecified, 1 class, 2
// instance), then the serializer class name or its Java serialization.
func kryoRegistration(name string, value []byte) KryoRegistration {
	reg := KryoRegistration{Class: name}
	if value == nil {
		return reg
	}
	r := &reader{b: value}
	if _, err := r.utf(); err != nil {
		return reg
	}
	switch t, err := r.i32(); {
	case err != nil:
	case t == 1:
		reg.Serializer, _ = r.utf()
	case t == 2:
		// The object stream's first class descriptor: TC_OBJECT (0x73),
		// TC_CLASSDESC (0x72), the class name in modified UTF-8.
		if i := bytes.Index(value[r.off:], []byte{0x73, 0x72}); i >= 0 {
			r.off += i + 2
			reg.Serializer, _ = r.utf()
		}
		if reg.Serializer == "" {
			reg.Serializer = "(a serializer instance)"
		}
	}
	return reg
}

// skipOptionalMap reads a LinkedOptionalMap, calling fn (if not nil) with
// each entry's name and framed value bytes (nil when absent).
func (r *reader) skipOptionalMap(fn func(name string, value []byte) error) error {
	h, err := r.i64()
	if err != nil {
		return err
	}
	if h != optionalMapHeader {
		return r.fail("bad optional map header %#x", h)
	}
	n, err := r.count(4, "optional map entry")
	if err != nil {
		return err
	}
	for range n {
		name, err := r.utf()
		if err != nil {
			return err
		}
		var value []byte
		for i := range 2 {
			present, err := r.bool()
			if err != nil {
				return err
			}
			if !present {
				continue
			}
			l, err := r.count(1, "framed bytes")
			if err != nil {
				return err
			}
			b, _ := r.bytes(l)
			if i == 1 {
				value = b
			}
		}
		if fn != nil {
			if err := fn(name, value); err != nil {
				return err
			}
		}
	}
	return nil
}

// javaName matches a binary class name as written by writeUTF.
var javaName = regexp.MustCompile(`^[a-zA-Z_$][\w$]*(\.[a-zA-Z_$][\w$]*)+$`)

// ScanClassNames returns the distinct strings in b that look like writeUTF
// encoded Java class names: the fallback when a snapshot's layout is unknown.
func ScanClassNames(b []byte) []string {
	seen := map[string]bool{}
	for i := 0; i+2 < len(b); i++ {
		n := int(b[i])<<8 | int(b[i+1])
		if n < 3 || n > 512 || i+2+n > len(b) {
			continue
		}
		s := b[i+2 : i+2+n]
		ok := true
		for _, c := range s {
			if c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok && javaName.Match(s) {
			seen[string(s)] = true
			i += 1 + n
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
