package deploy

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/transport/sessmtp"
)

// helmKubeVersion is the Kubernetes version the chart is rendered and linted
// for, whatever the helm binary assumes offline.
const helmKubeVersion = "1.31.0"

const helmChart = "../../deploy/helm/sesq"

// helmMinimal is what a user must give: the two queue URLs.
const helmMinimal = `
queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail
dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq
`

// helmEverything turns on KEDA, the ServiceMonitor, IRSA, the secrets, the
// SMTP transport's CA bundle and two payload buckets.
const helmEverything = helmMinimal + `
config:
  transport: smtp
  shutdownTimeoutSeconds: 40
  allowedIdentities: ["arn:aws:ses:*:123456789012:identity/example.com", "arn:aws:ses:eu-west-1:123456789012:identity/*"]
  payloadBuckets: [mail-payloads, partner.payloads-eu]
  payloadFetches: 8
smtp:
  caBundle: {configMapName: smtp-ca}
secret:
  name: sesq
  smtpCredentials: smtp-credentials
serviceAccount:
  roleArn: arn:aws:iam::123456789012:role/sesq
serviceMonitor:
  enabled: true
  labels: {release: prometheus}
keda:
  enabled: true
  minReplicaCount: 0
  maxReplicaCount: 20
  auth: {identityOwner: workload}
extraEnv:
  - name: AWS_ENDPOINT_URL_SQS
    value: http://localhost:4566
`

// helmLaneList is two priority lanes instead of one queue.
const helmLaneList = `
lanes:
  - name: transactional
    queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail
    dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq
    weight: 8
  - name: bulk-mail
    queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk
    dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk-dlq
`

// helmLanes reads the two lanes, with KEDA on.
const helmLanes = helmLaneList + `config:
  fairness: "off"
  tenantShare: 0.25
keda:
  enabled: true
  queueLength: 500
`

// helmBinary is the helm that `make test` builds and names in SESQ_HELM. CI
// must have it; elsewhere the tests are skipped without it.
func helmBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("SESQ_HELM")
	if h == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SESQ_HELM is not set: CI runs `make test`, which builds Helm and sets it")
		}
		t.Skip("SESQ_HELM is not set: run through `make test`, which builds Helm")
	}
	return h
}

// helm runs a helm subcommand on the chart with values, offline and away
// from the user's Helm configuration; it returns stdout, and stderr on
// failure.
func helm(t *testing.T, bin, cmd, values string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	vf := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(vf, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	full := []string{cmd}
	if cmd == "template" {
		full = append(full, "sesq")
	}
	full = append(full, helmChart, "--kube-version", helmKubeVersion, "-f", vf)
	c := exec.Command(bin, append(full, args...)...)
	c.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"))
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), &helmError{err: err, stderr: stderr.String() + stdout.String()}
	}
	return stdout.String(), nil
}

type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + e.stderr }

func helmRules(t *testing.T) HelmRules {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	uid, err := HelmImageUID(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return HelmRules{
		Variables: append(config.Variables(), sessmtp.Variables()...),
		Required:  config.RequiredForRun(),
		Skip:      slices.Concat(config.OnlyForQueuesCreate(), producerOnly()),
		ImageUID:  uid,
	}
}

// helmRender lints and renders the chart with values; both must succeed.
func helmRender(t *testing.T, values string) (string, []HelmObject) {
	t.Helper()
	bin := helmBinary(t)
	if _, err := helm(t, bin, "lint", values, "--strict"); err != nil {
		t.Fatalf("helm lint --strict: %v", err)
	}
	out, err := helm(t, bin, "template", values)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	objs, err := ParseHelmTemplate(out)
	if err != nil {
		t.Fatalf("parse the rendered chart: %v", err)
	}
	return out, objs
}

func helmOne(t *testing.T, objs []HelmObject, kind string) HelmObject {
	t.Helper()
	var found []HelmObject
	for _, o := range objs {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(found))
	}
	return found[0]
}

