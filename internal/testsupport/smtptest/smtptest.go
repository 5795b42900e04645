// Package smtptest is an SMTP server for tests, standing in for the SES SMTP
// interface: STARTTLS or implicit TLS on a certificate of its own CA (or
// plain text), AUTH PLAIN, a record of every session and message, replies
// scripted per identity ARN (read, as SES does, from the message's first
// X-SES-*-ARN header), recipients refused at RCPT, and logins that stand
// for a region (SES's SMTP passwords are per region), which can be
// refused region by region.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sesq/sesq/internal/testsupport/faultscript"
)

// Modes of Start.
const (
	StartTLS = "starttls"
	Implicit = "tls"
	Plain    = "none"
)

// Reply is an SMTP reply the server gives instead of accepting a message,
// a recipient or a login.
type Reply struct {
	Code int
	// Enhanced is the enhanced status code (RFC 3463), {5, 1, 1}; zero:
	// none, as SES mostly answers.
	Enhanced [3]int
	Msg      string
}

func (r Reply) err() *smtp.SMTPError {
	enh := smtp.NoEnhancedCode
	if r.Enhanced[0] != 0 {
		enh = smtp.EnhancedCode(r.Enhanced)
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: enh, Message: r.Msg}
}

// Replies as the SES SMTP interface words them.
var (
	ThrottleRate    = Reply{Code: 454, Msg: "Throttling failure: Maximum sending rate exceeded."}
	ThrottleDaily   = Reply{Code: 454, Msg: "Throttling failure: Daily message quota exceeded."}
	TemporaryFail   = Reply{Code: 451, Msg: "Temporary service failure."}
	AccessDenied    = Reply{Code: 554, Msg: "Access denied: User `arn:aws:iam::111122223333:user/sesq' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"}
	MessageRejected = Reply{Code: 554, Msg: "Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com"}
	SendingPaused   = Reply{Code: 554, Msg: "Sending paused for this account. For more information, please check the AWS Simple Email Service Console."}
	// BadCredentials is SES's answer to a login it does not take.
	BadCredentials = Reply{Code: 535, Msg: "Authentication Credentials Invalid"}
	// MailboxUnknown refuses a recipient at RCPT.
	MailboxUnknown = Reply{Code: 550, Enhanced: [3]int{5, 1, 1}, Msg: "Recipient address rejected: User unknown"}
)

// Message is one message the server took (or refused, with Reply set).
type Message struct {
	Conn     int // the connection it came on, numbered from 1
	User     string
	Password string
	// Region is the region of the login the session used (AddLogin);
	// empty when the server takes any login.
	Region   string
	TLS      bool
	From     string
	To       []string
	Data     []byte
	ID       string // the id in the 250 reply
	Reply    *Reply // the refusal, if any
	Identity string // first X-SES-SOURCE-ARN, else FROM, else RETURN-PATH ARN
	At       time.Time
}

// Header returns the first instance of a header field, unfolded and
// trimmed (SES applies the first instance of an X-SES header); empty when
// there is none.
func (m Message) Header(name string) string {
	return faultscript.FirstHeaders(m.Data)[strings.ToLower(name)]
}

// Lines returns every line of the message (DATA) without its line break.
func (m Message) Lines() []string {
	return strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(m.Data), "\r\n", "\n"), "\n"), "\n")
}

// Headers returns the message's header fields in order, as "Name: value"
// lines, unfolded.
func (m Message) Headers() []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(m.Data))
	sc.Buffer(nil, len(m.Data)+1)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1] += l
			continue
		}
		out = append(out, l)
	}
	return out
}

// Server is the test SMTP server.
type Server struct {
	Addr  string // 127.0.0.1:PORT
	CAPEM []byte // the CA that signed the server's certificate
	Roots *x509.CertPool
	srv   *smtp.Server
	mode  string

	mu        sync.Mutex
	conns     int
	connIDs   map[string]int    // remote address -> connection number
	open      map[net.Conn]bool // connections open now
	msgs      []Message
	scripts   map[string][]Reply
	always    map[string]Reply
	refused   map[string]Reply     // recipient -> its refusal at RCPT
	logins    map[[2]string]string // user and password -> region
	badRegion map[string]Reply     // region -> the refusal of its logins
	latency   time.Duration
	checkAuth func(user, pass string) bool
	ids       int
	// authFailures counts the logins refused.
	authFailures int
}

// Start serves on a free loopback port in the given mode.
func Start(mode string) (*Server, error) {
	s := &Server{mode: mode, scripts: map[string][]Reply{}, always: map[string]Reply{}, connIDs: map[string]int{},
		open: map[net.Conn]bool{}, refused: map[string]Reply{}, logins: map[[2]string]string{}, badRegion: map[string]Reply{}}
	caPEM, roots, cert, err := certificates()
	if err != nil {
		return nil, err
	}
	s.CAPEM, s.Roots = caPEM, roots
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 40 << 20
	srv.MaxRecipients = 50
	srv.AllowInsecureAuth = mode == Plain
	srv.ErrorLog = nopLogger{}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	var ln net.Listener
	switch mode {
	case StartTLS:
		srv.TLSConfig = tlsCfg
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	case Implicit:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	case Plain:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return nil, err
	}
	s.Addr, s.srv = ln.Addr().String(), srv
	go srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Fail answers the next messages for identity with replies, in order.
func (s *Server) Fail(identity string, replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[identity] = append(s.scripts[identity], replies...)
}

// FailAlways answers every message for identity with r.
func (s *Server) FailAlways(identity string, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[identity] = r
}

// Recover ends identity's scripted and standing refusals.
func (s *Server) Recover(identity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.scripts, identity)
	delete(s.always, identity)
}

