package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

// instruction is one instruction of a Containerfile: continuation lines
// joined, comments dropped.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func parseContainerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	for i, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		if cur == nil && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		cont := strings.HasSuffix(trimmed, "\\")
		trimmed = strings.TrimSuffix(trimmed, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + strings.TrimSpace(trimmed)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Fatalf("line %d: continuation at the end of the file", cur.line)
	}
	return out
}

// TestContainerfiles checks the image definitions as far as it can
// without a container engine: known instructions only, every base image
// pinned to a tag, every COPY --from naming an earlier stage, every COPY
// from the build context naming a file that exists there, exec-form
// ENTRYPOINT and CMD valid JSON, no stage switching to root, the Go image
// of flinkplane's build the go.mod's Go release, and the runtimes it
// installs in the catalog. (The runtime images' Maven stage was run by
// hand: its lib/ and plugins/ are file for file the installed runtime's;
// docs/kubernetes.md.)
func TestContainerfiles(t *testing.T) {
	files, _ := filepath.Glob("images/*/Containerfile")
	if len(files) != len(runtime.IDs())+1 {
		t.Fatalf("Containerfiles %v: want one per runtime and flinkplane's", files)
	}
	known := map[string]bool{"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ENV": true,
		"USER": true, "EXPOSE": true, "ENTRYPOINT": true, "CMD": true, "ARG": true, "LABEL": true}
	tagged := regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// flinkplane's is built from the repository's root, the
			// runtimes' from their directory.
			context := filepath.Dir(f)
			if filepath.Base(context) == "flinkplane" {
				context = ".."
			}
			stages := map[string]bool{}
			var froms []string
			for _, in := range parseContainerfile(t, string(b)) {
				at := func(format string, a ...any) {
					t.Helper()
					t.Errorf("%s:%d %s: "+format, append([]any{f, in.line, in.cmd}, a...)...)
				}
				if !known[in.cmd] {
					at("unknown instruction")
					continue
				}
				if in.args == "" {
					at("no arguments")
				}
				fields := strings.Fields(in.args)
				switch in.cmd {
				case "FROM":
					if !tagged.MatchString(fields[0]) || strings.HasSuffix(fields[0], ":latest") {
						at("base image %q is not pinned to a tag", fields[0])
					}
					froms = append(froms, fields[0])
					if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
						stages[fields[2]] = true
					} else if len(fields) != 1 {
						at("want FROM image [AS name]: %q", in.args)
					}
				case "COPY":
					var from string
					srcs := fields
					for len(srcs) > 0 && strings.HasPrefix(srcs[0], "--") {
						if v, ok := strings.CutPrefix(srcs[0], "--from="); ok {
							from = v
						} else if !strings.HasPrefix(srcs[0], "--chown=") {
							at("flag %s", srcs[0])
						}
						srcs = srcs[1:]
					}
					if len(srcs) < 2 {
						at("want sources and a destination: %q", in.args)
						continue
					}
					if from != "" {
						if !stages[from] {
							at("--from=%s is no earlier stage", from)
						}
						continue
					}
					for _, s := range srcs[:len(srcs)-1] {
						if _, err := os.Stat(filepath.Join(context, s)); err != nil {
							at("%s is not in the build context %s", s, context)
						}
					}
				case "ENTRYPOINT", "CMD":
					var argv []string
					if err := json.Unmarshal([]byte(in.args), &argv); err != nil || len(argv) == 0 {
						at("not an exec-form JSON array: %q", in.args)
					}
				case "USER":
					if in.args == "root" || in.args == "0" {
						at("runs as root")
					}
				case "RUN":
					if strings.Contains(in.args, "go build") {
						pkg := fields[len(fields)-1]
						if _, err := os.Stat(filepath.Join(context, pkg)); err != nil {
							at("builds %s, not in the repository", pkg)
						}
					}
					if rest, ok := strings.CutPrefix(in.args, "flinkplane runtime install "); ok {
						for _, a := range strings.Fields(rest) {
							if strings.HasPrefix(a, "FLINK-") {
								if _, err := runtime.Lookup(flinkplane.RuntimeID(a)); err != nil {
									at("installs %s: %v", a, err)
								}
							}
						}
					}
				}
			}
			if len(froms) == 0 {
				t.Fatal("no FROM")
			}
			if context == ".." {
				mod, _ := os.ReadFile("../go.mod")
				m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
				if m == nil || froms[0] != "golang:"+string(m[1]) {
					t.Errorf("flinkplane is built on %s, go.mod wants Go %s", froms[0], m[1])
				}
			}
		})
	}
}