func helmKinds(objs []HelmObject) []string {
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind)
	}
	slices.Sort(kinds)
	return kinds
}

func TestHelmChartDefaults(t *testing.T) {
	out, objs := helmRender(t, helmMinimal)
	if probs := CheckHelm(out, helmRules(t)); len(probs) > 0 {
		t.Errorf("deploy/helm/sesq with default values:\n  %s", strings.Join(probs, "\n  "))
	}
	want := []string{"Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"}
	if got := helmKinds(objs); !slices.Equal(got, want) {
		t.Errorf("rendered %v, want %v (KEDA and the ServiceMonitor are off by default)", got, want)
	}
	var dep helmDeploymentSpec
	if err := helmOne(t, objs, "Deployment").Spec(&dep); err != nil {
		t.Fatal(err)
	}
	if dep.Replicas == nil || *dep.Replicas != 1 {
		t.Errorf("replicas %v, want 1 without KEDA", dep.Replicas)
	}
	// 25 s drain + 20 s long poll + 15 s.
	if g := dep.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 60 {
		t.Errorf("terminationGracePeriodSeconds %v, want 60 with the defaults", g)
	}
	env := helmEnv(dep.Template.Spec.Containers[0])
	if e := env["AWS_REGION"]; e.Value == nil || *e.Value != "eu-west-1" {
		t.Errorf("AWS_REGION is not the queue URL's region eu-west-1: %+v", e)
	}
	for _, v := range helmSecretVariables {
		if _, ok := env[v]; ok {
			t.Errorf("%s is set without secret.name", v)
		}
	}
	for v, want := range map[string]string{"SESQ_PAYLOAD_BUCKETS": "", "SESQ_PAYLOAD_FETCHES": "4"} {
		if e := env[v]; e.Value == nil || *e.Value != want {
			t.Errorf("%s is %+v, want %q by default", v, e, want)
		}
	}
	for _, v := range producerOnly() {
		if _, ok := env[v]; ok {
			t.Errorf("the worker gets %s, a producer's setting", v)
		}
	}
}

func TestHelmChartWithKEDAAndServiceMonitor(t *testing.T) {
	out, objs := helmRender(t, helmEverything)
	if probs := CheckHelm(out, helmRules(t)); len(probs) > 0 {
		t.Errorf("deploy/helm/sesq with KEDA and the ServiceMonitor:\n  %s", strings.Join(probs, "\n  "))
	}
	want := []string{"Deployment", "PodDisruptionBudget", "ScaledObject", "Service", "ServiceAccount", "ServiceMonitor", "TriggerAuthentication"}
	if got := helmKinds(objs); !slices.Equal(got, want) {
		t.Errorf("rendered %v, want %v", got, want)
	}
	if got := helmOne(t, objs, "ServiceAccount").Annotations["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::123456789012:role/sesq" {
		t.Errorf("the ServiceAccount's eks.amazonaws.com/role-arn is %q", got)
	}
	var dep helmDeploymentSpec
	if err := helmOne(t, objs, "Deployment").Spec(&dep); err != nil {
		t.Fatal(err)
	}
	if dep.Replicas != nil {
		t.Errorf("replicas %d with KEDA on; KEDA owns the count", *dep.Replicas)
	}
	if g := dep.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 75 {
		t.Errorf("terminationGracePeriodSeconds %v, want 40 + 20 + 15 = 75", g)
	}
	env := helmEnv(dep.Template.Spec.Containers[0])
	for v, key := range map[string]string{"SESQ_LEDGER_KEY": "ledger-key", "SESQ_SMTP_CREDENTIALS": "smtp-credentials"} {
		e := env[v]
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "sesq" || e.ValueFrom.SecretKeyRef.Key != key {
			t.Errorf("%s is not from Secret sesq, key %s: %+v", v, key, e)
		}
	}
	if e := env["SESQ_SMTP_CA_FILE"]; e.Value == nil || *e.Value != "/etc/sesq/smtp-ca/ca.pem" {
		t.Errorf("SESQ_SMTP_CA_FILE is not the mounted bundle: %+v", e)
	}
	for v, want := range map[string]string{"SESQ_PAYLOAD_BUCKETS": "mail-payloads,partner.payloads-eu", "SESQ_PAYLOAD_FETCHES": "8"} {
		if e := env[v]; e.Value == nil || *e.Value != want {
			t.Errorf("%s is %+v, want %q", v, e, want)
		}
	}
	var so helmScaledObjectSpec
	if err := helmOne(t, objs, "ScaledObject").Spec(&so); err != nil {
		t.Fatal(err)
	}
	if so.MinReplicaCount == nil || *so.MinReplicaCount != 0 || so.MaxReplicaCount == nil || *so.MaxReplicaCount != 20 || len(so.Triggers) != 1 ||
		so.Triggers[0].Metadata["awsRegion"] != "eu-west-1" || so.Triggers[0].Metadata["queueLength"] != "1000" {
		t.Errorf("ScaledObject: %+v", so)
	}
	var auth struct {
		PodIdentity map[string]string `yaml:"podIdentity"`
	}
	if err := helmOne(t, objs, "TriggerAuthentication").Spec(&auth); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"provider": "aws", "identityOwner": "workload"}; !maps.Equal(auth.PodIdentity, want) {
		t.Errorf("TriggerAuthentication podIdentity %v, want %v", auth.PodIdentity, want)
	}
}

