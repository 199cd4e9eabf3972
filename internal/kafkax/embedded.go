package kafkax

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka-protocol broker (franz-go's kfake) with
// one node, keeping topics and committed offsets in a directory so that they
// survive a restart. It lets `sharelog run` work on a machine with no Kafka.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// StartEmbedded starts the broker on cfg.Addr with its data in dir. Topics
// it auto-creates get partitions partitions.
func StartEmbedded(cfg EmbeddedConfig, dir string, partitions int) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: addr %q: port is not a number", cfg.Addr)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded broker: data dir: %w", err)
	}
	listen := func(network, _ string) (net.Listener, error) {
		return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(listen),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.DefaultNumPartitions(partitions),
		kfake.ClusterID("sharelog-embedded"),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", cfg.Addr, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, fmt.Errorf("embedded broker on %s: no listener", cfg.Addr)
	}
	return &Embedded{cluster: c, addr: addrs[0]}, nil
}

// Addr is the broker's host:port, to use as the bootstrap address.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker, flushing its data to disk.
func (e *Embedded) Close() { e.cluster.Close() }
