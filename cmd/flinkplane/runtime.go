package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

func init() {
	commands["runtime"] = command{summary: "install and list Flink runtimes (install ID..., list)", run: runRuntime}
}

func runRuntime(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: flinkplane runtime install [flags] FLINK-1_20 FLINK-2_2 ... | flinkplane runtime list [flags]")
	}
	fs := flag.NewFlagSet("runtime "+args[0], flag.ContinueOnError)
	dir := stringFlag(fs, "runtimes-dir", runtime.DefaultDir(), "directory of installed Flink runtimes")
	mvn := stringFlag(fs, "mvn", "mvn", "Maven command used to install runtimes")
	verbose := boolFlag(fs, "verbose", false, "show Maven's output")
	switch args[0] {
	case "install":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ids := fs.Args()
		if len(ids) == 0 {
			return errors.New("usage: flinkplane runtime install FLINK-1_20 FLINK-2_2 [...]")
		}
		for _, id := range ids {
			if _, err := runtime.Lookup(flinkplane.RuntimeID(id)); err != nil {
				return errors.New(flinkplane.ErrorMessage(err))
			}
		}
		in := runtime.NewInstaller(*dir)
		in.Mvn, in.Out, in.Verbose = *mvn, os.Stdout, *verbose
		for i, id := range ids {
			fmt.Printf("[%d/%d] %s\n", i+1, len(ids), id)
			if _, err := in.Install(ctx, flinkplane.RuntimeID(id)); err != nil {
				return err
			}
			// Tools run beside the runtime (the state migration's State
			// Processor API), never in its clusters.
			if err := in.InstallTools(ctx, flinkplane.RuntimeID(id)); err != nil {
				return err
			}
		}
		return nil
	case "list":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		jv, jerr := runtime.JavaVersion(ctx, runtime.JavaCommand())
		if jerr != nil {
			fmt.Fprintf(os.Stderr, "java: %v\n", jerr)
		}
		fmt.Printf("runtimes dir: %s   java: %d\n", *dir, jv)
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "RUNTIME\tFLINK\tINSTALLED\tSIZE\tUSABLE\tNOTE")
		for _, id := range runtime.IDs() {
			v, _ := runtime.Lookup(id)
			m, err := runtime.ReadManifest(*dir, id)
			installed := err == nil
			size := "-"
			if installed && m.Bytes > 0 {
				size = fmt.Sprintf("%d MiB", m.Bytes>>20)
			}
			usable, note := false, ""
			if installed {
				if _, err := runtime.Check(*dir, id, jv); err != nil {
					note = flinkplane.ErrorMessage(err)
				} else {
					usable = true
				}
			} else {
				note = "flinkplane runtime install " + string(id)
				if err != nil && strings.Contains(flinkplane.ErrorMessage(err), "outdated") {
					note = flinkplane.ErrorMessage(err) + " Run: " + note
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, v.FlinkVersion, yesNo(installed), size, yesNo(usable), note)
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown runtime subcommand %q (install, list)", args[0])
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