func TestHelmChartWithLanes(t *testing.T) {
	out, objs := helmRender(t, helmLanes)
	if probs := CheckHelm(out, helmRules(t)); len(probs) > 0 {
		t.Errorf("deploy/helm/sesq with lanes:\n  %s", strings.Join(probs, "\n  "))
	}
	var dep helmDeploymentSpec
	if err := helmOne(t, objs, "Deployment").Spec(&dep); err != nil {
		t.Fatal(err)
	}
	env := helmEnv(dep.Template.Spec.Containers[0])
	for v, want := range map[string]string{
		"SESQ_QUEUES":       "transactional=https://sqs.eu-west-1.amazonaws.com/123456789012/mail:8,bulk-mail=https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk:1",
		"SESQ_DLQ_URLS":     "transactional=https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq,bulk-mail=https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk-dlq",
		"SESQ_FAIRNESS":     "off",
		"SESQ_TENANT_SHARE": "0.25",
		"AWS_REGION":        "eu-west-1",
	} {
		if e := env[v]; e.Value == nil || *e.Value != want {
			t.Errorf("%s is %+v, want %q", v, e, want)
		}
	}
	for _, v := range []string{"SESQ_QUEUE_URL", "SESQ_DLQ_URL"} {
		if _, ok := env[v]; ok {
			t.Errorf("%s is set beside lanes", v)
		}
	}
	var so helmScaledObjectSpec
	if err := helmOne(t, objs, "ScaledObject").Spec(&so); err != nil {
		t.Fatal(err)
	}
	var triggers []string
	for _, tr := range so.Triggers {
		triggers = append(triggers, tr.Name+" "+tr.Metadata["queueURL"])
	}
	if want := []string{"lane_transactional https://sqs.eu-west-1.amazonaws.com/123456789012/mail", "lane_bulk_mail https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk"}; !slices.Equal(triggers, want) {
		t.Errorf("triggers %q, want %q", triggers, want)
	}
	if sm := so.Advanced.ScalingModifiers; sm.Formula != "lane_transactional + lane_bulk_mail" || sm.Target != "500" || sm.MetricType != "AverageValue" {
		t.Errorf("scalingModifiers %+v, want the two lanes summed, held to 500 per pod", sm)
	}
}

