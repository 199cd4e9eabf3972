// Package tlsconf is sharelog's one TLS client configuration: the `tls:`
// section of Kafka and of every sink that speaks TLS (Elasticsearch,
// Splunk, syslog; the email sink's keys are inline in its smtp section) is
// a Config, with the same keys and the same meaning.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config is how a client checks the server's certificate and which
// certificate it shows. The zero Config is TLS 1.2 or later, checked
// against the system roots, with no client certificate.
//
// CAFile replaces the system roots, it does not add to them. A ca_file
// names the authority that signs this one server (a company CA, a
// self-signed collector); trusting every public CA beside it would let
// anyone with a public certificate for the server's name pass, which is
// what setting a private CA means to exclude. It is also what Kafka's own
// clients (ssl.truststore), curl --cacert and most clients do. To trust the
// system roots as well, put them into the file (cat
// /etc/ssl/certs/ca-certificates.crt private-ca.pem > ca.pem).
type Config struct {
	// CAFile is a PEM file of the certificates of the authorities that
	// sign the server's certificate, trusted instead of the system roots;
	// empty: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate and its private key
	// (PEM), for servers that authenticate their clients (mutual TLS).
	// They are read at each handshake, so that a renewed certificate is
	// used without a restart. The key file is a secret: keep it readable
	// by sharelog alone.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked in the server's certificate (and sent
	// as SNI); empty: the host the client connects to.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate. For tests only: anyone on
	// the path can then read and change what is sent.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// MinVersion is the oldest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
}

// IsZero reports whether c leaves every field unset.
func (c Config) IsZero() bool { return c == Config{} }

// Validate reports every wrong field, each error naming it relative to the
// section ("cert_file: …"; the caller puts the section's path before it,
// with cfgerr.Prefix). It does not read the files: ClientConfig does.
func (c Config) Validate() error {
	var errs []error
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("cert_file: cert_file and key_file go together"))
	}
	if c.CAFile != "" && c.InsecureSkipVerify {
		errs = append(errs, errors.New("insecure_skip_verify: set ca_file or insecure_skip_verify, not both"))
	}
	switch c.MinVersion {
	case "", "1.2", "1.3":
	default:
		errs = append(errs, fmt.Errorf("min_version: %q is not one of 1.2, 1.3", c.MinVersion))
	}
	return errors.Join(errs...)
}

// ClientConfig returns the client's *tls.Config. It reads the CA file and
// checks that the client certificate loads, so that a missing or bad file
// fails at start; an error names the field ("ca_file: …"). It does not
// call Validate.
func (c Config) ClientConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			return nil, fmt.Errorf("cert_file: %w", err)
		}
		certFile, keyFile := c.CertFile, c.KeyFile
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			return &cert, nil
		}
	}
	return tc, nil
}
