package kafkax

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"

	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

// TLSConfig configures TLS toward the brokers: Enabled, and sharelog's one
// TLS client configuration beside it (ca_file, the PEM certificates that
// sign the brokers' certificates, trusted instead of the system roots, as
// a Java client's ssl.truststore; cert_file and key_file for mutual TLS;
// server_name; insecure_skip_verify, tests only; min_version).
type TLSConfig struct {
	Enabled        bool `yaml:"enabled"`
	tlsconf.Config `yaml:",inline"`
}

// SASLConfig configures SASL authentication toward the brokers.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: none.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password; prefer PasswordFile or SHARELOG_KAFKA_SASL_PASSWORD.
	Password     string `yaml:"password" secret:"true"`
	PasswordFile string `yaml:"password_file"`
}

func (c TLSConfig) validate() []error {
	var errs []error
	if !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "") {
		errs = append(errs, errors.New("tls.enabled: files are given but TLS is not enabled"))
	}
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("tls", err))
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

// build makes the *tls.Config, nil when TLS is off.
func (c TLSConfig) build() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	cfg, err := c.ClientConfig()
	if err != nil {
		return nil, cfgerr.Prefix("kafka.tls", err)
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
	mech, err := SASLMechanism(c.Mechanism, c.Username, password)
	if err != nil {
		return nil, fmt.Errorf("kafka.sasl.mechanism: %w", err)
	}
	return mech, nil
}
