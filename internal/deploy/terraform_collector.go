package deploy

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// checkCollector: the optional AWS Distro for OpenTelemetry collector
// (collector.tf) is off unless asked for; it scrapes sesq's own port on the
// task's loopback and writes EMF to the module's metrics log group in the
// namespace of its variable; it is not essential, starts before sesq, logs
// with awslogs and has a read-only root file system; and sesq gets an
// OTLP endpoint, the collector's, only with traces. Its grants are in
// wantGatedPermissions.
func checkCollector(m *Module, files map[string]string, bad func(string, ...any)) {
	v := m.Block("variable", "adot_collector")
	if v == nil {
		bad(`want variable "adot_collector" (an optional collector of sesq's metrics and traces)`)
		return
	}
	if d, ok := m.value(attr(v, "default")); !ok || !d.IsNull() {
		bad("variable adot_collector must default to null (no collector unless asked for)")
	}
	if ns := m.Block("variable", "cloudwatch_metrics_namespace"); ns == nil {
		bad(`want variable "cloudwatch_metrics_namespace"`)
	} else if literalString(attr(ns, "default")) != "sesq" {
		bad("variable cloudwatch_metrics_namespace must default to \"sesq\"")
	}

	lg := m.Block("resource", "aws_cloudwatch_log_group", "metrics")
	if lg == nil {
		bad(`want resource aws_cloudwatch_log_group "metrics" (the collector's EMF, in a group Terraform owns)`)
	} else {
		if !refersTo(attr(lg, "count"), "var.adot_collector") {
			bad("the metrics log group's count is not from var.adot_collector")
		}
		if !refersTo(attr(lg, "retention_in_days"), "var.log_retention_days") {
			bad("the metrics log group's retention is not var.log_retention_days")
		}
	}

	// The collector's configuration.
	cfg := m.Local("adot_config")
	if cfg == nil {
		bad("want a local adot_config: the collector's configuration")
		return
	}
	scrape := lookup(cfg, "receivers", "prometheus", "config", "scrape_configs", "0")
	if target := lookup(scrape, "static_configs", "0", "targets", "0"); !refersTo(target, "var.http_port") || !loopback(exprText(files, target)) {
		bad("the collector does not scrape sesq's port: its target is %s, want \"127.0.0.1:${var.http_port}\"", orNone(exprText(files, target)))
	}
	if p := literalString(lookup(scrape, "metrics_path")); p != "/metrics" {
		bad("the collector scrapes %q, want /metrics", p)
	}
	if i := literalString(lookup(scrape, "scrape_interval")); i != "60s" {
		bad("the collector scrapes every %q, want 60s (CloudWatch's standard resolution)", i)
	}
	emf := lookup(cfg, "exporters", "awsemf")
	if !refersTo(lookup(emf, "namespace"), "var.cloudwatch_metrics_namespace") {
		bad("the collector's awsemf namespace is not var.cloudwatch_metrics_namespace")
	}
	if !refersTo(lookup(emf, "log_group_name"), "aws_cloudwatch_log_group.metrics.name") {
		bad("the collector's awsemf log group is not aws_cloudwatch_log_group.metrics (the task role may write that one only)")
	}
	if lookup(emf, "metric_declarations") == nil {
		bad("the collector's awsemf exporter declares no metrics: every label combination of every series would become a metric")
	}
	otlp := literalString(lookup(cfg, "receivers", "otlp", "protocols", "http", "endpoint"))
	if otlp == "" || !loopback(otlp) {
		bad("the collector's OTLP/HTTP receiver listens on %q, want the task's loopback (127.0.0.1:4318)", otlp)
	}
	pipelines := lookup(cfg, "service", "pipelines")
	for name, want := range map[string][2]string{"metrics": {"prometheus", "awsemf"}, "traces": {"otlp", "awsxray"}} {
		rec, _ := literalStrings(lookup(pipelines, name, "receivers"))
		exp, _ := literalStrings(lookup(pipelines, name, "exporters"))
		if !slices.Contains(rec, want[0]) || !slices.Contains(exp, want[1]) {
			bad("the collector has no %s pipeline from %s to %s", name, want[0], want[1])
		}
	}

	// The container.
	name := literalString(m.Local("adot_container_name"))
	ctrs, ok := m.Local("adot_containers").(*hclsyntax.ForExpr)
	if !ok || name == "" {
		bad("want a local adot_containers, a for expression of the collector's container, and a local adot_container_name")
		return
	}
	ctr := ctrs.ValExpr
	if !refersTo(lookup(ctr, "name"), "local.adot_container_name") {
		bad("the collector's container is not named local.adot_container_name")
	}
	if e := lookup(ctr, "essential"); e == nil || !isFalse(e) {
		bad("the collector is essential: when it stops, ECS would stop the task and sesq with it (want essential = false)")
	}
	if !literalBool(lookup(ctr, "readonlyRootFilesystem")) {
		bad("the collector's root file system is writable (it writes nothing: want readonlyRootFilesystem = true)")
	}
	if literalString(lookup(ctr, "logConfiguration", "logDriver")) != "awslogs" {
		bad("the collector does not log with awslogs")
	}
	if !refersTo(lookup(ctr, "image"), ctrs.ValVar+".image") {
		bad("the collector's image is not adot_collector.image")
	}
	config := false
	if env, ok := lookup(ctr, "environment").(*hclsyntax.TupleConsExpr); ok {
		for _, e := range env.Exprs {
			config = config || literalString(lookup(e, "name")) == "AOT_CONFIG_CONTENT" && refersTo(lookup(e, "value"), "local.adot_config")
		}
	}
	if !config {
		bad("the collector does not get local.adot_config as AOT_CONFIG_CONTENT")
	}

	// sesq beside it.
	starts := false
	if deps, ok := lookup(m.Local("sesq_beside_adot"), "dependsOn").(*hclsyntax.TupleConsExpr); ok {
		for _, d := range deps.Exprs {
			starts = starts || refersTo(lookup(d, "containerName"), "local.adot_container_name") && literalString(lookup(d, "condition")) == "START"
		}
	}
	if !starts {
		bad("sesq does not wait for the collector to start (want dependsOn = [{ containerName = local.adot_container_name, condition = \"START\" }] in local.sesq_beside_adot)")
	}
	td := m.Block("resource", "aws_ecs_task_definition", "sesq")
	for _, l := range []string{"local.adot_containers", "local.sesq_beside_adot", "local.otel_environment"} {
		if !refersTo(attr(td, "container_definitions"), l) {
			bad("the task definition's containers do not use %s", l)
		}
	}

	// Tracing: sesq exports to the collector's receiver, with traces only.
	for k := range objectItems(m.Local("environment")) {
		if strings.HasPrefix(k, "OTEL_") {
			bad("the container always gets %s: sesq's OTEL_ settings belong in local.otel_environment, with traces only", k)
		}
	}
	oe, ok := m.Local("otel_environment").(*hclsyntax.ConditionalExpr)
	if !ok || !slices.Equal(varRefs(oe.Condition), []string{"var.adot_collector.traces"}) || len(objectItems(oe.FalseResult)) != 0 {
		bad("local otel_environment must be COND ? {...} : {} with COND on var.adot_collector.traces: sesq exports spans only with traces")
		return
	}
	endpoint := literalString(objectItems(oe.TrueResult)["OTEL_EXPORTER_OTLP_ENDPOINT"])
	if u, err := url.Parse(endpoint); err != nil || u.Scheme != "http" || u.Host != otlp || strings.Trim(u.Path, "/") != "" {
		bad("OTEL_EXPORTER_OTLP_ENDPOINT %q does not point at the collector's OTLP/HTTP receiver (http://%s)", endpoint, otlp)
	}
}

