package deploy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// HelmGraceMargin is what the chart's terminationGracePeriodSeconds leaves,
// beyond the long poll under way and the drain, for sesq to exit: the
// chart's default is shutdown timeout + wait time + this, and it refuses less.
const HelmGraceMargin = 15 * time.Second

// helmSecretVariables are the settings that must come from a Kubernetes
// Secret (secretKeyRef), never as plain values in the pod spec.
var helmSecretVariables = []string{"SESQ_LEDGER_KEY", "SESQ_SMTP_CREDENTIALS", "SESQ_SMTP_USERNAME", "SESQ_SMTP_PASSWORD"}

// queueForms are the two ways to name the queues `sesq run` reads, which
// exclude each other: one queue and its dead-letter queue, or priority
// lanes, each with its own. A deployment sets every variable of one form
// and none of the other; a required variable of a form is required only
// in that form.
var queueForms = [][]string{{"SESQ_QUEUE_URL", "SESQ_DLQ_URL"}, {"SESQ_QUEUES", "SESQ_DLQ_URLS"}}

// laneQueues reads SESQ_QUEUES ("name=URL:weight,…", the weight optional)
// into each lane's queue URL by name, in order. Only what the chart's
// checks need: sesq's own configuration checks the rest.
func laneQueues(queues string) (names, urls []string) {
	for _, part := range strings.Split(queues, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		if i := strings.LastIndexByte(u, ':'); i >= 0 {
			if _, err := strconv.Atoi(u[i+1:]); err == nil {
				u = u[:i]
			}
		}
		names, urls = append(names, name), append(urls, u)
	}
	return names, urls
}

// HelmRules is what CheckHelm holds a rendered chart to.
type HelmRules struct {
	Variables []string // every SESQ_ variable sesq reads
	Required  []string // those `sesq run` cannot do without
	Skip      []string // those a worker deployment has no use for
	ImageUID  int64    // the image's user (the Dockerfile's USER)
}

// HelmObject is one object of a rendered chart.
type HelmObject struct {
	Kind        string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	spec        yaml.Node
}

// Spec decodes the object's spec into v.
func (o HelmObject) Spec(v any) error { return o.spec.Decode(v) }

