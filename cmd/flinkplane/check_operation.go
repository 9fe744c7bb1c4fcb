package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/compat"
)

// operationReport is the JSON output of `flinkplane check operation`.
type operationReport struct {
	ApplicationName string               `json:"applicationName"`
	OperationID     string               `json:"operationId"`
	Operation       string               `json:"operation"`
	OperationStatus string               `json:"operationStatus"`
	ErrorInfo       string               `json:"errorInfo,omitempty"`
	Findings        []flinkplane.Finding `json:"findings"`
	Summary         compat.Summary       `json:"summary"`
}

// runCheckOperation prints the compatibility findings the server kept with
// an operation (DescribeApplicationOperation's
// FlinkplaneCompatibilityFindings), as `check jar` prints its own. A FAILED
// operation without findings prints its ErrorInfo instead. Exit status: 1
// for error findings or a FAILED operation, 2 for usage or I/O errors.
func runCheckOperation(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check operation", flag.ContinueOnError)
	cf := addClientFlags(fs)
	app := fs.String("application-name", "", "application name")
	opID := fs.String("operation-id", "", "operation id (ListApplicationOperations)")
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments: %v", fs.Args())
	}
	if *app == "" || *opID == "" {
		return usageErr("--application-name and --operation-id are required")
	}
	if *format != "text" && *format != "json" {
		return usageErr("--format must be text or json")
	}
	c, err := cf.client()
	if err != nil {
		return usageErr("%v", err)
	}
	d, err := c.DescribeOperation(ctx, *app, *opID)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return usageErr("%s", ce.Message)
		}
		return usageErr("%v", err)
	}
	rep := operationReport{ApplicationName: *app, OperationID: *opID, Operation: d.Operation, OperationStatus: d.OperationStatus,
		ErrorInfo: d.ErrorString(), Findings: d.CompatibilityFindings}
	if rep.Findings == nil {
		rep.Findings = []flinkplane.Finding{}
	}
	for _, f := range rep.Findings {
		switch f.Severity {
		case flinkplane.SeverityError:
			rep.Summary.Errors++
		case flinkplane.SeverityWarning:
			rep.Summary.Warnings++
		default:
			rep.Summary.Infos++
		}
	}
	failed := d.OperationStatus == "FAILED"
	if *format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	} else {
		header := fmt.Sprintf("operation %s (%s) of %s: %s, %d compatibility finding(s)", *opID, d.Operation, *app, d.OperationStatus, len(rep.Findings))
		writeFindings(out, header, rep.Findings, rep.Summary)
		if failed && len(rep.Findings) == 0 && rep.ErrorInfo != "" {
			fmt.Fprintf(out, "\nerror: %s\n", rep.ErrorInfo)
		}
	}
	switch {
	case rep.Summary.Errors > 0:
		return &exitError{code: exitErrors, err: fmt.Errorf("%d error(s) found", rep.Summary.Errors)}
	case failed:
		return &exitError{code: exitErrors, err: fmt.Errorf("operation %s FAILED", *opID)}
	}
	return nil
}
