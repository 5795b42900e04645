// Package sesmtp sends envelopes through the Amazon SES SMTP interface: the
// sending-authorization ARNs travel as X-SES-*-ARN headers at the top of the
// message, the connection goes to the identity's region, and the password is
// derived for that region.
package sesmtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesq/sesq/envelope"
)

// TLS modes.
const (
	TLSStartTLS = "starttls" // plain connect, then STARTTLS (ports 587, 2587)
	TLSImplicit = "tls"      // TLS from the first byte (ports 465, 2465)
	TLSNone     = "none"     // plain text: only for servers on loopback
)

// Config says where and how to connect.
type Config struct {
	// Endpoint is HOST:PORT, where {region} stands for the identity's
	// region; empty: email-smtp.{region}.amazonaws.com:Port.
	Endpoint string
	Port     int
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone; empty: by port
	// Username and Password, when set, are used for every region. Otherwise
	// AccessKeyID and SecretAccessKey (static IAM credentials) give the user
	// name and a password derived per region.
	Username, Password           string
	AccessKeyID, SecretAccessKey string
	// MaxConns bounds the connections per region (SESQ_CONCURRENCY).
	MaxConns       int
	DialTimeout    time.Duration
	CommandTimeout time.Duration
	// RootCAs overrides the system roots (tests). Verification is never off.
	RootCAs *x509.CertPool
	// Hostname is announced in EHLO; empty: "localhost".
	Hostname string
}

// Transport sends over SMTP with a pool of connections per region.
type Transport struct {
	cfg   Config
	mu    sync.Mutex
	pools map[string]*pool
	now   func() time.Time
}

// New checks the configuration and prepares the transport; it connects to
// nothing until the first send.
func New(cfg Config) (*Transport, error) {
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
		if cfg.Port == 465 || cfg.Port == 2465 {
			cfg.TLS = TLSImplicit
		}
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 1
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = 30 * time.Second
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		host, _, err := net.SplitHostPort(strings.ReplaceAll(cfg.address("us-east-1"), "{region}", "us-east-1"))
		if err != nil || !isLoopback(host) {
			return nil, fmt.Errorf("SESQ_SMTP_TLS=none is only for servers on loopback, not %q", host)
		}
	default:
		return nil, fmt.Errorf("unknown TLS mode %q", cfg.TLS)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("set both SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD, or neither")
	}
	if cfg.Username == "" && (cfg.AccessKeyID == "" || cfg.SecretAccessKey == "") {
		return nil, errors.New("no SMTP credentials: set SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD, or give sesq static IAM credentials to derive them from")
	}
	return &Transport{cfg: cfg, pools: map[string]*pool{}, now: time.Now}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) address(region string) string {
	if c.Endpoint != "" {
		return strings.ReplaceAll(c.Endpoint, "{region}", region)
	}
	return net.JoinHostPort("email-smtp."+region+".amazonaws.com", strconv.Itoa(c.Port))
}

func (c Config) credentials(region string) (user, pass string) {
	if c.Username != "" {
		return c.Username, c.Password
	}
	return c.AccessKeyID, Password(c.SecretAccessKey, region)
}

// Validate refuses what SMTP cannot carry: SES templates are an API feature.
func (t *Transport) Validate(e *envelope.Envelope) error {
	if e.Action == envelope.SendTemplatedEmail {
		return &envelope.Error{Field: "action", Reason: "SendTemplatedEmail cannot be sent over SMTP (SESQ_TRANSPORT=smtp): SES templates need the API"}
	}
	return nil
}

// Send delivers one envelope and returns the message id SES gave in its
// final reply. Errors from the server are *textproto.Error with the SMTP
// reply code.
func (t *Transport) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	if err := t.Validate(e); err != nil {
		return "", err
	}
	from, err := MailFrom(e)
	if err != nil {
		return "", err
	}
	rcpts, err := Recipients(e)
	if err != nil {
		return "", err
	}
	data, err := Message(e, t.now())
	if err != nil {
		return "", err
	}
	p := t.pool(e.Region())
	for try := 0; ; try++ {
		c, reused, err := p.get(ctx)
		if err != nil {
			return "", err
		}
		id, sent, err := c.send(ctx, from, rcpts, data)
		if err == nil {
			p.put(c)
			return id, nil
		}
		var reply *textproto.Error
		if errors.As(err, &reply) && !sent && reply.Code != 421 {
			// The server refused the message; the connection is still good
			// once reset.
			if c.reset() == nil {
				p.put(c)
			} else {
				p.discard(c)
			}
			return "", err
		}
		p.discard(c)
		// A pooled connection the server closed while idle fails before
		// DATA: dial anew once. After DATA the outcome is unknown.
		if reused && !sent && try == 0 && ctx.Err() == nil {
			continue
		}
		return "", err
	}
}

