// Package sessmtp sends envelopes through the Amazon SES SMTP interface
// (SESQ_TRANSPORT=smtp): the sending-authorization ARNs travel as
// X-SES-SOURCE-ARN, X-SES-FROM-ARN and X-SES-RETURN-PATH-ARN headers at the
// top of the message (all three: SES applies over SMTP only what is
// written), the connection goes to the identity's region, with that
// region's SMTP credential, and each SMTP reply is classified by the
// stage it answers (errors.go).
//
// Connections are pooled per region and reused (RSET after a refusal). A
// pooled connection the server closed while idle is dialled anew once. Up
// to the message's final dot nothing has been sent; after it, a send cut
// off without a reply is uncertain.
package sessmtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/transport"
)

// Transport is the SES SMTP transport: a pool of authenticated
// connections per region.
type Transport struct {
	cfg   Config
	roots *x509.CertPool
	now   func() time.Time

	mu     sync.Mutex
	pools  map[string]*pool
	closed bool
}

var (
	_ transport.Transport   = (*Transport)(nil)
	_ transport.Describer   = (*Transport)(nil)
	_ transport.CodeLabeler = (*Transport)(nil)
)

// New is the transport for SESQ_TRANSPORT=smtp (a transport.New): it reads
// SESQ_SMTP_* through s.Getenv, takes MaxConns and the command timeout
// from s, and, when no SMTP credential is given, derives them from the AWS
// credentials, which must then be static IAM keys. Every problem is
// reported at once, in one configuration error. It connects to nothing
// until the first send.
func New(ctx context.Context, s transport.Setup) (transport.Transport, error) {
	cfg, probs := Load(s.Getenv)
	cfg.MaxConns, cfg.CommandTimeout = s.MaxConns, s.SendTimeout
	needCredentials := true
	if len(cfg.Credentials) == 0 && cfg.Username == "" && cfg.Password == "" {
		id, secret, err := staticKeys(ctx, s.AWS)
		if err != nil {
			probs = append(probs, Prefix+"_CREDENTIALS: "+err.Error())
			needCredentials = false
		}
		cfg.AccessKeyID, cfg.SecretAccessKey = id, secret
	}
	probs = append(probs, cfg.withDefaults().problems(needCredentials)...)
	if err := problems(probs); err != nil {
		return nil, err
	}
	return NewWithConfig(cfg)
}