// RefuseRecipient answers RCPT TO:<addr> with r until AcceptRecipient.
func (s *Server) RefuseRecipient(addr string, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[strings.ToLower(addr)] = r
}

// AcceptRecipient ends the refusal of addr.
func (s *Server) AcceptRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refused, strings.ToLower(addr))
}

// AddLogin makes user and pass a login for region. Once a login is added,
// the server takes only the logins added (any other is refused with
// BadCredentials), and a session is in the region of its login, as an
// SES SMTP password is good for one region.
func (s *Server) AddLogin(user, pass, region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[[2]string{user, pass}] = region
}

// RefuseLogins answers the logins of region with r (BadCredentials: the
// credentials no longer valid there) until AcceptLogins.
func (s *Server) RefuseLogins(region string, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.badRegion[region] = r
}

// AcceptLogins ends the refusal of region's logins.
func (s *Server) AcceptLogins(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.badRegion, region)
}

// DropConnections closes every open connection from the server's side, as
// a server does with idle ones.
func (s *Server) DropConnections() {
	s.mu.Lock()
	open := s.open
	s.open = map[net.Conn]bool{}
	s.mu.Unlock()
	for c := range open {
		c.Close()
	}
}

// Latency delays the reply to every DATA.
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// AuthFailures counts the logins refused so far.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFailures
}

// CheckAuth decides which credentials pass (default: all).
func (s *Server) CheckAuth(f func(user, pass string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkAuth = f
}

// Messages returns every message so far; Accepted the ones taken.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Accepted returns the messages the server took.
func (s *Server) Accepted() []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.Reply == nil {
			out = append(out, m)
		}
	}
	return out
}

// Conns counts the connections so far.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// newSession runs after each EHLO, so twice on a connection that upgrades
// with STARTTLS: connections are told apart by their remote address.
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	addr := c.Conn().RemoteAddr().String()
	n, ok := s.connIDs[addr]
	if !ok {
		s.conns++
		n = s.conns
		s.connIDs[addr] = n
	}
	s.open[c.Conn()] = true
	s.mu.Unlock()
	return &session{s: s, c: c, conn: n}, nil
}

type session struct {
	s          *Server
	c          *smtp.Conn
	conn       int
	user, pass string
	region     string
	authed     bool
	from       string
	to         []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s := ss.s
		s.mu.Lock()
		defer s.mu.Unlock()
		refuse := func(r Reply) error {
			s.authFailures++
			return r.err()
		}
		if s.checkAuth != nil && !s.checkAuth(user, pass) {
			return refuse(Reply{Code: 535, Enhanced: [3]int{5, 7, 8}, Msg: "Authentication Credentials Invalid"})
		}
		region, ok := s.logins[[2]string{user, pass}]
		if !ok && len(s.logins) > 0 {
			return refuse(BadCredentials)
		}
		if r, bad := s.badRegion[region]; bad && ok {
			return refuse(r)
		}
		ss.user, ss.pass, ss.region, ss.authed = user, pass, region, true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	r, refused := ss.s.refused[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if refused {
		return r.err()
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	m := Message{Conn: ss.conn, User: ss.user, Password: ss.pass, Region: ss.region, TLS: isTLS, From: ss.from, To: ss.to, Data: data, At: time.Now()}
	h := faultscript.FirstHeaders(data)
	for _, k := range []string{"x-ses-source-arn", "x-ses-from-arn", "x-ses-return-path-arn"} {
		if m.Identity == "" {
			m.Identity = h[k]
		}
	}
	s := ss.s
	s.mu.Lock()
	var reply *Reply
	if q := s.scripts[m.Identity]; len(q) > 0 {
		reply, s.scripts[m.Identity] = &q[0], q[1:]
	} else if r, ok := s.always[m.Identity]; ok {
		reply = &r
	}
	if reply == nil {
		s.ids++
		m.ID = fmt.Sprintf("0100smtptest-%06d", s.ids)
	}
	m.Reply = reply
	s.msgs = append(s.msgs, m)
	latency := s.latency
	s.mu.Unlock()
	time.Sleep(latency)
	if reply != nil {
		return reply.err()
	}
	// SES answers "250 Ok MESSAGE-ID"; go-smtp writes an SMTPError as is.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.NoEnhancedCode, Message: "Ok " + m.ID}
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error {
	ss.s.mu.Lock()
	delete(ss.s.open, ss.c.Conn())
	ss.s.mu.Unlock()
	return nil
}

// certificates makes a CA and a certificate for 127.0.0.1 and localhost.
func certificates() ([]byte, *x509.CertPool, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, tls.Certificate{}, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, roots, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