// Close closes every idle connection.
func (t *Transport) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pools {
		p.close()
	}
}

func (t *Transport) pool(region string) *pool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pools[region]
	if !ok {
		p = &pool{t: t, region: region, slots: make(chan struct{}, t.cfg.MaxConns)}
		t.pools[region] = p
	}
	return p
}

// pool is one region's connections: at most MaxConns open, idle ones reused.
type pool struct {
	t      *Transport
	region string
	slots  chan struct{} // one per open connection
	mu     sync.Mutex
	idle   []*conn
}

func (p *pool) get(ctx context.Context) (*conn, bool, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	c, err := p.t.dial(ctx, p.region)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return c, false, nil
}

func (p *pool) put(c *conn) {
	p.mu.Lock()
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
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.quit()
		<-p.slots
	}
}

// conn is one authenticated SMTP connection.
type conn struct {
	raw     net.Conn
	c       *smtp.Client
	timeout time.Duration
}

func (t *Transport) dial(ctx context.Context, region string) (*conn, error) {
	addr := t.cfg.address(region)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("smtp endpoint %q: %w", addr, err)
	}
	tlsCfg := &tls.Config{ServerName: host, RootCAs: t.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	d := &net.Dialer{Timeout: t.cfg.DialTimeout}
	var raw net.Conn
	if t.cfg.TLS == TLSImplicit {
		raw, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		raw, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	raw.SetDeadline(time.Now().Add(t.cfg.CommandTimeout))
	c, err := smtp.NewClient(raw, host)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("smtp greeting from %s: %w", addr, err)
	}
	cn := &conn{raw: raw, c: c, timeout: t.cfg.CommandTimeout}
	fail := func(what string, err error) (*conn, error) {
		cn.close()
		return nil, fmt.Errorf("%s with %s: %w", what, addr, err)
	}
	if err := c.Hello(t.cfg.Hostname); err != nil {
		return fail("EHLO", err)
	}
	if t.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS"))
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return fail("STARTTLS", err)
		}
	}
	user, pass := t.cfg.credentials(region)
	if err := c.Auth(plainAuth{user: user, pass: pass, tls: t.cfg.TLS != TLSNone}); err != nil {
		return fail("AUTH", err)
	}
	return cn, nil
}

// send runs one MAIL/RCPT/DATA transaction; sent reports whether the message
// data was handed over (after which a failure leaves the outcome unknown).
func (cn *conn) send(ctx context.Context, from string, rcpts []string, data []byte) (id string, sent bool, err error) {
	stop := context.AfterFunc(ctx, func() { cn.raw.SetDeadline(time.Now()) })
	defer stop()
	cn.raw.SetDeadline(time.Now().Add(cn.timeout))
	if err := cn.c.Mail(from); err != nil {
		return "", false, err
	}
	for _, r := range rcpts {
		if err := cn.c.Rcpt(r); err != nil {
			return "", false, err
		}
	}
	text := cn.c.Text
	id, err = func() (string, error) {
		cmd, err := text.Cmd("DATA")
		if err != nil {
			return "", err
		}
		text.StartResponse(cmd)
		_, _, err = text.ReadResponse(354)
		text.EndResponse(cmd)
		if err != nil {
			return "", err
		}
		w := text.DotWriter()
		if _, err := w.Write(data); err != nil {
			return "", err
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		sent = true
		_, msg, err := text.ReadResponse(250)
		if err != nil {
			return "", err
		}
		// SES answers "250 Ok MESSAGE-ID".
		f := strings.Fields(msg)
		if len(f) > 0 {
			return f[len(f)-1], nil
		}
		return "", nil
	}()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return id, sent, err
}

func (cn *conn) reset() error {
	cn.raw.SetDeadline(time.Now().Add(cn.timeout))
	return cn.c.Reset()
}

func (cn *conn) quit() {
	cn.raw.SetDeadline(time.Now().Add(cn.timeout))
	cn.c.Quit()
	cn.raw.Close()
}

func (cn *conn) close() { cn.raw.Close() }

// plainAuth is AUTH PLAIN, refused on a connection without TLS unless the
// configuration allowed plain text (loopback only).
type plainAuth struct {
	user, pass string
	tls        bool
}

func (a plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if a.tls && !server.TLS {
		return "", nil, errors.New("refusing to send credentials over an unencrypted connection")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}