// lookup descends through an expression by object keys and tuple indexes
// ("0"), looking through function calls (merge, jsonencode), both results
// of a conditional and the value of a for expression; nil if not found.
// With no path it is e itself.
func lookup(e hclsyntax.Expression, path ...string) hclsyntax.Expression {
	if e == nil || len(path) == 0 {
		return e
	}
	switch x := e.(type) {
	case *hclsyntax.FunctionCallExpr:
		for _, a := range x.Args {
			if r := lookup(a, path...); r != nil {
				return r
			}
		}
		return nil
	case *hclsyntax.ConditionalExpr:
		if r := lookup(x.TrueResult, path...); r != nil {
			return r
		}
		return lookup(x.FalseResult, path...)
	case *hclsyntax.ForExpr:
		return lookup(x.ValExpr, path...)
	case *hclsyntax.ParenthesesExpr:
		return lookup(x.Expression, path...)
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			if objectKey(it.KeyExpr) == path[0] {
				return lookup(it.ValueExpr, path[1:]...)
			}
		}
	case *hclsyntax.TupleConsExpr:
		if i, err := strconv.Atoi(path[0]); err == nil && i >= 0 && i < len(x.Exprs) {
			return lookup(x.Exprs[i], path[1:]...)
		}
	}
	return nil
}

func objectKey(k hclsyntax.Expression) string {
	if v, diags := k.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
		return v.AsString()
	}
	return hcl.ExprAsKeyword(k)
}

// varRefs are the distinct variables (var.X, var.X.attr) an expression reads.
func varRefs(e hclsyntax.Expression) []string {
	var out []string
	for _, r := range refs(e) {
		if strings.HasPrefix(r, "var.") && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// loopback tells whether a HOST:PORT (or its template text) is on the
// task's loopback, which only the task's containers reach.
func loopback(hostPort string) bool {
	hostPort = strings.Trim(hostPort, `"`)
	return strings.HasPrefix(hostPort, "127.0.0.1:") || strings.HasPrefix(hostPort, "localhost:")
}

func isFalse(e hclsyntax.Expression) bool {
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.Bool && v.False()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
