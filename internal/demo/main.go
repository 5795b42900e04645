// Command demo is `make demo`: it starts the local emulators (fauxqs and
// aws-ses-v2-local), creates queues with `sesq queues create`, runs `sesq run`,
// enqueues the SES guide's examples and one envelope that must be
// dead-lettered with `sesq enqueue`, shows where each one landed and stops
// everything. With -transport api-v2 (`make demo-v2`) the worker sends with
// the SES v2 API, and a templated envelope and one with an SES tenant come
// too.
//
//	go run ./internal/demo -sesq bin/sesq [-transport api-v2]
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sesv2types "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
)

func main() {
	bin := flag.String("sesq", "bin/sesq", "the sesq binary")
	keep := flag.Bool("keep", false, "keep the stack running until Ctrl-C, with its settings in .demo.env")
	httpAddr := flag.String("http", "127.0.0.1:9090", "the worker's SESQ_HTTP_ADDR")
	tr := flag.String("transport", "api", "SESQ_TRANSPORT: api (SES v1 API) or api-v2 (SES v2 API)")
	flag.Parse()
	if *tr != "api" && *tr != "api-v2" {
		fmt.Fprintln(os.Stderr, "demo: -transport must be api or api-v2")
		os.Exit(2)
	}
	if err := run(*bin, *keep, *httpAddr, *tr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(bin string, keep bool, httpAddr, transport string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := emulator.Dir()
	if err != nil {
		return err
	}
	var emuLog bytes.Buffer
	step("starting the emulators (fauxqs for SQS, aws-ses-v2-local for SES)")
	fauxqs, err := emulator.StartFauxqs(ctx, dir, &emuLog)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, emuLog.String())
	}
	defer fauxqs.Stop()
	sesLocal, err := emulator.StartSESLocal(ctx, dir, &emuLog)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, emuLog.String())
	}
	defer sesLocal.Stop()
	fmt.Printf("    SQS: %s   SES: %s (mail viewer: %s, JSON: %s/store)\n", fauxqs.URL, sesLocal.URL, sesLocal.URL, sesLocal.URL)

	stackEnv := []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=demo", "AWS_SECRET_ACCESS_KEY=demo", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SQS=" + fauxqs.URL, "AWS_ENDPOINT_URL_SES=" + sesLocal.URL, "AWS_ENDPOINT_URL_SESV2=" + sesLocal.URL,
		"AWS_ENDPOINT_URL_S3=" + fauxqs.URL,
		"SESQ_TRANSPORT=" + transport, "SESQ_PAYLOAD_BUCKET=" + payloadBucket, "SESQ_PAYLOAD_BUCKETS=" + payloadBucket,
	}
	step("creating the S3 bucket %s for envelopes too large for a message (fauxqs serves S3 too)", payloadBucket)
	s3c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(fauxqs.URL), UsePathStyle: true, DisableLogOutputChecksumValidationSkipped: true,
		Credentials: credentials.NewStaticCredentialsProvider("demo", "demo", ""), HTTPClient: awsclient.HTTPClient(0),
	})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(payloadBucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", payloadBucket, err)
	}
	v2 := transport == "api-v2"
	if v2 {
		step("creating the SES template demo-receipt (SES v2 CreateEmailTemplate on aws-ses-v2-local)")
		if err := createTemplate(ctx, sesLocal.URL); err != nil {
			return err
		}
	}
	env := append(os.Environ(), stackEnv...)

	step("sesq queues create demo")
	out, err := sesqCmd(bin, env, "", "queues", "create", "demo").Output()
	if err != nil {
		return fmt.Errorf("queues create: %w", err)
	}
	fmt.Print(indent(string(out)))
	vars := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		l = strings.TrimPrefix(l, "export ")
		k, v, _ := strings.Cut(l, "=")
		vars[k] = v
		env = append(env, l)
		stackEnv = append(stackEnv, l)
	}
	// aws-ses-v2-local has no GetSendQuota: give the rate (the SES sandbox's 14/s).
	env = append(env, "SESQ_WAIT_TIME=2s", "SESQ_SEND_RATE=14", "SESQ_ALLOWED_IDENTITIES=arn:aws:ses:*:123456789012:identity/example.com", "SESQ_HTTP_ADDR="+httpAddr)

	step("sesq run   (SESQ_TRANSPORT=%s, SESQ_ALLOWED_IDENTITIES=arn:aws:ses:*:123456789012:identity/example.com; logs in JSON below)", transport)
	worker := sesqCmd(bin, env, "", "run")
	worker.Stdout, worker.Stderr = os.Stdout, os.Stdout
	if err := worker.Start(); err != nil {
		return err
	}
	stopWorker := func() error {
		worker.Process.Signal(syscall.SIGTERM)
		return worker.Wait()
	}
	defer func() {
		if worker.ProcessState == nil {
			stopWorker()
		}
	}()

	envelopes, err := demoEnvelopes(filepath.Dir(dir), v2)
	if err != nil {
		return err
	}
	var lines []string
	for _, e := range envelopes {
		lines = append(lines, e.body)
	}
	step("sesq enqueue   (%d envelopes, one JSON line each)", len(envelopes))
	for _, e := range envelopes {
		fmt.Printf("    %-22s %s\n", e.id, e.what)
	}
	enq := sesqCmd(bin, env, strings.Join(lines, "\n")+"\n", "enqueue")
	enq.Stdout, enq.Stderr = os.Stdout, os.Stderr
	if err := enq.Run(); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}

	client := sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(fauxqs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("demo", "demo", ""),
		HTTPClient:  awsclient.HTTPClient(0),
	})
	store := func() []storedMail { return readStore(sesLocal.URL) }
	deadline := time.Now().Add(30 * time.Second)
	var dead []deadLetter
	seen := map[string]bool{}
	for {
		for _, d := range receiveDead(ctx, client, vars["SESQ_DLQ_URL"]) {
			if !seen[d.id] {
				seen[d.id] = true
				dead = append(dead, d)
			}
		}
		if len(store())+len(dead) >= len(envelopes) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let the worker log its last lines

	step("where each envelope landed")
	mails := store()
	for _, e := range envelopes {
		where := "NOT FOUND (still queued?)"
		for _, m := range mails {
			if m.Subject == e.subject {
				where = fmt.Sprintf("sent: in aws-ses-v2-local's store, from %s to %s, subject %q", m.From, strings.Join(m.Destination.To, ","), m.Subject)
			}
		}
		for _, d := range dead {
			if d.body == e.body {
				where = fmt.Sprintf("dead-letter queue: %s=%s %s=%s %s=%q", deadletter.AttrReason, d.attrs[deadletter.AttrReason],
					deadletter.AttrErrorCode, d.attrs[deadletter.AttrErrorCode], deadletter.AttrError, d.attrs[deadletter.AttrError])
			}
		}
		fmt.Printf("    %-22s %s\n", e.id, where)
	}

	n := countObjects(ctx, s3c)
	for wait := time.Now().Add(5 * time.Second); n > 0 && time.Now().Before(wait); n = countObjects(ctx, s3c) {
		time.Sleep(100 * time.Millisecond) // deleted just after its message
	}
	if n >= 0 {
		fmt.Printf("    payloads left in s3://%s: %d (a payload is deleted once its message is sent)\n", payloadBucket, n)
	}

	step("sesq dlq inspect")
	insp := sesqCmd(bin, env, "", "dlq", "inspect")
	insp.Stdout, insp.Stderr = os.Stdout, os.Stderr
	if err := insp.Run(); err != nil {
		return fmt.Errorf("dlq inspect: %w", err)
	}

	if keep {
		var b strings.Builder
		for _, kv := range stackEnv {
			fmt.Fprintf(&b, "export %s\n", kv)
		}
		if err := os.WriteFile(".demo.env", []byte(b.String()), 0o644); err != nil {
			return err
		}
		step("the stack keeps running (Ctrl-C stops it). In another terminal:\n\n    source .demo.env\n    bin/sesq dlq inspect\n\n    mail viewer: %s   worker: http://%s/metrics", sesLocal.URL, httpAddr)
		<-ctx.Done()
		os.Remove(".demo.env")
	}
	step("stopping: SIGTERM to sesq run, then the emulators")
	if err := stopWorker(); err != nil {
		return fmt.Errorf("sesq run exited with %w", err)
	}
	fmt.Println("    sesq run exited 0")
	return nil
}

