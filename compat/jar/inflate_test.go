package jar

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"testing"
)

func deflate(tb testing.TB, data []byte, level int) []byte {
	tb.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// sample returns compressible data: text-like runs with repeats.
func sample(r *rand.Rand, n int) []byte {
	words := []string{"org/apache/flink/", "java/lang/Object", "(Ljava/lang/String;)V", "<init>", "Code", "LineNumberTable", "\x00\x01\x07", "\xca\xfe\xba\xbe"}
	var b []byte
	for len(b) < n {
		if r.IntN(4) == 0 {
			b = append(b, byte(r.IntN(256)))
		} else {
			b = append(b, words[r.IntN(len(words))]...)
		}
	}
	return b[:n]
}

func TestFastInflate_MatchesCompressFlate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 100, 4000, 70000, 300000} {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, 5, flate.BestCompression, flate.HuffmanOnly} {
			data := sample(r, n)
			if n == 70000 {
				data = make([]byte, n) // long overlapping matches
			}
			c := deflate(t, data, level)
			got := make([]byte, n)
			if err := fastInflate(c, got); err != nil {
				t.Fatalf("n=%d level=%d: %v", n, level, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("n=%d level=%d: output differs", n, level)
			}
			if n > 0 {
				if err := fastInflate(c, got[:n-1]); err != errSize {
					t.Fatalf("n=%d level=%d: short dst: %v", n, level, err)
				}
				if err := fastInflate(c[:len(c)/2], got); err == nil {
					t.Fatalf("n=%d level=%d: truncated input accepted", n, level)
				}
			}
			if err := fastInflate(c, make([]byte, n+1)); err != errSize {
				t.Fatalf("n=%d level=%d: long dst: %v", n, level, err)
			}
		}
	}
}

// FuzzInflate: the fast inflater never panics, and on every stream
// compress/flate decodes it produces the same bytes.
func FuzzInflate(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, level := range []int{0, 1, 6, 9, -2} {
		f.Add(deflate(f, sample(r, 3000), level))
	}
	f.Add([]byte{0x03, 0x00})
	f.Fuzz(func(t *testing.T, c []byte) {
		want, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(c)), 1<<20))
		got := make([]byte, len(want))
		ferr := fastInflate(c, got)
		if err == nil && ferr != nil {
			t.Fatalf("compress/flate decodes %d bytes, fastInflate fails: %v", len(want), ferr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatal("output differs from compress/flate")
		}
		// inflate accepts whatever compress/flate accepts, with its output.
		if err == nil {
			if ierr := inflate(c, got); ierr != nil || !bytes.Equal(got, want) {
				t.Fatalf("inflate: %v", ierr)
			}
		}
	})
}
