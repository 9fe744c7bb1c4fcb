package model

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// render formats the JSON value raw the way AWS quotes values in validation
// messages (Java's toString): strings without quotes, lists as [a, b], maps
// and structures as {k=v, k2=v2}, blobs as the Java ByteBuffer they decode
// to. The result is cut at maxRendered bytes.
func render(raw []byte, sh *schemaShape) string {
	if sh != nil && sh.kind == kindBlob {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			n := strconv.Itoa(len(s) / 4 * 3)
			return "java.nio.HeapByteBuffer[pos=0 lim=" + n + " cap=" + n + "]"
		}
	}
	var b strings.Builder
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	renderValue(&b, dec)
	return truncate(b.String(), maxRendered)
}

// renderValue writes the next value of dec to b, stopping early once b is
// longer than maxRendered.
func renderValue(b *strings.Builder, dec *json.Decoder) {
	tok, err := dec.Token()
	if err != nil {
		return
	}
	switch t := tok.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(t)
	case json.Number:
		b.WriteString(string(t))
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case json.Delim:
		if t == '[' {
			b.WriteByte('[')
			for i := 0; dec.More() && b.Len() <= maxRendered; i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				renderValue(b, dec)
			}
			dec.Token() // ]
			b.WriteByte(']')
			return
		}
		b.WriteByte('{')
		for i := 0; dec.More() && b.Len() <= maxRendered; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			k, err := dec.Token()
			if err != nil {
				return
			}
			b.WriteString(k.(string) + "=")
			renderValue(b, dec)
		}
		dec.Token() // }
		b.WriteByte('}')
	}
}
