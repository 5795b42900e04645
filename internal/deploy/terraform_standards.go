package deploy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// What the module owes its users beyond the wiring, as terraform-aws-modules'
// sqs and ecs modules have taught them to expect: tags on everything, a
// customer-managed key, role boundaries and paths, optional alarm actions,
// capacity providers and architecture, validated inputs, conventional
// output names, and, because a delegate sender answers for other accounts'
// bounces and complaints, SES reputation alarms and a configuration set.

// TaggableResourceTypes are the resource types of the module that take
// tags: each must have tags = var.tags. TestTofuValidate holds the list to
// the AWS provider's schema.
var TaggableResourceTypes = []string{
	"aws_appautoscaling_target",
	"aws_cloudwatch_log_group",
	"aws_cloudwatch_metric_alarm",
	"aws_dynamodb_table",
	"aws_ecs_service",
	"aws_ecs_task_definition",
	"aws_iam_policy",
	"aws_iam_role",
	"aws_s3_bucket",
	"aws_sesv2_configuration_set",
	"aws_sqs_queue",
}

// untaggedResourceTypes take no tags. A resource type in neither list is
// refused until it is put in one.
var untaggedResourceTypes = []string{
	"aws_appautoscaling_policy",
	"aws_iam_role_policy",
	"aws_iam_role_policy_attachment",
	"aws_s3_bucket_lifecycle_configuration",
	"aws_s3_bucket_ownership_controls",
	"aws_s3_bucket_policy",
	"aws_s3_bucket_public_access_block",
	"aws_s3_bucket_server_side_encryption_configuration",
	"aws_sesv2_configuration_set_event_destination",
	"aws_sqs_queue_redrive_allow_policy",
}

// wantGatedPermissions are the grants that exist only with an input, by
// policy document and by the variable the statement's for_each tests. KMS
// grants also need a kms:ViaService condition, whose services each grant
// names ("… via sqs,dynamodb"): through S3 a role gets only what it does
// with payloads, decrypting what it reads or encrypting what it writes.
var wantGatedPermissions = map[string]map[string][]string{
	"task": {
		"var.kms_key_arn": {
			"kms:Decrypt on var.kms_key_arn via sqs,dynamodb", "kms:GenerateDataKey on var.kms_key_arn via sqs,dynamodb",
			"kms:Decrypt on var.kms_key_arn via s3",
		},
		// SES authorizes a send naming a configuration set on the set too.
		"var.create_configuration_set": {
			"ses:SendEmail on local.configuration_set_arn",
			"ses:SendRawEmail on local.configuration_set_arn",
			"ses:SendTemplatedEmail on local.configuration_set_arn",
		},
		// The collector writes EMF to streams of the module's metrics log
		// group, which Terraform creates (no logs:CreateLogGroup).
		"var.adot_collector": {
			"logs:CreateLogStream on ${aws_cloudwatch_log_group.metrics.arn}:*",
			"logs:PutLogEvents on ${aws_cloudwatch_log_group.metrics.arn}:*",
		},
		// With traces only; X-Ray's PutTraceSegments has no resource.
		"var.adot_collector.traces": {"xray:PutTraceSegments on *"},
	},
	"producer": {"var.kms_key_arn": {
		"kms:Decrypt on var.kms_key_arn via sqs", "kms:GenerateDataKey on var.kms_key_arn via sqs",
		"kms:GenerateDataKey on var.kms_key_arn via s3",
	}},
	"operator": {"var.kms_key_arn": {
		"kms:Decrypt on var.kms_key_arn via sqs", "kms:GenerateDataKey on var.kms_key_arn via sqs",
		"kms:Decrypt on var.kms_key_arn via s3",
	}},
}

// resourcelessActions may be granted on the literal resource * in a
// statement gated on an input (checkGatedGrants): they have no
// resource-level permissions. Unconditional statements have their own,
// narrower rule (CheckModule).
var resourcelessActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}