// staticKeys are the AWS credentials' access key id and secret, when they
// are an IAM user's static keys: SES derives SMTP passwords from nothing
// else.
func staticKeys(ctx context.Context, cfg aws.Config) (id, secret string, err error) {
	if cfg.Credentials == nil {
		return "", "", errors.New("no SMTP credentials, and no AWS credentials to derive them from: set SESQ_SMTP_CREDENTIALS (per region), or SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD")
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	switch {
	case err != nil:
		return "", "", fmt.Errorf("no SMTP credentials, and the AWS credentials to derive them from are not available (%v): set SESQ_SMTP_CREDENTIALS (per region), or SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD", err)
	case creds.SessionToken != "":
		return "", "", errors.New("no SMTP credentials, and the AWS credentials are temporary (a role, a task role, a session): SES derives SMTP passwords only from an IAM user's static keys; set SESQ_SMTP_CREDENTIALS (per region), or SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD")
	}
	return creds.AccessKeyID, creds.SecretAccessKey, nil
}

// NewWithConfig is the transport for cfg as given (tests, and programs
// that configure it themselves); it validates cfg first.
func NewWithConfig(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	roots, err := cfg.rootCAs()
	if err != nil {
		return nil, fmt.Errorf("%s_CA_FILE: %w", Prefix, err)
	}
	return &Transport{cfg: cfg, roots: roots, now: time.Now, pools: map[string]*pool{}}, nil
}

// Validate refuses, before any send, what SMTP cannot carry: SES
// templates and tenants are API features; and what cannot be made into an
// SMTP send: no recipient, an address SMTP cannot take, a charset sesq
// cannot write or text the charset cannot represent.
func (t *Transport) Validate(e *envelope.Envelope) error {
	if err := transport.CheckSize(e, transport.MaxMessageSMTP, "SES's SMTP interface"); err != nil {
		return err
	}
	_, err := t.plan(e)
	return err
}

// plan is Validate's work, and the send it worked out.
func (t *Transport) plan(e *envelope.Envelope) (*plan, error) {
	if e.Action == envelope.SendTemplatedEmail {
		return nil, &envelope.Error{Field: "action", Reason: "SendTemplatedEmail cannot be sent over SMTP (SESQ_TRANSPORT=smtp): SES templates need the API"}
	}
	if e.TenantName != "" {
		return nil, &envelope.Error{Field: "tenantName", Reason: "SES tenants need the SES v2 API (SESQ_TRANSPORT=api-v2); SMTP cannot carry them"}
	}
	return newPlan(e, t.now())
}

// SendQuota: SMTP cannot tell the send quota.
func (t *Transport) SendQuota(context.Context, string) (float64, error) {
	return 0, transport.ErrNoQuota
}

// Send delivers one envelope in its identity's region and returns the
// message id of SES's final reply. A failure is a *transport.Error.
func (t *Transport) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	region := e.Region()
	if err := ctx.Err(); err != nil {
		return "", failure{stage: stageConnect, err: err, region: region}.classify(ctx)
	}
	p, err := t.plan(e)
	if err != nil {
		return "", &transport.Error{Class: transport.Rejected, Code: CodeInvalidMessage, PerMessage: true, Message: transport.Redact(err.Error()), Err: err}
	}
	cred, ok := t.cfg.credential(region)
	if !ok {
		return "", &transport.Error{Class: transport.Unavailable, Code: CodeNoCredentials,
			Message: "no SMTP credentials for " + region + ": SESQ_SMTP_CREDENTIALS does not name it"}
	}
	pl, err := t.pool(region)
	if err != nil {
		return "", err
	}
	for try := 0; ; try++ {
		c, reused, err := pl.get(ctx, cred, try > 0)
		if err != nil {
			return "", err
		}
		id, f := c.send(ctx, p)
		if f == nil {
			pl.put(c)
			return id, nil
		}
		f.endpoint, f.region = t.cfg.address(region), region
		var reply *smtp.SMTPError
		answered := errors.As(f.err, &reply)
		// A pooled connection the server closed while idle (or whose
		// session it no longer honours: 530 at MAIL) fails at the first
		// command: it is dropped, and a new one dialled, once (the other
		// idle ones may be as stale).
		stale := !answered || reply.Code == 421 || reply.Code == 530
		if answered && !stale && !c.broken && c.reset() == nil {
			pl.put(c) // the server refused, and the session is still good
		} else {
			pl.discard(c)
		}
		if reused && try == 0 && f.stage == stageMail && stale && ctx.Err() == nil {
			continue
		}
		return "", f.classify(ctx)
	}
}

// Close sends QUIT on every idle connection and closes it; connections in
// use close when their send ends.
func (t *Transport) Close() error {
	t.mu.Lock()
	t.closed = true
	pools := t.pools
	t.pools = map[string]*pool{}
	t.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
	return nil
}

func (t *Transport) pool(region string) (*pool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, &transport.Error{Class: transport.Retry, Code: transport.CodeConnection, Message: "the SMTP transport is closed"}
	}
	p, ok := t.pools[region]
	if !ok {
		p = &pool{t: t, region: region, slots: make(chan struct{}, t.cfg.MaxConns)}
		t.pools[region] = p
	}
	return p, nil
}