// ParseHelmTemplate splits `helm template` output into its objects.
func ParseHelmTemplate(src string) ([]HelmObject, error) {
	dec := yaml.NewDecoder(strings.NewReader(src))
	var out []HelmObject
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue // an empty document: a template that rendered nothing
		}
		var head struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name        string            `yaml:"name"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec yaml.Node `yaml:"spec"`
		}
		if err := doc.Decode(&head); err != nil {
			return nil, err
		}
		out = append(out, HelmObject{Kind: head.Kind, Name: head.Metadata.Name, Labels: head.Metadata.Labels,
			Annotations: head.Metadata.Annotations, spec: head.Spec})
	}
}

// The parts of the objects' specs that CheckHelm reads.
type (
	helmSecurityContext struct {
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
		Privileged               *bool  `yaml:"privileged"`
		Capabilities             struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	helmEnvVar struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	helmProbe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	helmContainer struct {
		Name  string `yaml:"name"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env            []helmEnvVar `yaml:"env"`
		EnvFrom        []yaml.Node  `yaml:"envFrom"`
		LivenessProbe  *helmProbe   `yaml:"livenessProbe"`
		ReadinessProbe *helmProbe   `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext helmSecurityContext `yaml:"securityContext"`
	}
	helmDeploymentSpec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				ServiceAccountName            string              `yaml:"serviceAccountName"`
				AutomountServiceAccountToken  *bool               `yaml:"automountServiceAccountToken"`
				TerminationGracePeriodSeconds *int64              `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               helmSecurityContext `yaml:"securityContext"`
				Containers                    []helmContainer     `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	helmLabelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	helmScaledObjectSpec struct {
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicaCount *int `yaml:"minReplicaCount"`
		MaxReplicaCount *int `yaml:"maxReplicaCount"`
		Advanced        struct {
			ScalingModifiers struct {
				Formula    string `yaml:"formula"`
				Target     string `yaml:"target"`
				MetricType string `yaml:"metricType"`
			} `yaml:"scalingModifiers"`
		} `yaml:"advanced"`
		Triggers []struct {
			Type              string            `yaml:"type"`
			Name              string            `yaml:"name"`
			Metadata          map[string]string `yaml:"metadata"`
			AuthenticationRef *struct {
				Name string `yaml:"name"`
				Kind string `yaml:"kind"`
			} `yaml:"authenticationRef"`
		} `yaml:"triggers"`
	}
)

// helmEnv is the container's environment by name.
func helmEnv(c helmContainer) map[string]helmEnvVar {
	env := map[string]helmEnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

// helmSelects says whether a selector's labels are all among labels.
func helmSelects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// CheckHelm lists what is wrong with a rendered chart (`helm template`
// output): the Deployment gets every SESQ_ setting, only real ones, the
// required ones with a value, the secret ones only from a Secret, and its
// queues as one queue or as lanes, not both (queueForms); the
// probes ask /healthz and /readyz on the port SESQ_HTTP_ADDR serves; the
// grace period covers the long poll and the drain; the pod runs as the
// image's non-root user with a read-only root file system, no added
// privilege and no capabilities; a PodDisruptionBudget, the metrics Service
// and a ServiceMonitor select what they should; and a KEDA ScaledObject, if
// any, scales the Deployment (which then has no replicas and no HPA of its
// own) on the source queue, or on the sum of the lanes' queues.
func CheckHelm(rendered string, r HelmRules) []string {
	objs, err := ParseHelmTemplate(rendered)
	if err != nil {
		return []string{fmt.Sprintf("the rendered chart does not parse: %v", err)}
	}
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	byKind := map[string][]HelmObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	if n := len(byKind["Secret"]); n > 0 {
		bad("the chart renders %d Secret(s); secrets come from an existing Secret (secretKeyRef)", n)
	}
	if len(byKind["Deployment"]) != 1 {
		return append(probs, fmt.Sprintf("want one Deployment, got %d", len(byKind["Deployment"])))
	}
	depObj := byKind["Deployment"][0]
	var dep helmDeploymentSpec
	if err := depObj.Spec(&dep); err != nil {
		return append(probs, fmt.Sprintf("Deployment %s: %v", depObj.Name, err))
	}
	pod := dep.Template.Spec
	if len(pod.Containers) != 1 {
		return append(probs, fmt.Sprintf("want one container in the pod, got %d", len(pod.Containers)))
	}
	c := pod.Containers[0]

	// Configuration parity: every SESQ_ variable set exists, each once.
	env := helmEnv(c)
	seen := map[string]bool{}
	for _, e := range c.Env {
		if seen[e.Name] {
			bad("the container gets %s twice", e.Name)
		}
		seen[e.Name] = true
		if strings.HasPrefix(e.Name, "SESQ_") && !slices.Contains(r.Variables, e.Name) {
			bad("the container gets %s, which sesq does not read", e.Name)
		}
	}
	if len(c.EnvFrom) > 0 {
		bad("the container takes envFrom, whose variables nobody checks; set each variable")
	}
	literal := func(name string) (string, bool) {
		if e, ok := env[name]; ok && e.Value != nil {
			return *e.Value, true
		}
		return "", false
	}
	// The queues: one form, whole, and nothing of the other. The form in
	// use is the one with a variable set; without any, the first.
	var inUse []string
	for _, f := range queueForms {
		if slices.ContainsFunc(f, func(v string) bool { s, _ := literal(v); return s != "" }) {
			inUse = append(inUse, f...)
		}
	}
	if len(inUse) > len(queueForms[0]) {
		bad("the container gets %s: one queue or lanes, not both", strings.Join(inUse, ", "))
	}
	if len(inUse) == 0 {
		inUse = queueForms[0]
	}
	otherForm := func(v string) bool {
		return !slices.Contains(inUse, v) && slices.ContainsFunc(queueForms, func(f []string) bool { return slices.Contains(f, v) })
	}
	for _, v := range inUse {
		if s, _ := literal(v); s == "" {
			bad("the container does not get %s, which sesq run requires", v)
		}
	}
	for _, v := range r.Variables {
		e, ok := env[v]
		switch {
		case slices.Contains(helmSecretVariables, v):
			if ok && (e.Value != nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
				e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "") {
				bad("%s is not from a Secret; it belongs in one (valueFrom.secretKeyRef)", v)
			}
		case !ok && !slices.Contains(r.Skip, v) && !otherForm(v):
			bad("the container does not get %s", v)
		}
	}
	for _, v := range r.Required {
		if slices.ContainsFunc(queueForms, func(f []string) bool { return slices.Contains(f, v) }) {
			continue // checked with its form, above
		}
		if e, ok := env[v]; !ok || e.Value == nil || *e.Value == "" {
			bad("the container does not get %s, which sesq run requires", v)
		}
	}

	// Probes on the port sesq serves.
	addr, _ := literal("SESQ_HTTP_ADDR")
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		bad("SESQ_HTTP_ADDR is %q; the probes need the HTTP server (:PORT)", addr)
	}
	portName := ""
	for _, p := range c.Ports {
		if strconv.Itoa(p.ContainerPort) == port {
			portName = p.Name
		}
	}
	if port != "" && portName == "" {
		bad("the container declares no port %s (SESQ_HTTP_ADDR)", port)
	}
	for _, p := range []struct {
		kind, path string
		probe      *helmProbe
	}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", "/readyz", c.ReadinessProbe}} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			bad("no %s probe (httpGet %s)", p.kind, p.path)
		case p.probe.HTTPGet.Path != p.path:
			bad("the %s probe asks %s, want %s", p.kind, p.probe.HTTPGet.Path, p.path)
		case p.probe.HTTPGet.Port != port && (portName == "" || p.probe.HTTPGet.Port != portName):
			bad("the %s probe asks port %s, sesq serves %s", p.kind, p.probe.HTTPGet.Port, port)
		}
	}

	// The grace period covers the long poll under way and the drain.
	var durations [2]time.Duration
	for i, v := range []string{"SESQ_WAIT_TIME", "SESQ_SHUTDOWN_TIMEOUT"} {
		s, _ := literal(v)
		d, err := time.ParseDuration(s)
		if err != nil {
			bad("%s is %q, not a duration the grace period can be checked against", v, s)
		}
		durations[i] = d
	}
	want := durations[0] + durations[1] + HelmGraceMargin
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < want {
		got := "unset (30 s)"
		if g != nil {
			got = fmt.Sprintf("%d s", *g)
		}
		bad("terminationGracePeriodSeconds is %s, want at least SESQ_WAIT_TIME + SESQ_SHUTDOWN_TIMEOUT + %s = %s", got, HelmGraceMargin, want)
	}

	// Least privilege: the container's settings, else the pod's.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if v := helmFirst(csc.RunAsNonRoot, psc.RunAsNonRoot); v == nil || !*v {
		bad("runAsNonRoot is not true")
	}
	if v := helmFirst(csc.RunAsUser, psc.RunAsUser); v == nil || *v != r.ImageUID {
		bad("runAsUser is not %d, the image's user", r.ImageUID)
	}
	if v := csc.ReadOnlyRootFilesystem; v == nil || !*v {
		bad("readOnlyRootFilesystem is not true")
	}
	if v := csc.AllowPrivilegeEscalation; v == nil || *v {
		bad("allowPrivilegeEscalation is not false")
	}
	if v := csc.Privileged; v != nil && *v {
		bad("the container is privileged")
	}
	if !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		bad("capabilities: want drop [ALL] and nothing added")
	}
	if csc.SeccompProfile.Type != "RuntimeDefault" && (csc.SeccompProfile.Type != "" || psc.SeccompProfile.Type != "RuntimeDefault") {
		bad("the seccomp profile is not RuntimeDefault")
	}
	if v := pod.AutomountServiceAccountToken; v == nil || *v {
		bad("the pod mounts a Kubernetes API token; sesq never calls the API (automountServiceAccountToken: false)")
	}
	for _, k := range []string{"cpu", "memory"} {
		if c.Resources.Requests[k] == "" {
			bad("no %s request", k)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		bad("no memory limit")
	}

	// The objects around the pods.
	podLabels := dep.Template.Metadata.Labels
	if sa := pod.ServiceAccountName; sa == "" {
		bad("the pod names no ServiceAccount (IRSA and EKS Pod Identity bind a role to one)")
	} else if len(byKind["ServiceAccount"]) > 0 && !slices.ContainsFunc(byKind["ServiceAccount"], func(o HelmObject) bool { return o.Name == sa }) {
		bad("the pod's ServiceAccount %s is not the one the chart renders", sa)
	}
	pdbs := 0
	for _, o := range byKind["PodDisruptionBudget"] {
		var spec struct {
			Selector helmLabelSelector `yaml:"selector"`
		}
		if o.Spec(&spec) == nil && helmSelects(spec.Selector.MatchLabels, podLabels) {
			pdbs++
		}
	}
	if pdbs != 1 {
		bad("want one PodDisruptionBudget selecting the pods, got %d", pdbs)
	}
	metricsPorts := map[string]map[string]string{} // by Service: its port names to the metrics port
	for _, o := range byKind["Service"] {
		var spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		}
		if err := o.Spec(&spec); err != nil || !helmSelects(spec.Selector, podLabels) {
			bad("Service %s does not select the pods", o.Name)
			continue
		}
		ports := map[string]string{}
		for _, p := range spec.Ports {
			if p.TargetPort == port || (portName != "" && p.TargetPort == portName) {
				ports[p.Name] = p.TargetPort
			}
		}
		if len(ports) == 0 {
			bad("Service %s has no port to %s, the metrics port", o.Name, port)
		}
		metricsPorts[o.Name] = ports
	}
	for _, o := range byKind["ServiceMonitor"] {
		var spec struct {
			Selector  helmLabelSelector `yaml:"selector"`
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		}
		if err := o.Spec(&spec); err != nil {
			bad("ServiceMonitor %s: %v", o.Name, err)
			continue
		}
		ok := false
		for _, s := range byKind["Service"] {
			if !helmSelects(spec.Selector.MatchLabels, s.Labels) {
				continue
			}
			for _, e := range spec.Endpoints {
				if _, named := metricsPorts[s.Name][e.Port]; named && e.Path == "/metrics" {
					ok = true
				}
			}
		}
		if !ok {
			bad("ServiceMonitor %s does not scrape /metrics on the metrics Service's port", o.Name)
		}
	}

	// KEDA owns the replica count when it scales the Deployment.
	auths := map[string]HelmObject{}
	for _, o := range byKind["TriggerAuthentication"] {
		auths[o.Name] = o
	}
	for _, o := range byKind["ScaledObject"] {
		var so helmScaledObjectSpec
		if err := o.Spec(&so); err != nil {
			bad("ScaledObject %s: %v", o.Name, err)
			continue
		}
		if so.ScaleTargetRef.Name != depObj.Name || (so.ScaleTargetRef.Kind != "" && so.ScaleTargetRef.Kind != "Deployment") {
			bad("ScaledObject %s scales %s %s, not the Deployment %s", o.Name, so.ScaleTargetRef.Kind, so.ScaleTargetRef.Name, depObj.Name)
		}
		if dep.Replicas != nil {
			bad("the Deployment sets replicas (%d) while ScaledObject %s scales it: each upgrade would reset the count", *dep.Replicas, o.Name)
		}
		if n := len(byKind["HorizontalPodAutoscaler"]); n > 0 {
			bad("the chart renders %d HorizontalPodAutoscaler(s) beside ScaledObject %s, which makes its own", n, o.Name)
		}
		if so.MinReplicaCount != nil && so.MaxReplicaCount != nil && *so.MinReplicaCount > *so.MaxReplicaCount {
			bad("ScaledObject %s: minReplicaCount %d exceeds maxReplicaCount %d", o.Name, *so.MinReplicaCount, *so.MaxReplicaCount)
		}
		queueURL, _ := literal("SESQ_QUEUE_URL")
		queues, _ := literal("SESQ_QUEUES")
		lanes, laneURLs := laneQueues(queues)
		sqs := 0
		var scaledOn, names []string
		for _, t := range so.Triggers {
			if t.Type != "aws-sqs-queue" {
				continue
			}
			sqs++
			scaledOn, names = append(scaledOn, t.Metadata["queueURL"]), append(names, t.Name)
			if len(lanes) == 0 && t.Metadata["queueURL"] != queueURL {
				bad("ScaledObject %s scales on queue %q, not SESQ_QUEUE_URL %q", o.Name, t.Metadata["queueURL"], queueURL)
			}
			if t.Metadata["awsRegion"] == "" {
				bad("ScaledObject %s: the aws-sqs-queue trigger has no awsRegion", o.Name)
			}
			if n, err := strconv.Atoi(t.Metadata["queueLength"]); err != nil || n < 1 {
				bad("ScaledObject %s: queueLength %q is not a positive whole number", o.Name, t.Metadata["queueLength"])
			}
			if _, ok := t.Metadata["identityOwner"]; ok {
				bad("ScaledObject %s: identityOwner in the trigger's metadata is deprecated since KEDA 2.13; use a TriggerAuthentication with podIdentity provider aws", o.Name)
			}
			if t.AuthenticationRef == nil {
				bad("ScaledObject %s: the aws-sqs-queue trigger has no authenticationRef", o.Name)
			} else if a, ok := auths[t.AuthenticationRef.Name]; ok {
				var spec struct {
					PodIdentity struct {
						Provider string `yaml:"provider"`
					} `yaml:"podIdentity"`
				}
				if a.Spec(&spec) != nil || spec.PodIdentity.Provider != "aws" {
					bad("TriggerAuthentication %s: want podIdentity provider aws", a.Name)
				}
			}
		}
		if len(lanes) == 0 {
			if sqs != 1 {
				bad("ScaledObject %s: want one aws-sqs-queue trigger, got %d", o.Name, sqs)
			}
			continue
		}
		// Lanes: a trigger per lane's queue, and, since KEDA scales on the
		// largest of its triggers, their sum (scalingModifiers) held to the
		// target per pod.
		slices.Sort(scaledOn)
		slices.Sort(laneURLs)
		if !slices.Equal(scaledOn, laneURLs) {
			bad("ScaledObject %s scales on queues %q, want one aws-sqs-queue trigger per lane of SESQ_QUEUES, on %q", o.Name, scaledOn, laneURLs)
		}
		sm := so.Advanced.ScalingModifiers
		var terms []string
		for _, t := range strings.Split(sm.Formula, "+") {
			terms = append(terms, strings.TrimSpace(t))
		}
		slices.Sort(terms)
		slices.Sort(names)
		if slices.Contains(names, "") || len(slices.Compact(slices.Clone(names))) != len(names) || !slices.Equal(terms, names) {
			bad("ScaledObject %s: KEDA scales on the largest of its triggers; want advanced.scalingModifiers.formula adding every lane's trigger, each named once (%s), got %q",
				o.Name, strings.Join(names, " + "), sm.Formula)
		}
		if n, err := strconv.ParseFloat(sm.Target, 64); err != nil || n <= 0 {
			bad("ScaledObject %s: advanced.scalingModifiers.target %q is not a positive number (the summed backlog per pod)", o.Name, sm.Target)
		}
		if sm.MetricType != "" && sm.MetricType != "AverageValue" {
			bad("ScaledObject %s: advanced.scalingModifiers.metricType is %s, want AverageValue (the summed backlog per pod)", o.Name, sm.MetricType)
		}
	}
	return probs
}

// helmFirst is the first non-nil of its arguments.
func helmFirst[T any](v ...*T) *T {
	for _, p := range v {
		if p != nil {
			return p
		}
	}
	return nil
}

// HelmImageUID reads the user id from a Dockerfile's last USER instruction
// (65532:65532 → 65532).
func HelmImageUID(dockerfile string) (int64, error) {
	uid := ""
	for _, in := range ParseDockerfile(dockerfile) {
		if in.Cmd == "USER" {
			uid, _, _ = strings.Cut(in.Args, ":")
		}
	}
	n, err := strconv.ParseInt(uid, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the Dockerfile's USER %q is not a numeric user id", uid)
	}
	return n, nil
}
