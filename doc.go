// Package flinkplane holds the domain of a self-hosted managed service for
// Apache Flink that speaks the Amazon Managed Service for Apache Flink API
// (kinesisanalyticsv2): applications, their immutable versions, snapshots,
// durable step-recorded operations, the error codes, and the small interfaces
// that adapters implement (the store, the cluster driver, the code store, the
// compatibility checker).
//
// This package imports only the standard library. Adapters live in
// sub-packages named for their dependency: sqlite/, awsapi/, flinkrest/,
// runtime/, runtime/local/, codestore/, compat/.
package flinkplane
