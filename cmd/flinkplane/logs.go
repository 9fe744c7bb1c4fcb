package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/flinkplane/flinkplane/client"
)

func init() {
	commands["logs"] = command{summary: "list or read the logs of an application's Flink clusters", run: runLogs}
}

// clientFlags are the flags of the commands that talk to a running server.
type clientFlags struct {
	endpoint *string
	region   *string
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	return clientFlags{
		endpoint: stringFlag(fs, "endpoint-url", defaultEndpoint, "URL of the flinkplane server"),
		region:   fs.String("region", region, "SigV4 signing region (env AWS_REGION)"),
	}
}

// defaultEndpoint is where `flinkplane serve` listens by default.
const defaultEndpoint = "http://127.0.0.1:8080"

// client returns a typed client of the server. Requests are signed when
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set (as --auth sigv4
// needs); the shared config files are not read.
func (f clientFlags) client() (*client.Client, error) {
	if *f.endpoint == "" {
		return nil, fmt.Errorf("--endpoint-url is empty")
	}
	c := client.New(*f.endpoint)
	c.Region = *f.region
	if id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		c.Credentials = credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	}
	return c, nil
}

const logsUsage = `usage:
  flinkplane logs [--endpoint-url URL] --application-name NAME                     list the log files
  flinkplane logs [--endpoint-url URL] --application-name NAME --file F [--tail N] [--cluster ID]
                                                                                  print one log file`

func runLogs(ctx context.Context, args []string) error {
	return runLogsTo(ctx, args, os.Stdout)
}

func runLogsTo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), logsUsage); fs.PrintDefaults() }
	cf := addClientFlags(fs)
	app := fs.String("application-name", "", "application name")
	file := fs.String("file", "", "log file to print (default: list the files)")
	cluster := fs.String("cluster", "", "cluster id of the file (default: the newest cluster that has it)")
	tail := fs.Int("tail", 0, "print only the last N lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *app == "" {
		return fmt.Errorf("--application-name is required")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if *file != "" {
		b, err := c.ReadLog(ctx, *app, *file, client.ReadLogOptions{Cluster: *cluster, Tail: *tail})
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	resp, err := c.ListLogs(ctx, *app)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tRUNTIME\tFILE\tSIZE\tMODIFIED")
	for _, f := range resp.LogFiles {
		id := f.ClusterID
		if f.Current {
			id += " (current)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", id, f.RuntimeEnvironment, f.FileName, f.Size, f.LastModified.Format("2006-01-02T15:04:05Z"))
	}
	return tw.Flush()
}