// wantValidations: values each variable's validation blocks must accept and
// refuse (HCL expressions, converted to the variable's type with its
// optional attributes' defaults).
var wantValidations = []struct {
	variable       string
	accept, refuse []string
}{
	{"name", []string{`"sesq"`, `"mail_worker-2"`}, []string{`""`, `"has space"`, `"` + strings.Repeat("n", 55) + `"`}},
	{"identity_arns", []string{`["arn:aws:ses:eu-west-1:111122223333:identity/example.com"]`}, []string{`[]`, `["example.com"]`}},
	{"cpu", []string{"256", "16384"}, []string{"300"}},
	{"cpu_architecture", []string{`"X86_64"`, `"ARM64"`}, []string{`"arm64"`, `"AMD64"`}},
	{"capacity_provider_strategy",
		[]string{`[]`, `[{ capacity_provider = "FARGATE_SPOT" }]`, `[{ capacity_provider = "FARGATE", base = 1 }, { capacity_provider = "FARGATE_SPOT", weight = 3 }]`},
		[]string{`[{ capacity_provider = "EC2" }]`, `[{ capacity_provider = "FARGATE", base = 1 }, { capacity_provider = "FARGATE_SPOT", base = 1 }]`, `[{ capacity_provider = "FARGATE_SPOT", weight = 0 }]`}},
	{"kms_key_arn", []string{"null", `"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"`}, []string{`"alias/sesq"`, `"arn:aws:kms:us-east-1:111122223333:alias/sesq"`}},
	{"kms_data_key_reuse_period_seconds", []string{"60", "86400"}, []string{"59", "86401"}},
	{"iam_role_permissions_boundary", []string{"null", `"arn:aws:iam::111122223333:policy/boundary"`}, []string{`"boundary"`}},
	{"iam_role_path", []string{`"/"`, `"/sesq/"`, `"/teams/mail/"`}, []string{`"sesq"`, `"/sesq"`, `""`}},
	{"concurrency", []string{"1", "10000"}, []string{"0", "10001"}},
	{"batch_size", []string{"1", "10"}, []string{"0", "11", "2.5"}},
	{"wait_time_seconds", []string{"0", "20"}, []string{"-1", "21"}},
	{"visibility_timeout_seconds", []string{"2", "43200"}, []string{"1", "43201"}},
	{"max_attempts", []string{"1"}, []string{"0"}},
	{"max_receive_count", []string{"1", "1000"}, []string{"0", "1001"}},
	{"backoff_initial", []string{`"200ms"`, `"1m30s"`}, []string{`"200"`, `"fast"`}},
	{"shutdown_timeout_seconds", []string{"0", "115"}, []string{"-1", "116"}},
	{"http_port", []string{"1", "65535"}, []string{"0", "65536"}},
	{"log_level", []string{`"debug"`, `"info"`, `"warn"`, `"error"`}, []string{`"verbose"`, `"INFO"`}},
	{"log_format", []string{`"json"`, `"text"`}, []string{`"xml"`, `""`}},
	{"log_retention_days", []string{"0", "30", "3653"}, []string{"31"}},
	{"min_capacity", []string{"0", "5"}, []string{"-1"}},
	{"max_capacity", []string{"1"}, []string{"0"}},
	{"alarm_topic_arn", []string{"null", `"arn:aws:sns:us-east-1:111122223333:alarms"`}, []string{`"alarms"`}},
	{"bounce_rate_alarm_threshold", []string{"0.05", "0.02"}, []string{"0", "0.1", "5"}},
	{"complaint_rate_alarm_threshold", []string{"0.001", "0.0005"}, []string{"0", "0.005", "0.1"}},
	{"configuration_set_event_types", []string{`["BOUNCE", "COMPLAINT"]`}, []string{`[]`, `["BOUNCES"]`}},
	{"configuration_set_sns_topic_arn", []string{"null", `"arn:aws:sns:us-east-1:111122223333:events"`}, []string{`"events"`}},
	{"transport", []string{`"api"`, `"api-v2"`, `"smtp"`}, []string{`"ses"`, `""`}},
	{"smtp_port", []string{"587", "2587", "465", "2465"}, []string{"25"}},
	{"smtp_tls", []string{`""`, `"starttls"`, `"tls"`}, []string{`"ssl"`}},
	{"adot_collector",
		[]string{"null", "{}", "{ traces = true, trace_sample_ratio = 0.1 }", "{ cpu = 0, memory = 64 }",
			`{ image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/ecr-public/aws-observability/aws-otel-collector@sha256:` + strings.Repeat("0a", 32) + `" }`},
		[]string{`{ image = "public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0" }`, `{ image = "public.ecr.aws/aws-observability/aws-otel-collector:latest" }`,
			`{ image = "aws-otel-collector@sha256:abc" }`, "{ trace_sample_ratio = 1.5 }", "{ trace_sample_ratio = -0.1 }", "{ memory = 32 }", "{ cpu = -1 }", "{ cpu = 1.5 }"}},
	{"lanes",
		[]string{`[]`, `[{ name = "transactional", weight = 8 }, { name = "bulk" }]`, `[{ name = "orders", fifo = true }]`, `[{ name = "2nd-lane", weight = 1000 }]`,
			`[{ name = "` + strings.Repeat("l", 32) + `" }]`},
		[]string{`[{ name = "bulk" }, { name = "bulk", weight = 2 }]`, `[{ name = "bulk", weight = 0 }]`, `[{ name = "bulk", weight = 1.5 }]`, `[{ name = "bulk", weight = -1 }]`, `[{ name = "bulk", weight = 1001 }]`,
			`[{ name = "Bulk" }]`, `[{ name = "bulk_mail" }]`, `[{ name = "bulk mail" }]`, `[{ name = "" }]`, `[{ name = "` + strings.Repeat("l", 33) + `" }]`,
			`[{ name = "a" }, { name = "b" }, { name = "c" }, { name = "d" }, { name = "e" }, { name = "f" }, { name = "g" }, { name = "h" }, { name = "i" }, { name = "j" }, { name = "k" }]`}},
	{"fairness", []string{`"tenant"`, `"off"`}, []string{`"on"`, `""`, `"Tenant"`}},
	{"tenant_share", []string{"0.5", "1", "0.01"}, []string{"0", "-0.5", "1.5"}},
	{"payload_bucket_name", []string{"null", `"sesq-payloads"`, `"mail.payloads-2"`, `"abc"`, `"` + strings.Repeat("b", 63) + `"`},
		[]string{`"ab"`, `"Mail-Payloads"`, `"mail_payloads"`, `"-mail"`, `"mail-"`, `"mail..payloads"`, `"192.168.1.1"`, `"` + strings.Repeat("b", 64) + `"`}},
	{"payload_expiration_margin_days", []string{"0", "7", "3650"}, []string{"-1", "1.5", "3651"}},
	{"payload_fetches", []string{"1", "4", "1000"}, []string{"0", "1001", "2.5"}},
	{"cloudwatch_metrics_namespace", []string{`"sesq"`, `"Mail/sesq prod"`, `"mail:sesq#1"`}, []string{`""`, `"   "`, `"AWS/SES"`, `"sesq*"`, `"` + strings.Repeat("n", 256) + `"`}},
}

