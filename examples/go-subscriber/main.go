// Command go-subscriber reads recordflow's archived records from Kafka without any of recordflow's
// Python: franz-go for Kafka, its sr package for the schema registry, hamba/avro for Avro.
//
// It shows the promise the topics make to a portal team in another language: every message of
// records.archival-ready.v1 is in the Confluent wire format (byte 0, a 4-byte big-endian schema
// id, the Avro body), and the registry's Confluent-compatible API serves the writer schema for
// that id, self-contained. Nothing else is needed to read a record.
//
// It prints each record's 档号 (reference_code) and 题名 (description.title), tab-separated, or
// with -json one JSON object a line. It stops after -max records, or when nothing new has come
// for -idle. Any error is one line on stderr and exit status 1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
)

// How long the start-up checks may take: Kafka's client and the registry's retry on their own,
// and a wrong address should be reported, not waited on for ever.
const checkTimeout = 15 * time.Second

type options struct {
	brokers  string
	registry string
	topic    string
	group    string
	max      int
	idle     time.Duration
	json     bool
}

// archivalRecord holds the two fields we print. hamba/avro skips the schema's other fields, so
// later schema versions that add fields are read the same way.
type archivalRecord struct {
	ReferenceCode string `avro:"reference_code"`
	Description   struct {
		Title string `avro:"title"`
	} `avro:"description"`
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", "127.0.0.1:19092", "Kafka bootstrap servers, comma-separated")
	flag.StringVar(&o.registry, "registry", "http://127.0.0.1:18081/apis/ccompat/v7", "schema registry, Confluent-compatible API")
	flag.StringVar(&o.topic, "topic", "records.archival-ready.v1", "topic of archived records")
	flag.StringVar(&o.group, "group", "", "consumer group: commit what was printed, so a rerun goes on from there (default: none, read from the start)")
	flag.IntVar(&o.max, "max", 0, "stop after this many records (0: no limit)")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "stop when nothing new has arrived for this long")
	flag.BoolVar(&o.json, "json", false, `print {"reference_code", "title", "partition", "offset"} a line`)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "go-subscriber: %s\n", oneLine(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", flag.Arg(0))
	}
	if o.idle <= 0 || o.max < 0 || o.topic == "" {
		return errors.New("-idle must be positive, -max not negative, -topic not empty")
	}

	registry, err := sr.NewClient(sr.URLs(o.registry))
	if err != nil {
		return fmt.Errorf("schema registry %s: %w", o.registry, err)
	}
	// Asked now so that a wrong -registry is reported at once, not at the first record.
	check, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if _, err := registry.SupportedTypes(check); err != nil {
		return fmt.Errorf("schema registry %s: %w", o.registry, registryError(err))
	}

	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(o.brokers, ",")...),
		kgo.ConsumeTopics(o.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// A record whose publishing transaction was aborted was never archived: skip it.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}
	if o.group != "" {
		// Commit only what was printed: -max may stop in the middle of a fetched batch.
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.AutoCommitMarks())
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka %s: %w", o.brokers, err)
	}
	defer client.Close()
	// A missing topic (a typo, another prefix) would otherwise just look like an empty one.
	if err := topicExists(check, client, o.topic); err != nil {
		return fmt.Errorf("kafka %s: %w", o.brokers, err)
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	decoder := &decoder{registry: registry, schemas: map[int]avro.Schema{}}
	for printed := 0; o.max == 0 || printed < o.max; {
		poll, cancel := context.WithTimeout(ctx, o.idle)
		fetches := client.PollRecords(poll, o.max-printed) // 0 or less: no limit
		cancel()
		idle := false
		for _, fetchErr := range fetches.Errors() {
			switch {
			case errors.Is(fetchErr.Err, context.DeadlineExceeded):
				idle = true
			case errors.Is(fetchErr.Err, context.Canceled): // interrupted: stop as if idle
				idle = true
			default:
				return fmt.Errorf("reading %s partition %d: %w", fetchErr.Topic, fetchErr.Partition, fetchErr.Err)
			}
		}
		for _, record := range fetches.Records() {
			if record.Value == nil {
				continue // a tombstone carries no record
			}
			value, err := decoder.decode(ctx, record.Value)
			if err != nil {
				return fmt.Errorf("%s partition %d offset %d: %w", record.Topic, record.Partition, record.Offset, err)
			}
			if err := printRecord(out, o.json, value, record); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			client.MarkCommitRecords(record) // a no-op without a group
			printed++
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		if idle && fetches.NumRecords() == 0 || fetches.IsClientClosed() {
			break
		}
	}
	if o.group != "" {
		commit, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		if err := client.CommitMarkedOffsets(commit); err != nil {
			return fmt.Errorf("committing offsets of group %s: %w", o.group, err)
		}
	}
	return nil
}

// topicExists asks the brokers for the topic's metadata, without creating it.
func topicExists(ctx context.Context, client *kgo.Client, topic string) error {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	requested := kmsg.NewMetadataRequestTopic()
	requested.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, requested)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("metadata for topic %s: %d topics in the answer", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %s does not exist", topic)
		}
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	return nil
}

