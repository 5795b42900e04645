package sessmtp

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Prefix is the prefix of the variables Config is read from.
const Prefix = "SESQ_SMTP"

// TLS modes (SESQ_SMTP_TLS).
const (
	TLSStartTLS = "starttls" // plain connect, then STARTTLS (ports 587, 2587)
	TLSImplicit = "tls"      // TLS from the first byte (ports 465, 2465)
	TLSNone     = "none"     // plain text: only for servers on loopback
)

// ports lists the ports of the SES SMTP endpoints.
var ports = []int{587, 2587, 465, 2465}

// Variables lists the variables the transport reads, SESQ_SMTP_ prefix
// included, in field order.
func Variables() []string {
	t := reflect.TypeOf(Config{})
	var out []string
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("envconfig"); k != "" {
			out = append(out, Prefix+"_"+k)
		}
	}
	return out
}

// Config is the SMTP transport's configuration. The fields with an
// envconfig tag are read from SESQ_SMTP_* variables (Load); the others are
// given by the worker's setup (New) or a test.
//
// Credentials for a region come from, in this order and never mixed:
// Credentials (SESQ_SMTP_CREDENTIALS), else Username and Password for
// every region, else a password derived for each region from static IAM
// keys (AccessKeyID, SecretAccessKey).
type Config struct {
	// Endpoint is HOST:PORT, where {region} stands for the identity's
	// region. Empty: email-smtp.{region}.amazonaws.com:Port, SES's own.
	Endpoint string `envconfig:"ENDPOINT"`
	// Port is the port of SES's endpoints when Endpoint is empty: 587 or
	// 2587 for STARTTLS, 465 or 2465 for TLS from the first byte.
	Port int `envconfig:"PORT" default:"587"`
	// TLS is TLSStartTLS, TLSImplicit or TLSNone (plain text, refused for
	// any host but loopback). Empty: TLSImplicit on ports 465 and 2465,
	// else TLSStartTLS. The server's certificate is always verified.
	TLS string `envconfig:"TLS"`
	// Username and Password are one SMTP credential, used in every region.
	// SES derives an SMTP password for one region: with identities in more
	// than one region, use Credentials (or static IAM keys) instead, or
	// the other regions' sends are refused (535) and those regions pause.
	Username string `envconfig:"USERNAME"`
	Password string `envconfig:"PASSWORD"`
	// Credentials maps a region to its SMTP credential, as a JSON object:
	// {"us-east-1": {"username": "AKIA…", "password": "…"}, …}, so that
	// one Secrets Manager secret can hold them all. A region it does not
	// name cannot be sent to: its sends are refused as unavailable (the
	// region pauses), not sent with another region's password. Not with
	// Username and Password.
	Credentials Credentials `envconfig:"CREDENTIALS"`
	// CAFile is a PEM file of CA certificates trusted for the endpoint's
	// certificate besides the system's roots (a private or test server).
	// Unlike SSL_CERT_FILE, it adds to the system roots rather than
	// replacing them.
	CAFile string `envconfig:"CA_FILE"`

	// AccessKeyID and SecretAccessKey are static IAM keys (an IAM user's)
	// to derive a password per region from when no credential is given;
	// New takes them from the AWS credentials. The user name is the key id.
	AccessKeyID     string `ignored:"true"`
	SecretAccessKey string `ignored:"true"`
	// MaxConns bounds the connections per region (SESQ_CONCURRENCY); 0: 1.
	MaxConns int `ignored:"true"`
	// CommandTimeout bounds each SMTP command and the wait for the reply to
	// the message (SESQ_SEND_TIMEOUT); 0: 30s. DialTimeout bounds the
	// connect; 0: 10s. A send is also bounded by its context.
	CommandTimeout time.Duration `ignored:"true"`
	DialTimeout    time.Duration `ignored:"true"`
}

// Credential is the SMTP user name and password of one region.
type Credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// String shows the user name only, so that a logged configuration does not
// leak the password.
func (c Credential) String() string { return c.Username + ":[password]" }

// GoString is String, for %#v.
func (c Credential) GoString() string { return c.String() }

// Credentials maps a region to its SMTP credential (SESQ_SMTP_CREDENTIALS).
type Credentials map[string]Credential

// Decode reads the JSON object of SESQ_SMTP_CREDENTIALS (it is
// envconfig's Decoder). Its errors never quote the value: it holds
// passwords.
func (c *Credentials) Decode(value string) error {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(value), &top) == nil && (top["username"] != nil || top["password"] != nil) {
		// One {"username", "password"} pair, as the Terraform module's
		// secret held before credentials went per region.
		return errors.New(`maps each region to its credential, {"us-east-1": {"username": "…", "password": "…"}, …}, not one {"username", "password"} pair: SES SMTP passwords are per region (a pair for one region goes in SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD)`)
	}
	dec := json.NewDecoder(strings.NewReader(value))
	dec.DisallowUnknownFields()
	var m map[string]Credential
	if err := dec.Decode(&m); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("not JSON (syntax error at byte %d)", syn.Offset)
		case errors.As(err, &typ) && strings.Contains(typ.Field, "."):
			return fmt.Errorf("%s must be a string", typ.Field)
		case errors.As(err, &typ) && typ.Field != "":
			return fmt.Errorf(`%s must be {"username": "…", "password": "…"}`, typ.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return errors.New(`a region's credential takes only "username" and "password"`)
		}
		return errors.New(`must be a JSON object of region: {"username": "…", "password": "…"}`)
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	*c = m
	return nil
}