// wantOutputs: the outputs the community's names lead users to look for,
// and what each must be.
var wantOutputs = map[string]string{
	"queue_url":              "aws_sqs_queue.source.url",
	"queue_arn":              "aws_sqs_queue.source.arn",
	"queue_name":             "aws_sqs_queue.source.name",
	"dead_letter_queue_url":  "aws_sqs_queue.dlq.url",
	"dead_letter_queue_arn":  "aws_sqs_queue.dlq.arn",
	"dead_letter_queue_name": "aws_sqs_queue.dlq.name",
	"task_role_arn":          "aws_iam_role.task.arn",
	"producer_policy_arn":    "aws_iam_policy.producer.arn",
	"operator_policy_arn":    "aws_iam_policy.operator.arn",
	"service_name":           "aws_ecs_service.sesq.name",
	"configuration_set_name": "aws_sesv2_configuration_set.sesq.configuration_set_name",
	"metrics_log_group_name": "aws_cloudwatch_log_group.metrics.name",
	"lanes":                  "local.lane_queues",
	"payload_bucket_name":    "local.payload_bucket_name",
	"payload_bucket_arn":     "local.payload_bucket_arn",
}

// deprecatedOutputs are kept for one release under their former names.
var deprecatedOutputs = map[string]string{
	"dlq_url": "dead_letter_queue_url",
	"dlq_arn": "dead_letter_queue_arn",
}

// checkStandards lists what the module lacks of the standards above.
func checkStandards(m *Module, files map[string]string, bad func(string, ...any)) {
	checkTags(m, bad)
	checkEncryption(m, bad)
	checkRoles(m, bad)
	checkGatedGrants(m, files, bad)
	checkService(m, bad)
	checkValidations(m, bad)
	checkAlarms(m, bad)
	checkConfigurationSet(m, bad)
	checkCollector(m, files, bad)
	checkPayloads(m, bad)
	checkOutputs(m, bad)
	checkProviderIdioms(m, files, bad)
}

func resourceBlocks(m *Module) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == "resource" && len(b.Labels) == 2 {
			out = append(out, b)
		}
	}
	return out
}

func checkTags(m *Module, bad func(string, ...any)) {
	if v := m.Block("variable", "tags"); v == nil {
		bad(`want variable "tags" (a map applied to every taggable resource)`)
	} else if d, ok := m.value(attr(v, "default")); !ok || !d.Type().IsObjectType() || d.LengthInt() != 0 {
		bad("variable tags must default to {}")
	}
	for _, r := range resourceBlocks(m) {
		typ, name := r.Labels[0], r.Labels[1]
		switch {
		case slices.Contains(TaggableResourceTypes, typ):
			if !refersTo(attr(r, "tags"), "var.tags") {
				bad("%s.%s has no tags from var.tags", typ, name)
			}
		case !slices.Contains(untaggedResourceTypes, typ):
			bad("resource type %s is in neither TaggableResourceTypes nor untaggedResourceTypes (internal/deploy): say whether it takes tags", typ)
		}
	}
	if svc := m.Block("resource", "aws_ecs_service", "sesq"); svc != nil && literalString(attr(svc, "propagate_tags")) != "SERVICE" {
		bad("the service does not propagate its tags to its tasks (propagate_tags = \"SERVICE\")")
	}
}

// checkEncryption: a customer-managed key when kms_key_arn is set, and SSE
// all the same without it.
func checkEncryption(m *Module, bad func(string, ...any)) {
	if v := m.Block("variable", "kms_key_arn"); v == nil {
		bad(`want variable "kms_key_arn" (a customer-managed key for the queues and the table)`)
	} else if d, ok := m.value(attr(v, "default")); !ok || !d.IsNull() {
		bad("variable kms_key_arn must default to null (SQS-managed SSE)")
	}
	for _, name := range []string{"source", "dlq", "lane", "lane_dlq"} {
		q := m.Block("resource", "aws_sqs_queue", name)
		if q == nil {
			continue
		}
		if sse, ok := m.value(attr(q, "sqs_managed_sse_enabled")); !ok || sse.Type() != cty.Bool || !sse.True() {
			bad("queue %s has no server-side encryption without kms_key_arn (sqs_managed_sse_enabled must be true then)", name)
		}
		if !refersTo(attr(q, "kms_master_key_id"), "var.kms_key_arn") {
			bad("queue %s's kms_master_key_id is not var.kms_key_arn", name)
		}
		if !refersTo(attr(q, "kms_data_key_reuse_period_seconds"), "var.kms_data_key_reuse_period_seconds") {
			bad("queue %s's kms_data_key_reuse_period_seconds is not var.kms_data_key_reuse_period_seconds", name)
		}
	}
	tbl := m.Block("resource", "aws_dynamodb_table", "idempotency")
	sse := child(tbl, "server_side_encryption")
	if !literalBool(attr(sse, "enabled")) || !refersTo(attr(sse, "kms_key_arn"), "var.kms_key_arn") {
		bad("the idempotency table's server_side_encryption is not { enabled = true, kms_key_arn = var.kms_key_arn }")
	}
	payloadBucketEncryption(m, bad)
}

