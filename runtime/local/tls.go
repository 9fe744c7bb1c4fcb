package local

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
)

// Flink's REST endpoint is not a back door: every cluster serves its REST
// API (and the Web UI) over TLS with client authentication
// (security.ssl.rest.enabled, security.ssl.rest.authentication-enabled; the
// same keys in Flink 1.20 and 2.2). The driver makes a key pair and a
// self-signed certificate per cluster (ECDSA P-256, for 127.0.0.1 and
// localhost, valid ten years), kept in <cluster>/tls with 0600 permissions:
//
//	keystore.p12    the key and certificate, for Flink (PKCS#12)
//	truststore.p12  the certificate, the one client Flink accepts (PKCS#12)
//	rest.pem        the certificate and key, for flinkplane's REST client
//	password        the stores' password (also in conf/config.yaml, 0600)
//
// The certificate is both the server's and the only trusted client's: a
// process without the key can neither read nor change anything over REST.
// web.submit.enable stays on because flinkplane submits jobs over REST (jar
// upload and run: Flink registers those handlers only with it on);
// web.cancel.enable is off: in Flink it only shows the Web UI's cancel
// button (the REST cancel flinkplane uses is registered regardless). The
// dashboard users see is flinkplane's read-only proxy (package dashboard).

const tlsDirName = "tls"

// restTLS writes a new key pair and certificate for a cluster into
// dir/tls and returns the password of its stores.
func newRESTTLS(dir, clusterID string) (password string, err error) {
	tdir := filepath.Join(dir, tlsDirName)
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "flinkplane cluster " + clusterID, Organization: []string{"flinkplane"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", err
	}
	var pw [24]byte
	rand.Read(pw[:])
	password = hex.EncodeToString(pw[:])
	ks, err := pkcs12.Modern.Encode(key, cert, nil, password)
	if err != nil {
		return "", fmt.Errorf("keystore: %w", err)
	}
	ts, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{cert}, password)
	if err != nil {
		return "", fmt.Errorf("truststore: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	for name, data := range map[string][]byte{"keystore.p12": ks, "truststore.p12": ts, "rest.pem": pemData, "password": []byte(password)} {
		if err := os.WriteFile(filepath.Join(tdir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return password, nil
}

// restSecurityConfig sets the Flink configuration of mutual TLS on the
// REST endpoint (the one block of configuration this file owns).
func restSecurityConfig(c map[string]string, dir, password string) {
	tdir := filepath.Join(dir, tlsDirName)
	for k, v := range map[string]string{
		"security.ssl.rest.enabled":                "true",
		"security.ssl.rest.authentication-enabled": "true",
		"security.ssl.rest.keystore":               filepath.Join(tdir, "keystore.p12"),
		"security.ssl.rest.keystore-type":          "PKCS12",
		"security.ssl.rest.keystore-password":      password,
		"security.ssl.rest.key-password":           password,
		"security.ssl.rest.truststore":             filepath.Join(tdir, "truststore.p12"),
		"security.ssl.rest.truststore-type":        "PKCS12",
		"security.ssl.rest.truststore-password":    password,
		// Flink's default suite (TLS_RSA_WITH_AES_128_CBC_SHA) needs an
		// RSA key and is refused by Go: ECDHE with the ECDSA key.
		"security.ssl.protocol":   "TLSv1.2",
		"security.ssl.algorithms": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"web.submit.enable":       "true",
		"web.cancel.enable":       "false",
	} {
		c[k] = v
	}
}

// RESTTransport returns the HTTP transport that reaches a cluster's REST
// endpoint: mutual TLS with the cluster's certificate for an https
// endpoint, plain HTTP for a cluster started without TLS.
func (d *Driver) RESTTransport(h flinkplane.ClusterHandle) (http.RoundTripper, error) {
	if !strings.HasPrefix(h.RESTURL, "https://") {
		return http.DefaultTransport, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.transports[h.ID]; ok {
		return t, nil
	}
	cfg, err := clientTLS(h.Dir)
	if err != nil {
		return nil, err
	}
	t := &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second, ForceAttemptHTTP2: false}
	if d.transports == nil {
		d.transports = map[string]*http.Transport{}
	}
	d.transports[h.ID] = t
	return t, nil
}

// dropTransport forgets a stopped cluster's transport.
func (d *Driver) dropTransport(id string) {
	d.mu.Lock()
	t := d.transports[id]
	delete(d.transports, id)
	d.mu.Unlock()
	if t != nil {
		t.CloseIdleConnections()
	}
}

// clientTLS is the TLS configuration of flinkplane's REST client of the
// cluster in dir: its certificate as client identity and as the one
// trusted server certificate.
func clientTLS(dir string) (*tls.Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, tlsDirName, "rest.pem"))
	if err != nil {
		return nil, fmt.Errorf("cluster TLS key: %w", err)
	}
	kp, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, fmt.Errorf("cluster TLS key: %w", err)
	}
	if len(kp.Certificate) == 0 {
		return nil, errors.New("cluster TLS key: no certificate")
	}
	cert, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// RESTClient returns a client of the cluster's REST API (mutual TLS).
func (d *Driver) RESTClient(h flinkplane.ClusterHandle, timeout time.Duration) (*flinkrest.Client, error) {
	t, err := d.RESTTransport(h)
	if err != nil {
		return nil, err
	}
	c := flinkrest.New(h.RESTURL)
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	c.HTTP = &http.Client{Transport: t, Timeout: timeout}
	return c, nil
}