// pool is one region's connections: at most MaxConns open, idle ones
// reused, the most recently used first.
type pool struct {
	t      *Transport
	region string
	slots  chan struct{} // one per open connection

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// get returns an idle connection (reused), unless fresh, or dials one when
// fewer than MaxConns are open (closing an idle one to make room for a
// fresh one). A dial's failure is a *transport.Error.
func (p *pool) get(ctx context.Context, cred Credential, fresh bool) (c *conn, reused bool, err error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 && fresh {
		old := p.idle[0]
		p.idle = p.idle[1:]
		p.mu.Unlock()
		p.discard(old)
		p.mu.Lock()
	}
	if n := len(p.idle); n > 0 && !fresh {
		c = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, failure{stage: stageConnect, err: ctx.Err(), region: p.region}.classify(ctx)
	}
	c, err = p.t.dial(ctx, p.region, cred)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return c, false, nil
}

func (p *pool) put(c *conn) {
	p.mu.Lock()
	if c.broken || p.closed {
		p.mu.Unlock()
		p.discard(c)
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *pool) discard(c *conn) {
	c.close()
	<-p.slots
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Go(func() {
			c.quit()
			<-p.slots
		})
	}
	wg.Wait()
}

// ehloName is the name sesq gives in EHLO.
const ehloName = "localhost"

// dial connects to the region's endpoint, secures the connection and
// authenticates with the region's credential. A failure is a
// *transport.Error.
func (t *Transport) dial(ctx context.Context, region string, cred Credential) (*conn, error) {
	addr := t.cfg.address(region)
	fail := func(st stage, err error) error {
		return failure{stage: st, err: err, endpoint: addr, region: region}.classify(ctx)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fail(stageConnect, err)
	}
	tlsCfg := &tls.Config{ServerName: host, RootCAs: t.roots, MinVersion: tls.VersionTLS12}
	d := &net.Dialer{Timeout: t.cfg.DialTimeout}
	var raw net.Conn
	if t.cfg.TLS == TLSImplicit {
		raw, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		raw, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fail(stageConnect, err)
	}
	// A context that ends mid-conversation closes the connection: every
	// read and write under way fails at once.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	var c *smtp.Client
	if t.cfg.TLS == TLSStartTLS {
		if c, err = smtp.NewClientStartTLS(raw, tlsCfg); err != nil {
			raw.Close()
			return nil, fail(stageConnect, err)
		}
	} else {
		c = smtp.NewClient(raw)
	}
	c.CommandTimeout, c.SubmissionTimeout = t.cfg.CommandTimeout, t.cfg.CommandTimeout
	// The TLS handshake of STARTTLS happens here, with the EHLO after it.
	if err := c.Hello(ehloName); err != nil {
		c.Close()
		return nil, fail(stageConnect, err)
	}
	if err := c.Auth(sasl.NewPlainClient("", cred.Username, cred.Password)); err != nil {
		c.Close()
		return nil, fail(stageAuth, err)
	}
	if !stop() {
		c.Close()
		return nil, fail(stageAuth, ctx.Err())
	}
	return &conn{raw: raw, c: c, timeout: t.cfg.CommandTimeout}, nil
}

// conn is one authenticated SMTP connection.
type conn struct {
	raw     net.Conn
	c       *smtp.Client
	timeout time.Duration
	broken  bool // closed under a send: never pooled again
}

// send runs one MAIL, RCPT, DATA transaction.
func (cn *conn) send(ctx context.Context, p *plan) (id string, f *failure) {
	stop := context.AfterFunc(ctx, func() { cn.raw.Close() })
	defer func() {
		if !stop() {
			cn.broken = true
		}
	}()
	fail := func(st stage, err error) *failure {
		return &failure{stage: st, err: err}
	}
	if err := cn.c.Mail(p.from, nil); err != nil {
		return "", fail(stageMail, err)
	}
	for i, r := range p.rcpts {
		if err := cn.c.Rcpt(r, nil); err != nil {
			f := fail(stageRcpt, err)
			f.rcpt, f.rcpts = i+1, len(p.rcpts)
			return "", f
		}
	}
	w, err := cn.c.Data()
	if err != nil {
		return "", fail(stageData, err)
	}
	cn.raw.SetDeadline(time.Now().Add(cn.timeout))
	if _, err := w.Write(p.data); err != nil {
		cn.broken = true
		return "", fail(stageData, err)
	}
	// From here the server may have the whole message: a failure without
	// a reply leaves the outcome uncertain.
	resp, err := w.CloseWithResponse()
	if err != nil {
		var reply *smtp.SMTPError
		if !errors.As(err, &reply) {
			cn.broken = true
		}
		return "", fail(stageDataEnd, err)
	}
	// SES answers "250 Ok MESSAGE-ID".
	if f := strings.Fields(resp.StatusText); len(f) > 0 {
		id = f[len(f)-1]
	}
	return id, nil
}

// reset aborts the transaction a refusal left open (RSET).
func (cn *conn) reset() error {
	return cn.c.Reset()
}

// quitWithin bounds QUIT at shutdown: a server that stops answering must
// not hold the worker past its stop timeout (nothing is at stake: every
// delivery is settled by then).
const quitWithin = 2 * time.Second

func (cn *conn) quit() {
	cn.raw.SetDeadline(time.Now().Add(quitWithin))
	cn.c.Quit()
	cn.c.Close()
}

func (cn *conn) close() { cn.c.Close() }