type demoEnvelope struct{ id, what, subject, body string }

// demoEnvelopes reads the demo's envelopes from envelope/testdata/examples
// (where the envelope tests and the schema check read them too), one JSON
// line each.
func demoEnvelopes(root string, v2 bool) ([]demoEnvelope, error) {
	list := []demoEnvelope{
		{id: "guide-raw-xheaders", what: "SendRawEmail, ARNs in X-SES-*-ARN headers (the SES guide's example)", subject: "subject"},
		{id: "guide-sendemail", what: "SendEmail with SourceArn and ReturnPathArn (the SES guide's example)", subject: "Amazon SES Test"},
		{id: "raw-arn-parameters", what: "SendRawEmail with SourceArn, FromArn, ReturnPathArn parameters", subject: "Raw message with ARN parameters"},
		{id: "not-allowed-identity", what: "SendEmail for an identity outside SESQ_ALLOWED_IDENTITIES: must be dead-lettered", subject: "Should never be sent"},
	}
	list = append(list, largeEnvelope())
	if v2 {
		list = append(list,
			demoEnvelope{id: "v2-templated", what: "SendTemplatedEmail with SourceArn (the template demo-receipt)", subject: "Your receipt 42"},
			demoEnvelope{id: "v2-tenant", what: "SendEmail under the SES tenant customer-42 (tenantName: SES v2 only)", subject: "Sent under the SES tenant customer-42"},
		)
	}
	for i, e := range list {
		if e.body != "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "envelope", "testdata", "examples", e.id+".json"))
		if err != nil {
			return nil, err
		}
		var line bytes.Buffer
		if err := json.Compact(&line, b); err != nil {
			return nil, fmt.Errorf("%s: %w", e.id, err)
		}
		list[i].body = line.String()
	}
	return list, nil
}