// registryError shortens what sr reports: its message repeats the URL of a failed request, and
// a 404 from a server that is not the Confluent-compatible API is a page of JSON.
func registryError(err error) error {
	var failed *url.Error
	if errors.As(err, &failed) {
		return failed.Err
	}
	var answer *sr.ResponseError
	if errors.As(err, &answer) && answer.Message == "" {
		return fmt.Errorf("%s %s answered HTTP %d (is it the Confluent-compatible API, .../apis/ccompat/v7?)",
			answer.Method, answer.URL, answer.StatusCode)
	}
	return err
}

// decoder reads the Confluent wire format, fetching each writer schema once by its id.
type decoder struct {
	registry *sr.Client
	schemas  map[int]avro.Schema
}

func (d *decoder) decode(ctx context.Context, value []byte) (archivalRecord, error) {
	var record archivalRecord
	var header sr.ConfluentHeader
	id, body, err := header.DecodeID(value)
	if err != nil {
		return record, fmt.Errorf("not the Confluent wire format: %w", err)
	}
	schema, ok := d.schemas[id]
	if !ok {
		registered, err := d.registry.SchemaByID(ctx, id)
		if err != nil {
			return record, fmt.Errorf("schema %d from the registry: %w", id, registryError(err))
		}
		if registered.Type != sr.TypeAvro {
			return record, fmt.Errorf("schema %d is %s, not Avro", id, registered.Type)
		}
		// A cache of its own per schema: two versions of the same named record must not see
		// each other's definitions (hamba/avro's default cache is keyed by full name).
		schema, err = avro.ParseWithCache(registered.Schema, "", &avro.SchemaCache{})
		if err != nil {
			return record, fmt.Errorf("schema %d does not parse as Avro: %w", id, err)
		}
		d.schemas[id] = schema
	}
	if err := avro.Unmarshal(schema, body, &record); err != nil {
		return record, fmt.Errorf("Avro body does not decode with schema %d: %w", id, err)
	}
	return record, nil
}

func printRecord(out io.Writer, asJSON bool, value archivalRecord, record *kgo.Record) error {
	if !asJSON {
		_, err := fmt.Fprintf(out, "%s\t%s\n", value.ReferenceCode, value.Description.Title)
		return err
	}
	line := struct {
		ReferenceCode string `json:"reference_code"`
		Title         string `json:"title"`
		Partition     int32  `json:"partition"`
		Offset        int64  `json:"offset"`
	}{value.ReferenceCode, value.Description.Title, record.Partition, record.Offset}
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false) // keep a title's < > & as they are
	return encoder.Encode(line)
}

// oneLine keeps an error message to one line: a registry's or broker's message may hold newlines.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