// What the chart renders, sesq's configuration takes: the container's
// variables load for `sesq run`, one queue or lanes.
func TestHelmRenderLoads(t *testing.T) {
	for name, values := range map[string]string{"one queue": helmEverything, "lanes": helmLanes} {
		_, objs := helmRender(t, values)
		var dep helmDeploymentSpec
		if err := helmOne(t, objs, "Deployment").Spec(&dep); err != nil {
			t.Fatal(err)
		}
		for _, v := range config.Variables() {
			t.Setenv(v, "") // unset for Load, whatever this process had
		}
		for _, e := range dep.Template.Spec.Containers[0].Env {
			if strings.HasPrefix(e.Name, "SESQ_") && e.Value != nil {
				t.Setenv(e.Name, *e.Value)
			}
		}
		c, err := config.Load(config.ForRun)
		if err != nil {
			t.Errorf("%s: sesq run refuses the rendered configuration: %v", name, err)
			continue
		}
		lanes, err := c.Lanes()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if want := map[string]int{"one queue": 0, "lanes": 2}[name]; len(lanes) != want {
			t.Errorf("%s: %d lanes, want %d", name, len(lanes), want)
		}
	}
}

// Values sesq cannot run with are refused: by the schema (helm template and
// helm lint alike), or by a template's fail (helm template; helm lint
// reports a template's fail as [INFO] only, by design).
func TestHelmRefusesBrokenValues(t *testing.T) {
	bin := helmBinary(t)
	cases := []struct {
		name, values, want string
		schema             bool
	}{
		{"grace period below drain", helmMinimal + "terminationGracePeriodSeconds: 59\n", "terminationGracePeriodSeconds 59 is below", false},
		{"batch size 11", helmMinimal + "config: {batchSize: 11}\n", "/config/batchSize", true},
		{"wait time 21 s", helmMinimal + "config: {waitTimeSeconds: 21}\n", "/config/waitTimeSeconds", true},
		{"unknown transport", helmMinimal + "config: {transport: ses}\n", "/config/transport", true},
		{"unknown log level", helmMinimal + "config: {logLevel: verbose}\n", "/config/logLevel", true},
		{"no dead-letter queue", "queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail\n", "dlqUrl", true},
		{"dead-letter queue is the source", "queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail\ndlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail\n", "dlqUrl must differ", false},
		{"ledger key as a plain value", helmMinimal + "config: {ledgerKey: 0123456789abcdef0123}\n", "ledgerKey", true},
		{"SESQ_ variable through extraEnv", helmMinimal + "extraEnv: [{name: SESQ_LEDGER_KEY, value: 0123456789abcdef0123}]\n", "/extraEnv/0/name", true},
		{"misspelt setting", helmMinimal + "config: {concurency: 8}\n", "concurency", true},
		{"KEDA minimum above maximum", helmMinimal + "keda: {enabled: true, minReplicaCount: 5, maxReplicaCount: 2}\n", "keda.minReplicaCount (5) exceeds", false},
		{"KEDA without a region", "queueUrl: http://localhost:4566/000000000000/mail\ndlqUrl: http://localhost:4566/000000000000/mail-dlq\nkeda: {enabled: true}\n", "keda.awsRegion", false},
		{"KEDA workload identity without IRSA", helmMinimal + "keda: {enabled: true, auth: {identityOwner: workload}}\n", "serviceAccount.roleArn", false},
		{"no queue at all", "config: {concurrency: 8}\n", "/queueUrl", true},
		{"FIFO queue, standard dead-letter queue", "queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail.fifo\ndlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq\n", "a FIFO queue needs a FIFO dead-letter queue", false},
		{"lanes beside one queue", helmMinimal + helmLanes, "lanes exclude queueUrl and dlqUrl", false},
		{"lane given twice", helmLaneList + "  - {name: bulk-mail, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/b, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/b-dlq}\n", "the lane bulk-mail is given twice", false},
		{"lanes sharing a queue", helmLaneList + "  - {name: more, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/more-dlq}\n", "lanes bulk-mail and more share the queue", false},
		{"lane DLQ is a lane's queue", helmLaneList + "  - {name: more, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/more, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail}\n", "lanes transactional and more share the queue", false},
		{"FIFO lane, standard dead-letter queue", "lanes: [{name: orders, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/orders.fifo, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq}]\n", "lanes[0] (lane orders): a FIFO queue needs a FIFO dead-letter queue", false},
		{"lane without a dead-letter queue", "lanes: [{name: bulk, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk}]\n", "dlqUrl", true},
		{"lane weight 0", "lanes: [{name: bulk, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk-dlq, weight: 0}]\n", "/lanes/0/weight", true},
		{"lane weight 1001", "lanes: [{name: bulk, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk-dlq, weight: 1001}]\n", "/lanes/0/weight", true},
		{"lane name with capitals", "lanes: [{name: Bulk, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk-dlq}]\n", "/lanes/0/name", true},
		{"lane name with an underscore", "lanes: [{name: bulk_mail, queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk, dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/bulk-dlq}]\n", "/lanes/0/name", true},
		{"unknown fairness", helmMinimal + "config: {fairness: round-robin}\n", "/config/fairness", true},
		{"tenant share 0", helmMinimal + "config: {tenantShare: 0}\n", "/config/tenantShare", true},
		{"tenant share above 1", helmMinimal + "config: {tenantShare: 1.5}\n", "/config/tenantShare", true},
		{"payload bucket with capitals", helmMinimal + "config: {payloadBuckets: [Mail-Payloads]}\n", "/config/payloadBuckets/0", true},
		{"payload bucket with an underscore", helmMinimal + "config: {payloadBuckets: [mail_payloads]}\n", "/config/payloadBuckets/0", true},
		{"payload buckets as one string", helmMinimal + "config: {payloadBuckets: \"mail-payloads,other\"}\n", "/config/payloadBuckets", true},
		{"payload bucket twice", helmMinimal + "config: {payloadBuckets: [mail-payloads, mail-payloads]}\n", "/config/payloadBuckets", true},
		{"payload fetches 0", helmMinimal + "config: {payloadFetches: 0}\n", "/config/payloadFetches", true},
		{"payload fetches 1001", helmMinimal + "config: {payloadFetches: 1001}\n", "/config/payloadFetches", true},
		{"producers' bucket given to the worker", helmMinimal + "config: {payloadBucket: mail-payloads}\n", "payloadBucket", true},
	}
	for _, c := range cases {
		cmds := []string{"template"}
		if c.schema {
			cmds = append(cmds, "lint")
		}
		for _, cmd := range cmds {
			_, err := helm(t, bin, cmd, c.values)
			if err == nil {
				t.Errorf("%s: helm %s accepted it", c.name, cmd)
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: helm %s refused it without saying %q: %v", c.name, cmd, c.want, err)
			}
		}
	}
	// Past the schema, the template refuses what the schema refuses first:
	// SESQ_ variables in extraEnv, a missing queue.
	for values, want := range map[string]string{
		"dlqUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq\n":        "queueUrl: the source queue's URL is required (SESQ_QUEUE_URL), or lanes",
		"lanes: [{name: bulk, queueUrl: https://sqs.eu-west-1.amazonaws.com/1/b}]\n": "lanes[0].dlqUrl (lane bulk): every lane needs a dead-letter queue of its own",
	} {
		if _, err := helm(t, bin, "template", values, "--skip-schema-validation"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the template accepted %q without saying %q: %v", values, want, err)
		}
	}
	_, err := helm(t, bin, "template", helmMinimal+"extraEnv: [{name: SESQ_CONCURRENCY, value: \"8\"}]\n", "--skip-schema-validation")
	if err == nil || !strings.Contains(err.Error(), "extraEnv: SESQ_CONCURRENCY is a sesq setting") {
		t.Errorf("the template accepted SESQ_CONCURRENCY in extraEnv: %v", err)
	}
}

