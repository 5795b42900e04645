// Command largemem measures the memory a sesq worker takes for large
// messages (issue 15): it stores envelopes of a raw message of -size bytes
// in fauxqs's S3, enqueues the SQS Extended Client's pointers to them, runs
// `sesq run` (32 senders) against an SES v1 stub that reads and discards
// each request, and reports the worker's peak resident set (VmHWM) for each
// SESQ_PAYLOAD_FETCHES given.
//
//	go run ./internal/benchtools/largemem -sesq bin/sesq
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/payload"
)

func main() {
	bin := flag.String("sesq", "bin/sesq", "the sesq binary")
	n := flag.Int("n", 32, "envelopes")
	size := flag.Int("size", 8_000_000, "bytes of each raw message (SES v1: 10 MB at most; fauxqs takes a PutObject of 11 MiB at most, so 8 MB: 10.7 MB of JSON)")
	fetches := flag.String("fetches", "4,32", "SESQ_PAYLOAD_FETCHES values, one run each")
	gc := flag.String("gc", "", "GOGC and GOMEMLIMIT for the worker as GOGC,GOMEMLIMIT (e.g. 100,off: the heap the messages need, not the limit sesq sets)")
	flag.Parse()
	var extra []string
	if g, l, ok := strings.Cut(*gc, ","); ok {
		extra = []string{"GOGC=" + g, "GOMEMLIMIT=" + l}
	}
	for _, f := range strings.Split(*fetches, ",") {
		if err := run(*bin, *n, *size, f, extra); err != nil {
			fmt.Fprintln(os.Stderr, "largemem:", err)
			os.Exit(1)
		}
	}
}

func run(bin string, n, size int, fetches string, extra []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := emulator.Dir()
	if err != nil {
		return err
	}
	var emuLog bytes.Buffer
	fq, err := emulator.StartFauxqs(ctx, dir, &emuLog)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, emuLog.String())
	}
	defer fq.Stop()
	stub, accepted, err := startStub()
	if err != nil {
		return err
	}
	defer stub.Close()

	creds := credentials.NewStaticCredentialsProvider("bench", "bench", "")
	sq := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(fq.URL), Credentials: creds, HTTPClient: awsclient.HTTPClient(0)})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(fq.URL), Credentials: creds, UsePathStyle: true, DisableLogOutputChecksumValidationSkipped: true, HTTPClient: awsclient.HTTPClient(0)})
	const bucket = "sesq-bench-payloads"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	dlq, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("large-dlq")})
	if err != nil {
		return err
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("large")})
	if err != nil {
		return err
	}
	store := &payload.Store{Client: s3c, Buckets: []string{bucket}}
	body := envelope(size)
	for i := range n {
		b := bytes.Replace(body, []byte(`"id":"large"`), []byte(`"id":"large-`+strconv.Itoa(i)+`"`), 1)
		p, err := store.Put(ctx, bucket, b)
		if err != nil {
			return err
		}
		if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(p.Body()),
			MessageAttributes: map[string]types.MessageAttributeValue{payload.AttrSize: payload.SizeAttr(len(b))}}); err != nil {
			return err
		}
	}

	logPath := filepath.Join(os.TempDir(), "sesq-largemem-"+fetches+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	w := exec.Command(bin, "run")
	w.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL_SQS=" + fq.URL, "AWS_ENDPOINT_URL_S3=" + fq.URL, "AWS_ENDPOINT_URL_SES=" + stub.Addr,
		"SESQ_QUEUE_URL=" + aws.ToString(q.QueueUrl), "SESQ_DLQ_URL=" + aws.ToString(dlq.QueueUrl),
		"SESQ_PAYLOAD_BUCKETS=" + bucket, "SESQ_PAYLOAD_FETCHES=" + fetches, "SESQ_CONCURRENCY=32",
		"SESQ_SEND_RATE=1000", "SESQ_HTTP_ADDR=", "SESQ_WAIT_TIME=1s",
	}
	w.Env = append(w.Env, extra...)
	w.Stdout, w.Stderr = logf, logf
	start := time.Now()
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Process.Kill()
	for accepted.Load() < int64(n) {
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d sent before the timeout (log: %s)", accepted.Load(), n, logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	hwm := peakRSS(w.Process.Pid)
	w.Process.Signal(os.Interrupt)
	w.Wait()
	fmt.Printf("%sSESQ_PAYLOAD_FETCHES=%s: %d envelopes of a %.1f MB raw message (%.1f MB of JSON each) sent in %.1f s with 32 senders; worker peak RSS %.0f MiB\n",
		strings.Join(append(extra, ""), " "), fetches, n, float64(size)/1e6, float64(len(body))/1e6, took.Seconds(), float64(hwm)/(1<<20))
	return nil
}

// envelope is a SendRawEmail envelope with a raw message of size bytes.
func envelope(size int) []byte {
	arn := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	head := "From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: large\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	raw := make([]byte, 0, size)
	raw = append(raw, head...)
	line := []byte(strings.Repeat("QUJD", 19) + "\r\n")
	for len(raw)+len(line) <= size {
		raw = append(raw, line...)
	}
	b, _ := json.Marshal(map[string]any{"version": 1, "id": "large", "action": "SendRawEmail", "sourceArn": arn, "raw": base64.StdEncoding.EncodeToString(raw)})
	return b
}

// startStub answers every SES v1 call as accepted after reading the whole
// request, and counts SendRawEmail calls.
func startStub() (*http.Server, *atomic.Int64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	var n atomic.Int64
	srv := &http.Server{Addr: "http://" + ln.Addr().String(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := make([]byte, 64)
		k, _ := io.ReadFull(r.Body, head)
		io.Copy(io.Discard, r.Body)
		action := "SendRawEmail"
		if !bytes.Contains(head[:k], []byte("Action=SendRawEmail")) {
			action = "GetSendQuota"
		} else {
			n.Add(1)
		}
		w.Header().Set("Content-Type", "text/xml")
		result := "<MessageId>m</MessageId>"
		if action == "GetSendQuota" {
			result = "<Max24HourSend>1000000</Max24HourSend><MaxSendRate>1000</MaxSendRate><SentLast24Hours>0</SentLast24Hours>"
		}
		fmt.Fprintf(w, `<%sResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></%sResponse>`,
			action, action, result, action, action)
	})}
	go srv.Serve(ln)
	return srv, &n, nil
}

// peakRSS is the process's VmHWM in bytes (Linux).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}
