package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flinkplane/flinkplane/client"
)

func init() {
	commands["health"] = command{summary: "show the health of a running application (job, checkpoints, processes) and its history", run: runHealth}
}

const healthUsage = `usage:
  flinkplane health [--endpoint-url URL] --application-name NAME [--history N] [--format text|json]`

func runHealth(ctx context.Context, args []string) error {
	return runHealthTo(ctx, args, os.Stdout)
}

func runHealthTo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), healthUsage); fs.PrintDefaults() }
	cf := addClientFlags(fs)
	app := fs.String("application-name", "", "application name")
	history := fs.Int("history", 0, "also list the N samples before the newest")
	format := fs.String("format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *app == "" {
		return fmt.Errorf("--application-name is required")
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--format must be text or json")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	resp, err := c.Health(ctx, *app, client.HealthOptions{History: *history})
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	printHealth(out, resp)
	return nil
}

func printHealth(out io.Writer, r *client.HealthResponse) {
	fmt.Fprintf(out, "application  %s  %s\n", r.ApplicationName, r.ApplicationStatus)
	if r.FailedOperationID != "" {
		fmt.Fprintf(out, "             the update %s failed without system rollback: roll back, update or stop\n", r.FailedOperationID)
	}
	h := r.Health
	if h == nil {
		fmt.Fprintln(out, "health       none recorded (the application has not run since the watch started)")
		return
	}
	fmt.Fprintf(out, "health       %s at %s (%s ago)\n", h.Status, h.Time.Format(time.RFC3339), time.Since(h.Time).Round(time.Second))
	if h.JobID != "" {
		tasks := "not all tasks running"
		if h.AllTasksRunning {
			tasks = "all tasks running"
		}
		fmt.Fprintf(out, "job          %s %s, %s, %d restarts", h.JobID, orDash(h.JobState), tasks, h.Restarts)
		if up := h.Uptime(); up > 0 {
			fmt.Fprintf(out, ", up %s", up.Round(time.Second))
		}
		fmt.Fprintf(out, " (version %d on %s, cluster %s)\n", h.VersionID, h.Runtime, h.ClusterID)
	}
	fmt.Fprintf(out, "checkpoints  %d completed, %d failed", h.CompletedCheckpoints, h.FailedCheckpoints)
	if c := h.LatestCheckpoint; c != nil {
		kind := "checkpoint"
		if c.Savepoint {
			kind = "savepoint"
		}
		fmt.Fprintf(out, "; newest %s %d at %s, %s, %d bytes: %s", kind, c.ID, c.Time.Format(time.RFC3339), c.Duration, c.Size, c.Path)
	}
	fmt.Fprintln(out)
	if c := h.Restored; c != nil {
		fmt.Fprintf(out, "restored     from %d at %s: %s\n", c.ID, c.Time.Format(time.RFC3339), c.Path)
	}
	if c := h.Cluster; c != nil {
		jm := "alive"
		if !c.JobManagerAlive {
			jm = "GONE"
		}
		fmt.Fprintf(out, "processes    jobmanager %s, taskmanagers %d/%d alive", jm, c.TaskManagersAlive, c.TaskManagers)
		if len(c.Lost) > 0 {
			fmt.Fprintf(out, " (lost: %s)", strings.Join(c.Lost, ", "))
		}
		fmt.Fprintln(out)
	}
	if h.Cause != "" {
		fmt.Fprintf(out, "cause        %s\n", h.Cause)
	}
	if h.Error != "" {
		fmt.Fprintf(out, "error        %s\n", h.Error)
	}
	if len(r.History) == 0 {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSTATUS\tJOB\tRESTARTS\tCHECKPOINT\tPROCESSES")
	for _, s := range r.History {
		ck := "-"
		if s.LatestCheckpoint != nil {
			ck = fmt.Sprint(s.LatestCheckpoint.ID)
		}
		procs := "-"
		if s.Cluster != nil {
			procs = fmt.Sprintf("jm %v, tm %d/%d", s.Cluster.JobManagerAlive, s.Cluster.TaskManagersAlive, s.Cluster.TaskManagers)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Time.Format(time.RFC3339), s.Status, orDash(s.JobState), s.Restarts, ck, procs)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