func checkRoles(m *Module, bad func(string, ...any)) {
	for _, v := range []string{"iam_role_permissions_boundary", "iam_role_path"} {
		if m.Block("variable", v) == nil {
			bad("want variable %q", v)
		}
	}
	for _, r := range m.Blocks("resource", "aws_iam_role") {
		if !refersTo(attr(r, "permissions_boundary"), "var.iam_role_permissions_boundary") {
			bad("role %s has no permissions_boundary from var.iam_role_permissions_boundary", r.Labels[1])
		}
		if !refersTo(attr(r, "path"), "var.iam_role_path") {
			bad("role %s has no path from var.iam_role_path", r.Labels[1])
		}
	}
	for _, p := range m.Blocks("resource", "aws_iam_policy") {
		if !refersTo(attr(p, "path"), "var.iam_role_path") {
			bad("policy %s has no path from var.iam_role_path", p.Labels[1])
		}
	}
}

// gate is the variable a dynamic block's for_each tests, when for_each is
// COND ? [] : [...] (or the reverse) and COND reads one variable.
func gate(forEach hclsyntax.Expression) string {
	c, ok := forEach.(*hclsyntax.ConditionalExpr)
	if !ok {
		return ""
	}
	empty := func(e hclsyntax.Expression) bool {
		t, ok := e.(*hclsyntax.TupleConsExpr)
		return ok && len(t.Exprs) == 0
	}
	if empty(c.TrueResult) == empty(c.FalseResult) {
		return ""
	}
	var vars []string
	for _, r := range refs(c.Condition) {
		if strings.HasPrefix(r, "var.") && !slices.Contains(vars, r) {
			vars = append(vars, r)
		}
	}
	if len(vars) != 1 {
		return ""
	}
	return vars[0]
}

// checkGatedGrants: grants that depend on an input are dynamic statements
// gated on it, exactly those of wantGatedPermissions; KMS is granted only
// so, and only through the services that use the key.
func checkGatedGrants(m *Module, files map[string]string, bad func(string, ...any)) {
	for _, doc := range m.Blocks("data", "aws_iam_policy_document") {
		name := doc.Labels[1]
		for _, st := range children(doc, "statement") {
			actions, _ := literalStrings(attr(st, "actions"))
			for _, a := range actions {
				if strings.HasPrefix(a, "kms:") {
					bad("policy %s grants %s whatever kms_key_arn is: KMS grants belong in a statement gated on var.kms_key_arn", name, a)
				}
			}
		}
		got := map[string][]string{}
		for _, d := range children(doc, "dynamic") {
			if len(d.Labels) != 1 || d.Labels[0] != "statement" {
				continue
			}
			g := gate(attr(d, "for_each"))
			if g == "" {
				bad("policy %s has a dynamic statement whose for_each is not COND ? [] : [...] over one variable", name)
				continue
			}
			content := child(d, "content")
			actions, ok := literalStrings(attr(content, "actions"))
			if !ok {
				bad("policy %s: a dynamic statement's actions are not a literal list", name)
				continue
			}
			res := attr(content, "resources")
			rs := resourceNames(res)
			if lits, ok := literalStrings(res); ok && len(lits) > 0 {
				if !slices.Equal(lits, []string{"*"}) || slices.ContainsFunc(actions, func(a string) bool { return !slices.Contains(resourcelessActions, a) }) {
					bad("policy %s: a statement gated on %s names literal resources %q for %q (only actions without resource-level permissions, %s, may have *)",
						name, g, lits, actions, strings.Join(resourcelessActions, ", "))
					continue
				}
				rs = lits
			}
			if len(rs) == 0 {
				bad("policy %s: a dynamic statement has no resources", name)
			}
			kms := false
			for _, a := range actions {
				via := ""
				if strings.HasPrefix(a, "kms:") {
					kms, via = true, " via "+viaServices(files, content)
				}
				for _, r := range rs {
					got[g] = append(got[g], a+" on "+r+via)
				}
			}
			if kms && !viaServiceOnly(files, content) {
				bad("policy %s grants KMS without a kms:ViaService condition naming only sqs, dynamodb or s3", name)
			}
		}
		want := wantGatedPermissions[name]
		var gates []string
		for g := range got {
			gates = append(gates, g)
		}
		for g := range want {
			if _, ok := got[g]; !ok {
				gates = append(gates, g)
			}
		}
		sort.Strings(gates)
		for _, g := range gates {
			w, gg := slices.Clone(want[g]), got[g]
			sort.Strings(w)
			sort.Strings(gg)
			if !slices.Equal(w, gg) {
				bad("policy %s's grants gated on %s are\n    %s\n  want exactly\n    %s", name, g, listOrNone(gg), listOrNone(w))
			}
		}
	}
	// The configuration set grant: a set of the module's name, in the
	// account, any region.
	if !configurationSetARN.MatchString(exprText(files, m.Local("configuration_set_arn"))) {
		bad("local configuration_set_arn is not the module's configuration set name in this account, any region: %s", exprText(files, m.Local("configuration_set_arn")))
	}
}

