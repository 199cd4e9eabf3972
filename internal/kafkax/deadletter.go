package kafkax

import (
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Header names on the messages sharelog produces.
const (
	HeaderSchema          = "sharelog-schema"           // enriched: schema version
	HeaderError           = "sharelog-error"            // dlq: why the event was refused
	HeaderStage           = "sharelog-stage"            // dlq: which role refused it (enrich, sink:NAME)
	HeaderSourceTopic     = "sharelog-source-topic"     // dlq: where it came from
	HeaderSourcePartition = "sharelog-source-partition" // dlq
	HeaderSourceOffset    = "sharelog-source-offset"    // dlq
)

// DeadLetter returns the dead-letter message for m: its key and value
// unchanged, on topic, with the reason, the stage that refused it and its
// source topic, partition and offset in headers.
func DeadLetter(topic, stage string, m *kafka.Message, reason error) kafka.Message {
	msg := reason.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	return kafka.Message{
		Topic: topic,
		Key:   m.Key,
		Value: m.Value,
		Headers: []kafka.Header{
			{Key: HeaderError, Value: []byte(msg)},
			{Key: HeaderStage, Value: []byte(stage)},
			{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
			{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(m.Partition))},
			{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
		},
	}
}
