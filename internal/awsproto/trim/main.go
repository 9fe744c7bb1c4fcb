// Command trim writes the part of a botocore service model that a server
// implements: the named operations and the shapes they reach, without
// documentation. The CloudWatch and CloudWatch Logs endpoints embed its
// output (go generate in cloudwatch/ and cwlogs/).
//
//	go run ./internal/awsproto/trim -model service-2.json -ops A,B,C > model.json
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/flinkplane/flinkplane/internal/awsproto"
)

func main() {
	model := flag.String("model", "", "botocore service-2.json")
	ops := flag.String("ops", "", "comma-separated operation names")
	flag.Parse()
	if err := run(*model, *ops); err != nil {
		fmt.Fprintln(os.Stderr, "trim:", err)
		os.Exit(1)
	}
}

func run(path, ops string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := Trim(b, strings.Split(ops, ","))
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

// Trim returns the trimmed model as indented JSON.
func Trim(model []byte, ops []string) ([]byte, error) {
	m, err := awsproto.Load(model)
	if err != nil {
		return nil, err
	}
	t, err := awsproto.Trim(m, ops)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