// resourceNames renders each resource of a statement: a reference as its
// name (aws_sqs_queue.dlq.arn), an attribute of every instance of a
// resource as a splat (values(aws_sqs_queue.lane)[*].arn is
// aws_sqs_queue.lane[*].arn), a string template as its text with each
// interpolation's references (${aws_cloudwatch_log_group.metrics.arn}:*),
// so that an ARN and a pattern built on it differ; through concat(...).
func resourceNames(e hclsyntax.Expression) []string {
	if f, ok := e.(*hclsyntax.FunctionCallExpr); ok && f.Name == "concat" {
		var out []string
		for _, a := range f.Args {
			out = append(out, resourceNames(a)...)
		}
		return out
	}
	if sp, ok := e.(*hclsyntax.SplatExpr); ok {
		return []string{splatName(sp)}
	}
	t, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok {
		return refs(e)
	}
	var out []string
	for _, el := range t.Exprs {
		if sp, ok := el.(*hclsyntax.SplatExpr); ok {
			out = append(out, splatName(sp))
			continue
		}
		tmpl, ok := el.(*hclsyntax.TemplateExpr)
		if !ok || tmpl.IsStringLiteral() {
			out = append(out, refs(el)...)
			continue
		}
		var b strings.Builder
		for _, p := range tmpl.Parts {
			if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
				b.WriteString(lit.Val.AsString())
				continue
			}
			b.WriteString("${" + strings.Join(refs(p), ",") + "}")
		}
		out = append(out, b.String())
	}
	return out
}

// splatName renders a splat over a resource's instances (or over values()
// of them) as RESOURCE[*].ATTR.
func splatName(sp *hclsyntax.SplatExpr) string {
	var attrs []string
	if rt, ok := sp.Each.(*hclsyntax.RelativeTraversalExpr); ok {
		for _, s := range rt.Traversal {
			if a, ok := s.(hcl.TraverseAttr); ok {
				attrs = append(attrs, a.Name)
			}
		}
	}
	return strings.Join(refs(sp.Source), ",") + "[*]." + strings.Join(attrs, ".")
}

// configurationSetARN is the task role's configuration set grant: the
// module's set name, in this account, in any region.
var configurationSetARN = regexp.MustCompile(`^"arn:\$\{data\.aws_partition\.current\.partition\}:ses:\*:\$\{data\.aws_caller_identity\.current\.account_id\}:configuration-set/\$\{local\.configuration_set_name\}"$`)

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, "\n    ")
}

// viaServices renders a KMS grant's kms:ViaService services, e.g. "sqs,dynamodb".
func viaServices(files map[string]string, content *hclsyntax.Block) string {
	for _, c := range children(content, "condition") {
		if literalString(attr(c, "variable")) != "kms:ViaService" {
			continue
		}
		t, ok := attr(c, "values").(*hclsyntax.TupleConsExpr)
		if !ok {
			return ""
		}
		var out []string
		for _, e := range t.Exprs {
			s := strings.TrimPrefix(exprText(files, e), `"`)
			svc, _, _ := strings.Cut(s, ".")
			out = append(out, svc)
		}
		return strings.Join(out, ",")
	}
	return ""
}

func viaServiceOnly(files map[string]string, content *hclsyntax.Block) bool {
	for _, c := range children(content, "condition") {
		if literalString(attr(c, "variable")) != "kms:ViaService" {
			continue
		}
		t, ok := attr(c, "values").(*hclsyntax.TupleConsExpr)
		if !ok || len(t.Exprs) == 0 {
			return false
		}
		for _, e := range t.Exprs {
			s := exprText(files, e)
			if !strings.HasPrefix(s, `"sqs.`) && !strings.HasPrefix(s, `"dynamodb.`) && !strings.HasPrefix(s, `"s3.`) {
				return false
			}
		}
		return true
	}
	return false
}

