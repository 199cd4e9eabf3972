package kafkax

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TLSConfig configures TLS toward the brokers.
type TLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile holds the PEM certificates that sign the brokers' certificates;
	// empty: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns certificate checks off (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASLConfig configures SASL authentication toward the brokers.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: none.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password; prefer PasswordFile or SHARELOG_KAFKA_SASL_PASSWORD.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

func (c TLSConfig) validate() []error {
	var errs []error
	if !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "") {
		errs = append(errs, errors.New("tls.enabled: files are given but TLS is not enabled"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("tls.cert_file: cert_file and key_file go together"))
	}
	return errs
}

func (c SASLConfig) validate() []error {
	var errs []error
	switch strings.ToUpper(c.Mechanism) {
	case "":
		if c.Username != "" || c.Password != "" || c.PasswordFile != "" {
			errs = append(errs, errors.New("sasl.mechanism: credentials are given but no mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"))
		}
		return errs
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		errs = append(errs, fmt.Errorf("sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Mechanism))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("sasl.username: is required with a mechanism"))
	}
	if (c.Password == "") == (c.PasswordFile == "") {
		errs = append(errs, errors.New("sasl.password: give exactly one of password and password_file"))
	}
	return errs
}

// tlsConfig builds the *tls.Config, nil when TLS is off.
func (c TLSConfig) build() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// mechanism builds the SASL mechanism, nil when SASL is off. Errors never
// include the password.
func (c SASLConfig) build() (sasl.Mechanism, error) {
	if c.Mechanism == "" {
		return nil, nil
	}
	password := c.Password
	if c.PasswordFile != "" {
		data, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		password = strings.TrimRight(string(data), "\r\n")
	}
	switch strings.ToUpper(c.Mechanism) {
	case "PLAIN":
		return plain.Mechanism{Username: c.Username, Password: password}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, c.Username, password)
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, c.Username, password)
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not supported", c.Mechanism)
}
