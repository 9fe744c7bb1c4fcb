package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/cloudwatch"
	"github.com/flinkplane/flinkplane/cwlogs"
	"github.com/flinkplane/flinkplane/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// monitoringConfig configures metrics and logs (docs/metrics.md).
type monitoringConfig struct {
	// MetricsInterval is the least time between two readings of a running
	// application's metrics.
	MetricsInterval time.Duration
	// MetricsRetention keeps 1-minute data points; older ones are rolled
	// into hours kept for MetricsHourlyRetention.
	MetricsRetention       time.Duration
	MetricsHourlyRetention time.Duration
	// LogsInterval is the pause between two deliveries of Flink logs to
	// CloudWatch Logs streams; LogsRetention how long log events are kept.
	LogsInterval  time.Duration
	LogsRetention time.Duration
	// MetricsAddr, if set, serves Prometheus's /metrics on its own
	// listener instead of the API's address.
	MetricsAddr string
}

func defaultMonitoring() monitoringConfig {
	return monitoringConfig{MetricsInterval: metrics.DefaultInterval, MetricsRetention: metrics.DefaultRetention,
		MetricsHourlyRetention: metrics.DefaultHourlyRetention, LogsInterval: cwlogs.DefaultInterval, LogsRetention: cwlogs.DefaultRetention}
}

// monitoringFlags declares the monitoring flags of serve; the returned
// function reads them after parsing.
func monitoringFlags(fs *flag.FlagSet) func() monitoringConfig {
	d := defaultMonitoring()
	interval := intFlag(fs, "metrics-interval", int(d.MetricsInterval/time.Second), "seconds between two readings of a running application's metrics")
	retention := intFlag(fs, "metrics-retention-days", int(d.MetricsRetention/(24*time.Hour)), "days 1-minute metric data points are kept")
	hourly := intFlag(fs, "metrics-hourly-retention-days", int(d.MetricsHourlyRetention/(24*time.Hour)), "days hourly metric data points (rolled up from minutes) are kept; 0: none")
	logsInterval := intFlag(fs, "logs-interval", int(d.LogsInterval/time.Second), "seconds between two deliveries of Flink logs to CloudWatch Logs streams")
	logsRetention := intFlag(fs, "logs-retention-days", int(d.LogsRetention/(24*time.Hour)), "days CloudWatch Logs events are kept")
	addr := stringFlag(fs, "metrics-addr", "", "separate listen address for Prometheus /metrics (default: the API address; required with --auth sigv4)")
	return func() monitoringConfig {
		return monitoringConfig{MetricsInterval: time.Duration(*interval) * time.Second,
			MetricsRetention:       time.Duration(*retention) * 24 * time.Hour,
			MetricsHourlyRetention: time.Duration(*hourly) * 24 * time.Hour,
			LogsInterval:           time.Duration(*logsInterval) * time.Second, LogsRetention: time.Duration(*logsRetention) * 24 * time.Hour,
			MetricsAddr: *addr}
	}
}

func (c monitoringConfig) check() error {
	if c.MetricsInterval <= 0 || c.LogsInterval <= 0 {
		return errors.New("--metrics-interval and --logs-interval must be positive")
	}
	if c.MetricsRetention <= 0 || c.LogsRetention <= 0 || c.MetricsHourlyRetention < 0 {
		return errors.New("--metrics-retention-days and --logs-retention-days must be positive, --metrics-hourly-retention-days not negative")
	}
	return nil
}

// monitoring is the running metrics and logs side of Main.
type monitoring struct {
	registry   *prometheus.Registry
	cp         *metrics.ControlPlane
	collector  *metrics.Collector
	shipper    *cwlogs.Shipper
	cloudwatch *cloudwatch.Server
	logs       *cwlogs.Server
	prom       http.Handler
	promOnMain bool
	promLn     net.Listener
	promSrv    *http.Server
}

// openMonitoring prepares the registry and the instrumented store (before
// the engine) and the collector: MetricsRecorder is what the watch calls.
func (m *Main) openMonitoring() (flinkplane.Store, error) {
	c := m.Config.Monitoring
	if err := c.check(); err != nil {
		return nil, err
	}
	m.mon.registry, m.mon.cp = metrics.NewRegistry(nil)
	store := m.mon.cp.InstrumentStore(m.DB)
	reader, _ := m.driver.(flinkplane.MetricsReader)
	col := metrics.New(store, m.DB, reader)
	col.Interval, col.Retention, col.HourlyRetention, col.Logger = c.MetricsInterval, c.MetricsRetention, c.MetricsHourlyRetention, m.Logger
	m.mon.collector = col
	m.Metrics = col
	m.mon.registry.MustRegister(metrics.NewExporter(col))
	if err := col.Open(); err != nil {
		return nil, err
	}
	if lr, ok := m.driver.(flinkplane.LogReader); ok {
		sh := cwlogs.NewShipper(store, m.DB, lr)
		sh.Levels, _ = m.driver.(flinkplane.LogLevelSetter)
		sh.Interval, sh.Retention, sh.Logger = c.LogsInterval, c.LogsRetention, m.Logger
		m.mon.shipper = sh
		col.OnExceptions = sh.DeliverExceptions
		if err := sh.Open(); err != nil {
			return nil, err
		}
	}
	return store, nil
}