// checkService: capacity providers instead of a launch type when given, and
// the architecture from its variable.
func checkService(m *Module, bad func(string, ...any)) {
	svc := m.Block("resource", "aws_ecs_service", "sesq")
	if svc == nil {
		return
	}
	strategy := false
	for _, d := range children(svc, "dynamic") {
		if len(d.Labels) == 1 && d.Labels[0] == "capacity_provider_strategy" && refersTo(attr(d, "for_each"), "var.capacity_provider_strategy") {
			strategy = true
		}
	}
	if !strategy {
		bad("the service has no capacity_provider_strategy from var.capacity_provider_strategy")
	}
	lt, ok := attr(svc, "launch_type").(*hclsyntax.ConditionalExpr)
	if !ok || !refersTo(lt.Condition, "var.capacity_provider_strategy") ||
		(!isNullLiteral(lt.TrueResult) && !isNullLiteral(lt.FalseResult)) {
		bad("the service's launch_type must be null when var.capacity_provider_strategy is set (ECS refuses both)")
	}
	td := m.Block("resource", "aws_ecs_task_definition", "sesq")
	if !refersTo(attr(td, "runtime_platform", "cpu_architecture"), "var.cpu_architecture") {
		bad("the task definition's runtime_platform.cpu_architecture is not var.cpu_architecture")
	}
	tgt := m.Block("resource", "aws_appautoscaling_target", "sesq")
	guarded := false
	for _, pc := range children(child(tgt, "lifecycle"), "precondition") {
		if b, ok := attr(pc, "condition").(*hclsyntax.BinaryOpExpr); ok && b.Op == hclsyntax.OpLessThanOrEqual &&
			refersTo(b.LHS, "var.min_capacity") && refersTo(b.RHS, "var.max_capacity") {
			guarded = true
		}
	}
	if !guarded {
		bad("no precondition on the autoscaling target that min_capacity <= max_capacity")
	}
}

func isNullLiteral(e hclsyntax.Expression) bool {
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// validationFuncs are the functions validation conditions may use.
var validationFuncs = map[string]function.Function{
	"can":      tryfunc.CanFunc,
	"try":      tryfunc.TryFunc,
	"regex":    stdlib.RegexFunc,
	"contains": stdlib.ContainsFunc,
	"length":   lengthFunc,
	"floor":    stdlib.FloorFunc,
	"distinct": stdlib.DistinctFunc,
	"alltrue":  boolsFunc(true),
	"anytrue":  boolsFunc(false),
}

// lengthFunc is Terraform's length: of a string, a collection or a structure.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})

// boolsFunc is Terraform's alltrue (all) or anytrue.
func boolsFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if v.IsNull() || !v.IsKnown() {
					return cty.False, nil
				}
				if v.True() != all {
					return cty.BoolVal(!all), nil
				}
			}
			return cty.BoolVal(all), nil
		},
	})
}

// accepts evaluates a variable's validation conditions for a value given
// as an HCL expression.
func accepts(v *hclsyntax.Block, value string) (bool, error) {
	e, diags := hclsyntax.ParseExpression([]byte(value), "value", hcl.InitialPos)
	if diags.HasErrors() {
		return false, diags
	}
	val, diags := e.Value(nil)
	if diags.HasErrors() {
		return false, diags
	}
	return acceptsValue(v, val)
}

// acceptsValue converts val to the variable's type as Terraform does
// (optional attributes' defaults, then conversion) and evaluates its
// validation conditions.
func acceptsValue(v *hclsyntax.Block, val cty.Value) (bool, error) {
	if t := attr(v, "type"); t != nil {
		ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(t)
		if diags.HasErrors() {
			return false, diags
		}
		if defaults != nil && !val.IsNull() {
			val = defaults.Apply(val)
		}
		cv, err := convert.Convert(val, ty)
		if err != nil {
			return false, nil // refused by its type, before any validation
		}
		val = cv
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Labels[0]: val})},
		Functions: validationFuncs,
	}
	for _, vb := range children(v, "validation") {
		c, diags := attr(vb, "condition").Value(ctx)
		if diags.HasErrors() {
			return false, diags
		}
		if c.IsNull() || !c.IsKnown() || c.Type() != cty.Bool {
			return false, fmt.Errorf("the condition is %#v, not a bool", c)
		}
		if c.False() {
			return false, nil
		}
	}
	return true, nil
}

func checkValidations(m *Module, bad func(string, ...any)) {
	for _, w := range wantValidations {
		v := m.Block("variable", w.variable)
		if v == nil {
			bad("want variable %q", w.variable)
			continue
		}
		if len(children(v, "validation")) == 0 {
			bad("variable %s has no validation block", w.variable)
			continue
		}
		for _, val := range w.accept {
			if ok, err := accepts(v, val); err != nil {
				bad("variable %s: cannot evaluate its validation for %s: %v", w.variable, val, err)
			} else if !ok {
				bad("variable %s refuses %s", w.variable, val)
			}
		}
		for _, val := range w.refuse {
			if ok, err := accepts(v, val); err != nil {
				bad("variable %s: cannot evaluate its validation for %s: %v", w.variable, val, err)
			} else if ok {
				bad("variable %s accepts %s", w.variable, val)
			}
		}
	}
	// Every default passes its variable's validation.
	for _, v := range m.blocks {
		if v.Type != "variable" || len(children(v, "validation")) == 0 || attr(v, "default") == nil {
			continue
		}
		d, diags := attr(v, "default").Value(nil)
		if diags.HasErrors() {
			continue
		}
		if ok, err := acceptsValue(v, d); err != nil {
			bad("variable %s: cannot evaluate its validation for its default: %v", v.Labels[0], err)
		} else if !ok {
			bad("variable %s refuses its own default", v.Labels[0])
		}
	}
}