// Each broken variant of a good render with lanes is refused with the right
// reason.
func TestHelmCheckRefusesBrokenLaneRenders(t *testing.T) {
	good, _ := helmRender(t, helmLanes)
	rules := helmRules(t)
	if probs := CheckHelm(good, rules); len(probs) > 0 {
		t.Fatalf("the good render has problems: %v", probs)
	}
	const queues = "            - name: SESQ_QUEUES\n"
	cases := []struct{ name, old, new, want string }{
		{"one queue beside lanes", queues, "            - name: SESQ_QUEUE_URL\n              value: \"https://sqs.eu-west-1.amazonaws.com/123456789012/mail\"\n" + queues, "one queue or lanes, not both"},
		{"lanes without their dead-letter queues", "            - name: SESQ_DLQ_URLS\n", "            - name: SESQ_DLQ_URLS_\n", "does not get SESQ_DLQ_URLS, which sesq run requires"},
		{"a lane without a trigger", "queueURL: \"https://sqs.eu-west-1.amazonaws.com/123456789012/mail-bulk\"", "queueURL: \"https://sqs.eu-west-1.amazonaws.com/123456789012/mail\"", "want one aws-sqs-queue trigger per lane"},
		{"largest lane instead of the sum", "formula: \"lane_transactional + lane_bulk_mail\"", "formula: \"max(lane_transactional, lane_bulk_mail)\"", "want advanced.scalingModifiers.formula adding every lane's trigger"},
		{"a lane left out of the sum", "formula: \"lane_transactional + lane_bulk_mail\"", "formula: \"lane_transactional\"", "want advanced.scalingModifiers.formula adding every lane's trigger"},
		{"no sum", "    scalingModifiers:\n", "    scalingModifiers_:\n", "want advanced.scalingModifiers.formula adding every lane's trigger"},
		{"a trigger without a name", "      name: lane_bulk_mail\n", "", "want advanced.scalingModifiers.formula adding every lane's trigger"},
		{"sum without a target", "      target: \"500\"", "      target: \"0\"", "advanced.scalingModifiers.target \"0\" is not a positive number"},
		{"sum as one value for the fleet", "      metricType: AverageValue", "      metricType: Value", "want AverageValue"},
	}
	for _, c := range cases {
		if !strings.Contains(good, c.old) {
			t.Fatalf("%s: the render lacks %q", c.name, c.old)
		}
		probs := strings.Join(CheckHelm(strings.Replace(good, c.old, c.new, 1), rules), "\n")
		if !strings.Contains(probs, c.want) {
			t.Errorf("%s: problems %q, want one saying %q", c.name, probs, c.want)
		}
	}
}