// payloadBucket holds the demo's envelopes too large for an SQS message.
const payloadBucket = "sesq-demo-payloads"

// largeEnvelope is a SendRawEmail envelope with a 2 MB attachment: over
// SQS's message size, so sesq enqueue stores it in S3 (SESQ_PAYLOAD_BUCKET)
// and enqueues the SQS Extended Client's pointer to it.
func largeEnvelope() demoEnvelope {
	const subject = "A 2 MB attachment, through S3"
	arn := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	var msg strings.Builder
	msg.WriteString("From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"part\"\r\n\r\n--part\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThe report is attached.\r\n" +
		"--part\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"report.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	data := make([]byte, 57)
	for i := 0; i < 2<<20/76; i++ {
		for j := range data {
			data[j] = byte(i + j)
		}
		msg.WriteString(base64.StdEncoding.EncodeToString(data) + "\r\n")
	}
	msg.WriteString("--part--\r\n")
	body, _ := json.Marshal(map[string]any{
		"version": 1, "id": "demo-large-attachment", "action": "SendRawEmail",
		"sourceArn": arn, "fromArn": arn, "returnPathArn": arn,
		"raw": base64.StdEncoding.EncodeToString([]byte(msg.String())),
	})
	return demoEnvelope{id: "large-attachment", what: "SendRawEmail with a 2 MB attachment: stored in S3, a pointer enqueued", subject: subject, body: string(body)}
}

// countObjects is how many objects the payload bucket holds; -1 when it
// cannot tell.
func countObjects(ctx context.Context, c *s3.Client) int {
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(payloadBucket)})
	if err != nil {
		return -1
	}
	return int(aws.ToInt32(out.KeyCount))
}

// createTemplate creates the demo's SES template in aws-ses-v2-local, with
// the SDK, as an identity owner's tooling would.
func createTemplate(ctx context.Context, url string) error {
	c := sesv2.New(sesv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("demo", "demo", ""),
		HTTPClient:  awsclient.HTTPClient(0),
	})
	_, err := c.CreateEmailTemplate(ctx, &sesv2.CreateEmailTemplateInput{
		TemplateName: aws.String("demo-receipt"),
		TemplateContent: &sesv2types.EmailTemplateContent{
			Subject: aws.String("Your receipt {{order}}"),
			Html:    aws.String("<p>Order {{order}} is paid.</p>"),
			Text:    aws.String("Order {{order}} is paid."),
		},
	})
	if err != nil {
		return fmt.Errorf("create the template: %w", err)
	}
	return nil
}

func sesqCmd(bin string, env []string, stdin string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Env = env
	c.Stdin = strings.NewReader(stdin)
	return c
}

type storedMail struct {
	From        string `json:"from"`
	Subject     string `json:"subject"`
	Destination struct {
		To []string `json:"to"`
	} `json:"destination"`
}

func readStore(url string) []storedMail {
	resp, err := http.Get(url + "/store")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var s struct {
		Emails []storedMail `json:"emails"`
	}
	json.NewDecoder(resp.Body).Decode(&s)
	return s.Emails
}

type deadLetter struct {
	id    string
	body  string
	attrs map[string]string
}

// receiveDead reads the dead-letter queue and makes what it read visible
// again at once, so that `sesq dlq inspect` sees it afterwards.
func receiveDead(ctx context.Context, c *sqs.Client, url string) []deadLetter {
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: []string{"All"}})
	if err != nil {
		return nil
	}
	var ds []deadLetter
	for _, m := range out.Messages {
		d := deadLetter{id: aws.ToString(m.MessageId), body: aws.ToString(m.Body), attrs: map[string]string{}}
		for k, v := range m.MessageAttributes {
			d.attrs[k] = aws.ToString(v.StringValue)
		}
		ds = append(ds, d)
		c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	}
	return ds
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