// checkAlarms: the queue alarms and the SES reputation alarms exist, and
// every alarm notifies local.alarm_actions, which is the optional topic.
func checkAlarms(m *Module, bad func(string, ...any)) {
	if v := m.Block("variable", "alarm_topic_arn"); v == nil {
		bad(`want variable "alarm_topic_arn"`)
	} else if d, ok := m.value(attr(v, "default")); !ok || !d.IsNull() {
		bad("variable alarm_topic_arn must be optional (default null: alarms without actions)")
	}
	if !refersTo(m.Local("alarm_actions"), "var.alarm_topic_arn") {
		bad("want a local alarm_actions from var.alarm_topic_arn")
	}
	var dlqAlarm, ageAlarm, laneDLQAlarm, laneAgeAlarm, bounceAlarm, complaintAlarm bool
	for _, a := range m.Blocks("resource", "aws_cloudwatch_metric_alarm") {
		name := a.Labels[1]
		if !refersTo(attr(a, "alarm_actions"), "local.alarm_actions") || !refersTo(attr(a, "ok_actions"), "local.alarm_actions") {
			bad("alarm %s does not notify local.alarm_actions (alarm_actions and ok_actions)", name)
		}
		dims := objectItems(attr(a, "dimensions"))
		ns, metric := literalString(attr(a, "namespace")), literalString(attr(a, "metric_name"))
		op := literalString(attr(a, "comparison_operator"))
		rising := op == "GreaterThanOrEqualToThreshold" || op == "GreaterThanThreshold"
		switch {
		case metric == "ApproximateNumberOfMessagesVisible" && refersTo(dims["QueueName"], "aws_sqs_queue.dlq.name"):
			dlqAlarm = true
		case metric == "ApproximateAgeOfOldestMessage" && refersTo(dims["QueueName"], "aws_sqs_queue.source.name"):
			ageAlarm = true
		case metric == "ApproximateNumberOfMessagesVisible" && refersTo(dims["QueueName"], "aws_sqs_queue.lane_dlq.name"):
			laneDLQAlarm = refersTo(attr(a, "for_each"), "local.other_lanes")
		case metric == "ApproximateAgeOfOldestMessage" && refersTo(dims["QueueName"], "aws_sqs_queue.lane.name"):
			laneAgeAlarm = refersTo(attr(a, "for_each"), "local.other_lanes") && refersTo(attr(a, "threshold"), "var.oldest_message_alarm_seconds")
		case ns == "AWS/SES" && metric == "Reputation.BounceRate" && len(dims) == 0 && rising:
			bounceAlarm = refersTo(attr(a, "threshold"), "var.bounce_rate_alarm_threshold")
		case ns == "AWS/SES" && metric == "Reputation.ComplaintRate" && len(dims) == 0 && rising:
			complaintAlarm = refersTo(attr(a, "threshold"), "var.complaint_rate_alarm_threshold")
		}
	}
	if !dlqAlarm {
		bad("no alarm on messages in the dead-letter queue")
	}
	if !ageAlarm {
		bad("no alarm on the age of the oldest message of the source queue")
	}
	if !laneDLQAlarm {
		bad("no alarm on messages in each lane's dead-letter queue (for_each = local.other_lanes)")
	}
	if !laneAgeAlarm {
		bad("no alarm on the age of the oldest message of each lane's queue (for_each = local.other_lanes, threshold var.oldest_message_alarm_seconds)")
	}
	if !bounceAlarm {
		bad("no alarm on the account's SES bounce rate (AWS/SES Reputation.BounceRate rising to var.bounce_rate_alarm_threshold)")
	}
	if !complaintAlarm {
		bad("no alarm on the account's SES complaint rate (AWS/SES Reputation.ComplaintRate rising to var.complaint_rate_alarm_threshold)")
	}
	// SES reviews an account at 5 % bounces and 0.1 % complaints: the
	// alarms must fire before that, with time to act.
	if b, ok := m.number(attr(m.Block("variable", "bounce_rate_alarm_threshold"), "default")); !ok || b >= 0.05 {
		bad("the default bounce rate alarm threshold (%v) is not below SES's review threshold, 0.05", b)
	}
	if c, ok := m.number(attr(m.Block("variable", "complaint_rate_alarm_threshold"), "default")); !ok || c >= 0.001 {
		bad("the default complaint rate alarm threshold (%v) is not below SES's review threshold, 0.001", c)
	}
}