// serveMonitoring sets up the CloudWatch, CloudWatch Logs and Prometheus
// endpoints (after the API server exists).
func (m *Main) serveMonitoring() error {
	c := &m.Config
	m.mon.cloudwatch = cloudwatch.New(m.DB)
	m.mon.cloudwatch.Account, m.mon.cloudwatch.Logger = c.AccountID, m.Logger
	m.mon.logs = cwlogs.New(m.DB, c.Region, c.AccountID)
	m.mon.logs.Logger = m.Logger
	if c.Auth == "sigv4" {
		creds, _ := parseCredentials(c.Credentials)
		m.mon.cloudwatch.Verifier = sigv4.New(creds, c.Region)
		m.mon.cloudwatch.Verifier.Service = "monitoring"
		m.mon.logs.Verifier = sigv4.New(creds, c.Region)
		m.mon.logs.Verifier.Service = "logs"
	}
	m.mon.prom = promhttp.HandlerFor(m.mon.registry, promhttp.HandlerOpts{ErrorLog: nil})
	switch {
	case c.Monitoring.MetricsAddr != "":
		ln, err := net.Listen("tcp", c.Monitoring.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen for /metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.mon.prom)
		m.mon.promLn = ln
		m.mon.promSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
		go m.mon.promSrv.Serve(ln)
	case c.Auth == "sigv4":
		// Prometheus does not sign its scrapes: /metrics needs a listener
		// of its own (a private address) when the API requires SigV4.
		m.Logger.Warn("Prometheus /metrics is not served: with --auth sigv4 give it a private address with --metrics-addr")
	default:
		m.mon.promOnMain = true
	}
	return nil
}

// MetricsURL returns the URL of Prometheus's /metrics, "" if not served.
func (m *Main) MetricsURL() string {
	switch {
	case m.mon.promLn != nil:
		return "http://" + m.mon.promLn.Addr().String() + "/metrics"
	case m.mon.promOnMain:
		return m.URL() + "/metrics"
	}
	return ""
}

// handler routes a request on the API address by its shape: Prometheus
// /metrics, CloudWatch (X-Amz-Target GraniteServiceVersion20100801.*,
// /service/GraniteServiceVersion20100801/operation/*, query Action=...),
// CloudWatch Logs (X-Amz-Target Logs_20140328.*), else the
// kinesisanalyticsv2 API and its extensions. Every request is counted.
func (m *Main) handler() http.Handler {
	ops := map[string]bool{}
	for _, op := range m.Server.Operations() {
		ops[op] = true
	}
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metrics" && m.mon.promOnMain && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			m.mon.prom.ServeHTTP(w, r)
		case cloudwatch.Matches(r):
			m.mon.cloudwatch.ServeHTTP(w, r)
		case cwlogs.Matches(r):
			m.mon.logs.ServeHTTP(w, r)
		default:
			m.Server.ServeHTTP(w, r)
		}
	})
	classify := func(r *http.Request) (string, string) {
		if r.URL.Path == "/metrics" {
			return "", ""
		}
		if api, op := cloudwatch.Classify(r); api != "" {
			return api, op
		}
		if api, op := cwlogs.Classify(r); api != "" {
			return api, op
		}
		if strings.HasPrefix(r.URL.Path, client.ExtensionPrefix) {
			return "flinkplane", "extension"
		}
		op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), awsapi.TargetPrefix)
		if !ok || !ops[op] {
			op = "unknown"
		}
		return "kinesisanalyticsv2", op
	}
	return m.mon.cp.InstrumentHandler(route, classify)
}

// closeMonitoring stops the loops and the /metrics listener.
func (m *Main) closeMonitoring() error {
	var errs []error
	if m.mon.promSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, m.mon.promSrv.Shutdown(ctx))
		cancel()
		m.mon.promSrv, m.mon.promLn = nil, nil
	}
	if m.mon.shipper != nil {
		errs = append(errs, m.mon.shipper.Close())
		m.mon.shipper = nil
	}
	if m.mon.collector != nil {
		errs = append(errs, m.mon.collector.Close())
		m.mon.collector = nil
	}
	return errors.Join(errs...)
}