// Each broken variant of a good render is refused with the right reason.
func TestHelmCheckRefusesBrokenRenders(t *testing.T) {
	good, _ := helmRender(t, helmEverything)
	rules := helmRules(t)
	if probs := CheckHelm(good, rules); len(probs) > 0 {
		t.Fatalf("the good render has problems: %v", probs)
	}
	const ledger = `            - name: SESQ_LEDGER_KEY
              valueFrom:
                secretKeyRef:
                  name: "sesq"
                  key: "ledger-key"`
	cases := []struct{ name, old, new, want string }{
		{"does not parse", "kind: Deployment", "kind: [Deployment", "does not parse"},
		{"unknown variable", "- name: SESQ_CONCURRENCY", "- name: SESQ_CONCURENCY", "SESQ_CONCURENCY, which sesq does not read"},
		{"missing variable", "            - name: SESQ_BACKOFF_MAX\n              value: \"30s\"\n", "", "does not get SESQ_BACKOFF_MAX"},
		{"no payload buckets", "            - name: SESQ_PAYLOAD_BUCKETS\n              value: \"mail-payloads,partner.payloads-eu\"\n", "", "does not get SESQ_PAYLOAD_BUCKETS"},
		{"no payload fetches", "            - name: SESQ_PAYLOAD_FETCHES\n              value: \"8\"\n", "", "does not get SESQ_PAYLOAD_FETCHES"},
		{"no dead-letter queue", "- name: SESQ_DLQ_URL\n              value: \"https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq\"", "- name: SESQ_DLQ_URL\n              value: \"\"", "does not get SESQ_DLQ_URL, which sesq run requires"},
		{"ledger key in plain text", ledger, "            - name: SESQ_LEDGER_KEY\n              value: \"0123456789abcdef0123\"", "SESQ_LEDGER_KEY is not from a Secret"},
		{"a Secret rendered", "---\n# Source: sesq/templates/serviceaccount.yaml", "---\napiVersion: v1\nkind: Secret\nmetadata: {name: sesq}\nstringData: {ledger-key: x}\n---\n# Source: sesq/templates/serviceaccount.yaml", "renders 1 Secret"},
		{"envFrom", "          env:\n", "          envFrom:\n            - configMapRef: {name: sesq}\n          env:\n", "envFrom"},
		{"liveness on /readyz", "path: /healthz", "path: /readyz", "the liveness probe asks /readyz, want /healthz"},
		{"readiness on another port", "              path: /readyz\n              port: http-metrics", "              path: /readyz\n              port: 8080", "the readiness probe asks port 8080"},
		{"HTTP server off", "value: \":9090\"", "value: \"\"", "the probes need the HTTP server"},
		{"short grace period", "terminationGracePeriodSeconds: 75", "terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds is 60 s, want at least"},
		{"no grace period", "      terminationGracePeriodSeconds: 75\n", "", "terminationGracePeriodSeconds is unset"},
		{"root", "            runAsNonRoot: true\n            runAsUser: 65532", "            runAsNonRoot: true\n            runAsUser: 0", "runAsUser is not 65532"},
		{"may run as root", "            runAsNonRoot: true\n", "            runAsNonRoot: false\n", "runAsNonRoot is not true"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"privilege escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capabilities kept", "              - ALL", "              - NET_RAW", "capabilities"},
		{"no seccomp", "              type: RuntimeDefault", "              type: Unconfined", "seccomp"},
		{"API token", "      automountServiceAccountToken: false", "      automountServiceAccountToken: true", "API token"},
		{"no memory limit", "            limits:\n              memory: 512Mi\n", "", "no memory limit"},
		{"no PodDisruptionBudget", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgetX", "want one PodDisruptionBudget"},
		{"replicas beside KEDA", "  revisionHistoryLimit: 5", "  replicas: 3\n  revisionHistoryLimit: 5", "sets replicas (3) while ScaledObject"},
		{"an HPA beside KEDA", "---\n# Source: sesq/templates/serviceaccount.yaml", "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: sesq}\nspec: {}\n---\n# Source: sesq/templates/serviceaccount.yaml", "HorizontalPodAutoscaler"},
		{"another trigger", "- type: aws-sqs-queue", "- type: aws-sqs", "want one aws-sqs-queue trigger, got 0"},
		{"another queue", "queueURL: \"https://sqs.eu-west-1.amazonaws.com/123456789012/mail\"", "queueURL: \"https://sqs.eu-west-1.amazonaws.com/123456789012/mail-dlq\"", "not SESQ_QUEUE_URL"},
		{"deprecated identityOwner", "        queueLength: \"1000\"", "        queueLength: \"1000\"\n        identityOwner: operator", "deprecated"},
		{"another auth provider", "provider: aws", "provider: aws-eks", "want podIdentity provider aws"},
		{"scales something else", "    kind: Deployment\n    name: sesq", "    kind: Deployment\n    name: other", "not the Deployment sesq"},
		{"ServiceMonitor on another port", "    - port: http-metrics\n      path: /metrics", "    - port: metrics\n      path: /metrics", "ServiceMonitor sesq does not scrape"},
	}
	for _, c := range cases {
		if !strings.Contains(good, c.old) {
			t.Fatalf("%s: the render lacks %q", c.name, c.old)
		}
		probs := strings.Join(CheckHelm(strings.Replace(good, c.old, c.new, 1), rules), "\n")
		if !strings.Contains(probs, c.want) {
			t.Errorf("%s: problems %q, want one saying %q", c.name, probs, c.want)
		}
	}
}