// checkConfigurationSet: an optional configuration set in this (the
// sending) account, with reputation metrics and an event destination for
// bounces and complaints at least.
func checkConfigurationSet(m *Module, bad func(string, ...any)) {
	if v := m.Block("variable", "create_configuration_set"); v == nil {
		bad(`want variable "create_configuration_set"`)
	} else if d, ok := m.value(attr(v, "default")); !ok || d.Type() != cty.Bool || d.True() {
		bad("variable create_configuration_set must default to false")
	}
	cs := m.Block("resource", "aws_sesv2_configuration_set", "sesq")
	if cs == nil {
		bad(`want resource aws_sesv2_configuration_set "sesq"`)
		return
	}
	if !refersTo(attr(cs, "count"), "var.create_configuration_set") {
		bad("the configuration set's count is not from var.create_configuration_set")
	}
	if !literalBool(attr(cs, "reputation_options", "reputation_metrics_enabled")) {
		bad("the configuration set does not turn reputation metrics on")
	}
	var withEvents bool
	for _, d := range m.Blocks("resource", "aws_sesv2_configuration_set_event_destination") {
		if !refersTo(attr(d, "configuration_set_name"), "aws_sesv2_configuration_set.sesq.configuration_set_name") {
			continue
		}
		ed := child(d, "event_destination")
		types, ok := m.value(attr(ed, "matching_event_types"))
		if !ok || child(ed, "cloud_watch_destination") == nil && child(ed, "sns_destination") == nil {
			continue
		}
		var got []string
		for it := types.ElementIterator(); it.Next(); {
			_, t := it.Element()
			got = append(got, t.AsString())
		}
		withEvents = withEvents || slices.Contains(got, "BOUNCE") && slices.Contains(got, "COMPLAINT")
	}
	if !withEvents {
		bad("no event destination (CloudWatch or SNS) of the configuration set publishes BOUNCE and COMPLAINT by default")
	}
}

func checkOutputs(m *Module, bad func(string, ...any)) {
	for _, n := range slices.Sorted(maps.Keys(wantOutputs)) {
		o := m.Block("output", n)
		if o == nil {
			bad("want output %q", n)
		} else if !refersTo(attr(o, "value"), wantOutputs[n]) {
			bad("output %s is not %s", n, wantOutputs[n])
		}
	}
	for _, old := range slices.Sorted(maps.Keys(deprecatedOutputs)) {
		now := deprecatedOutputs[old]
		o := m.Block("output", old)
		if o == nil {
			continue
		}
		if !strings.HasPrefix(literalString(attr(o, "description")), "Deprecated: use "+now) {
			bad("output %s is kept for its former users: its description must begin %q", old, "Deprecated: use "+now)
		}
		if want := wantOutputs[now]; !refersTo(attr(o, "value"), want) {
			bad("output %s is not %s, as %s is", old, want, now)
		}
	}
}

// regionName is the attribute AWS provider v6 deprecates.
var regionName = regexp.MustCompile(`^data\.aws_region\.[^.]+\.name$`)

// checkProviderIdioms: the module works with AWS provider v6 without its
// deprecation warnings.
func checkProviderIdioms(m *Module, files map[string]string, bad func(string, ...any)) {
	for _, b := range m.blocks {
		hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
			if t, ok := n.(*hclsyntax.ScopeTraversalExpr); ok {
				if r := refs(t); len(r) == 1 && regionName.MatchString(r[0]) {
					bad("%s: %s is deprecated in AWS provider v6 (use the data source's id, or region with v6 only)", t.Range().Filename, r[0])
				}
			}
			return nil
		})
	}
	var constraint string
	for _, b := range m.blocks {
		if b.Type == "terraform" {
			if aws := objectItems(attr(child(b, "required_providers"), "aws")); aws != nil {
				constraint = literalString(aws["version"])
			}
		}
	}
	if !versionAllows(constraint, "6.0.0") {
		bad("the module's AWS provider constraint %q excludes provider v6", constraint)
	}
}

// versionAllows evaluates a provider version constraint (">= 5.30, < 7.0",
// "~> 6.0") for one version.
func versionAllows(constraint, version string) bool {
	if strings.TrimSpace(constraint) == "" {
		return false
	}
	parse := func(s string) []int {
		var out []int
		for _, p := range strings.Split(strings.TrimSpace(s), ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil
			}
			out = append(out, n)
		}
		for len(out) < 3 {
			out = append(out, 0)
		}
		return out
	}
	cmp := func(a, b []int) int { return slices.Compare(a, b) }
	v := parse(version)
	for _, c := range strings.Split(constraint, ",") {
		c = strings.TrimSpace(c)
		op := strings.TrimRight(c[:len(c)-len(strings.TrimLeft(c, "<>=!~ "))], " ")
		ref := strings.TrimSpace(c[len(op):])
		r := parse(ref)
		if r == nil {
			return false
		}
		switch op {
		case ">=":
			if cmp(v, r) < 0 {
				return false
			}
		case ">":
			if cmp(v, r) <= 0 {
				return false
			}
		case "<=":
			if cmp(v, r) > 0 {
				return false
			}
		case "<":
			if cmp(v, r) >= 0 {
				return false
			}
		case "", "=":
			if cmp(v, r) != 0 {
				return false
			}
		case "!=":
			if cmp(v, r) == 0 {
				return false
			}
		case "~>":
			// ~> 6.1 allows 6.x from 6.1; ~> 6.1.2 allows 6.1.x from 6.1.2.
			parts := len(strings.Split(ref, "."))
			upper := slices.Clone(r[:max(parts-1, 1)])
			upper[len(upper)-1]++
			for len(upper) < 3 {
				upper = append(upper, 0)
			}
			if cmp(v, r) < 0 || cmp(v, upper) >= 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