// regionName is the form of an AWS region name (us-east-1, us-gov-west-1).
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Load reads the configuration from SESQ_SMTP_* variables through getenv
// (nil: os.Getenv), with the defaults of the envconfig tags; a variable
// set to the empty string counts as unset. It reads what envconfig.Process
// (Prefix, &cfg) would, through getenv. It does not validate; a value that
// does not parse is reported with Validate's problems by New.
func Load(getenv func(string) string) (Config, []string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var c Config
	var probs []string
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" {
			continue
		}
		name := Prefix + "_" + key
		s := getenv(name)
		if s == "" {
			s = f.Tag.Get("default")
		}
		if s == "" {
			continue
		}
		fv := v.Field(i)
		if d, ok := fv.Addr().Interface().(interface{ Decode(string) error }); ok {
			if err := d.Decode(s); err != nil {
				probs = append(probs, name+": "+err.Error())
			}
			continue
		}
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(s)
		case reflect.Int:
			n, err := strconv.Atoi(s)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%s: cannot parse %q as a whole number", name, s))
				continue
			}
			fv.SetInt(int64(n))
		default:
			panic("sessmtp: no reader for " + f.Name)
		}
	}
	return c, probs
}

// withDefaults fills in what the environment does not give.
func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = 587
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
		if p := c.port(); p == 465 || p == 2465 {
			c.TLS = TLSImplicit
		}
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 30 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	return c
}

// port is the port sesq connects to.
func (c Config) port() int {
	if c.Endpoint == "" {
		return c.Port
	}
	_, p, _ := net.SplitHostPort(c.Endpoint)
	n, _ := strconv.Atoi(p)
	return n
}

// Validate reports every problem of the configuration at once, in one
// error, each naming its variable. It reads CAFile.
func (c Config) Validate() error {
	return problems(c.problems(true))
}

func problems(probs []string) error {
	if len(probs) == 0 {
		return nil
	}
	return errors.New(strings.Join(probs, "; "))
}

// problems lists what is wrong; needCredentials false leaves out that no
// credential is given (New has said why it could derive none).
func (c Config) problems(needCredentials bool) []string {
	var probs []string
	bad := func(name, format string, args ...any) {
		probs = append(probs, Prefix+"_"+name+": "+fmt.Sprintf(format, args...))
	}
	host := ""
	if c.Endpoint != "" {
		h, p, err := net.SplitHostPort(strings.ReplaceAll(c.Endpoint, "{region}", "us-east-1"))
		if n, perr := strconv.Atoi(p); err != nil || h == "" || perr != nil || n < 1 || n > 65535 {
			bad("ENDPOINT", "must be HOST:PORT ({region} stands for the identity's region), got %q", c.Endpoint)
		}
		host = h
	} else if !slices.Contains(ports, c.Port) {
		bad("PORT", "must be 587 or 2587 for STARTTLS, 465 or 2465 for TLS, got %d", c.Port)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if c.Endpoint == "" {
			bad("TLS", "none is only for servers on loopback (set SESQ_SMTP_ENDPOINT)")
		} else if host != "" && !isLoopback(host) {
			bad("TLS", "none is only for servers on loopback, not %s", host)
		}
	default:
		bad("TLS", "must be starttls, tls or none, got %q", c.TLS)
	}
	if (c.Username == "") != (c.Password == "") {
		bad("PASSWORD", "set SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD together")
	}
	if len(c.Credentials) > 0 && (c.Username != "" || c.Password != "") {
		bad("CREDENTIALS", "set either SESQ_SMTP_CREDENTIALS or SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD, not both")
	}
	regions := make([]string, 0, len(c.Credentials))
	for r := range c.Credentials {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		cr := c.Credentials[r]
		switch {
		case !regionName.MatchString(r):
			bad("CREDENTIALS", "%q is not a region name (like us-east-1)", r)
		case cr.Username == "" || cr.Password == "":
			bad("CREDENTIALS", "%s needs a username and a password", r)
		}
	}
	if needCredentials && len(c.Credentials) == 0 && c.Username == "" && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
		bad("CREDENTIALS", "no SMTP credentials: set SESQ_SMTP_CREDENTIALS (per region), or SESQ_SMTP_USERNAME and SESQ_SMTP_PASSWORD, or give sesq an IAM user's static keys to derive them from")
	}
	if c.CAFile != "" {
		if _, err := readCAFile(c.CAFile); err != nil {
			bad("CA_FILE", "%v", err)
		}
	}
	return probs
}

// readCAFile reads the PEM certificates of a CA file.
func readCAFile(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: a certificate does not parse: %v", path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return certs, nil
}

// rootCAs is the system's roots with the CA file's certificates added.
func (c Config) rootCAs() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if c.CAFile == "" {
		return pool, nil
	}
	certs, err := readCAFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// address is the endpoint of a region.
func (c Config) address(region string) string {
	if c.Endpoint != "" {
		return strings.ReplaceAll(c.Endpoint, "{region}", region)
	}
	return net.JoinHostPort("email-smtp."+region+".amazonaws.com", strconv.Itoa(c.Port))
}

// credential is the SMTP user name and password for region; ok is false
// when the configuration has none for it.
func (c Config) credential(region string) (Credential, bool) {
	switch {
	case len(c.Credentials) > 0:
		cr, ok := c.Credentials[region]
		return cr, ok
	case c.Username != "":
		return Credential{Username: c.Username, Password: c.Password}, true
	case c.AccessKeyID != "" && c.SecretAccessKey != "":
		return Credential{Username: c.AccessKeyID, Password: Password(c.SecretAccessKey, region)}, true
	}
	return Credential{}, false
}
