package deploy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The task role's permissions, exactly: (action, resource reference) pairs.
// The queues are the module's own and, with lanes, every other lane's
// (aws_sqs_queue.lane[*], one per lane after the first).
var wantTaskPermissions = []string{
	"sqs:ReceiveMessage on aws_sqs_queue.source.arn",
	"sqs:DeleteMessage on aws_sqs_queue.source.arn",
	"sqs:ChangeMessageVisibility on aws_sqs_queue.source.arn",
	"sqs:GetQueueAttributes on aws_sqs_queue.source.arn",
	"sqs:SendMessage on aws_sqs_queue.source.arn", // hand-backs and deferrals are re-enqueued with their ledger
	"sqs:SendMessage on aws_sqs_queue.dlq.arn",
	"sqs:ReceiveMessage on aws_sqs_queue.lane[*].arn",
	"sqs:DeleteMessage on aws_sqs_queue.lane[*].arn",
	"sqs:ChangeMessageVisibility on aws_sqs_queue.lane[*].arn",
	"sqs:GetQueueAttributes on aws_sqs_queue.lane[*].arn",
	"sqs:SendMessage on aws_sqs_queue.lane[*].arn",
	"sqs:SendMessage on aws_sqs_queue.lane_dlq[*].arn",
	"ses:SendEmail on var.identity_arns",
	"ses:SendRawEmail on var.identity_arns",
	"ses:SendTemplatedEmail on var.identity_arns",
	"ses:GetSendQuota on *", // account-level: no resource-level permissions
	"ses:GetAccount on *",   // the same, for the v2 API
	"dynamodb:PutItem on aws_dynamodb_table.idempotency.arn",
	"dynamodb:GetItem on aws_dynamodb_table.idempotency.arn",
	"dynamodb:UpdateItem on aws_dynamodb_table.idempotency.arn",
	"dynamodb:DeleteItem on aws_dynamodb_table.idempotency.arn",
	// Large messages: read a payload, delete it once its message is
	// finished; never write one. s3:ListBucket turns a missing payload's
	// AccessDenied into NoSuchKey, which sesq dead-letters as missing.
	"s3:GetObject on ${local.payload_bucket_arn}/*",
	"s3:DeleteObject on ${local.payload_bucket_arn}/*",
	"s3:ListBucket on local.payload_bucket_arn",
}

// wantQueueGrants: what the producer and operator policies must grant on
// every lane's queues (among their other grants): producers send to each
// lane, operators read each lane's dead letters and replay them onto the
// lanes.
var wantQueueGrants = map[string][]string{
	"producer": {
		"sqs:SendMessage on aws_sqs_queue.source.arn",
		"sqs:SendMessage on aws_sqs_queue.lane[*].arn",
	},
	"operator": {
		"sqs:ReceiveMessage on aws_sqs_queue.dlq.arn",
		"sqs:ReceiveMessage on aws_sqs_queue.lane_dlq[*].arn",
		"sqs:DeleteMessage on aws_sqs_queue.dlq.arn",
		"sqs:DeleteMessage on aws_sqs_queue.lane_dlq[*].arn",
		"sqs:SendMessage on aws_sqs_queue.source.arn",
		"sqs:SendMessage on aws_sqs_queue.lane[*].arn",
	},
}

// CheckModule lists what is wrong with the wiring of the sesq Terraform
// module: queues and redrive, IAM, the container's environment against
// sesq's configuration (configVars: every SESQ_ variable it reads; required:
// the ones run needs; skip: the ones a worker deployment has no use for),
// autoscaling and alarms; and what it lacks of the community's standards
// and of the payload bucket's settings and grants (checkStandards).
func CheckModule(files map[string]string, configVars, required, skip []string) []string {
	m, err := ParseModule(files)
	if err != nil {
		return []string{err.Error()}
	}
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	// Queues.
	src, dlq := m.Block("resource", "aws_sqs_queue", "source"), m.Block("resource", "aws_sqs_queue", "dlq")
	if src == nil || dlq == nil {
		return append(probs, `want resources aws_sqs_queue "source" and "dlq"`)
	}
	redrive := objectItems(attr(src, "redrive_policy"))
	if !refersTo(redrive["deadLetterTargetArn"], "aws_sqs_queue.dlq.arn") {
		bad("the source queue's redrive target is not aws_sqs_queue.dlq.arn")
	}
	if !refersTo(redrive["maxReceiveCount"], "var.max_receive_count") {
		bad("the source queue's maxReceiveCount is not var.max_receive_count")
	}
	mrc, ok1 := m.number(attr(m.Block("variable", "max_receive_count"), "default"))
	att, ok2 := m.number(attr(m.Block("variable", "max_attempts"), "default"))
	if !ok1 || !ok2 || mrc <= att {
		bad("the default max_receive_count (%v) must exceed the default max_attempts (%v)", mrc, att)
	}
	guarded := false
	if lc := child(src, "lifecycle"); lc != nil {
		for _, pc := range children(lc, "precondition") {
			c := attr(pc, "condition")
			if b, ok := c.(*hclsyntax.BinaryOpExpr); ok && b.Op == hclsyntax.OpGreaterThan &&
				refersTo(b.LHS, "var.max_receive_count") && refersTo(b.RHS, "var.max_attempts") {
				guarded = true
			}
		}
	}
	if !guarded {
		bad("no precondition on the source queue that max_receive_count > max_attempts")
	}
	if !refersTo(attr(src, "visibility_timeout_seconds"), "var.visibility_timeout_seconds") {
		bad("the source queue's visibility timeout is not var.visibility_timeout_seconds")
	}
	if ret, ok := m.number(attr(dlq, "message_retention_seconds")); !ok || ret != 14*24*3600 {
		bad("the dead-letter queue's retention is %v s, want 14 days", ret)
	}

	// The lanes after the first: a queue and a dead-letter queue each, set
	// up as the first lane's (the module's own).
	lane, laneDLQ := m.Block("resource", "aws_sqs_queue", "lane"), m.Block("resource", "aws_sqs_queue", "lane_dlq")
	if lane == nil || laneDLQ == nil {
		bad(`want resources aws_sqs_queue "lane" and "lane_dlq": the queues of each lane after the first`)
	} else {
		for _, q := range []*hclsyntax.Block{lane, laneDLQ} {
			if !refersTo(attr(q, "for_each"), "local.other_lanes") {
				bad("aws_sqs_queue.%s is not one per lane after the first (for_each = local.other_lanes)", q.Labels[1])
			}
		}
		lr := objectItems(attr(lane, "redrive_policy"))
		if !refersTo(lr["deadLetterTargetArn"], "aws_sqs_queue.lane_dlq.arn") {
			bad("a lane queue's redrive target is not its own dead-letter queue (aws_sqs_queue.lane_dlq[each.key].arn)")
		}
		if !refersTo(lr["maxReceiveCount"], "var.max_receive_count") {
			bad("a lane queue's maxReceiveCount is not var.max_receive_count")
		}
		if !refersTo(attr(lane, "visibility_timeout_seconds"), "var.visibility_timeout_seconds") {
			bad("a lane queue's visibility timeout is not var.visibility_timeout_seconds")
		}
		if ret, ok := m.number(attr(laneDLQ, "message_retention_seconds")); !ok || ret != 14*24*3600 {
			bad("a lane dead-letter queue's retention is %v s, want 14 days", ret)
		}
	}
	if first := m.Local("first_lane"); !refersTo(first, "var.lanes") {
		bad("want a local first_lane from var.lanes: the lane the module's own queues serve")
	}
	if other := m.Local("other_lanes"); !refersTo(other, "var.lanes") {
		bad("want a local other_lanes from var.lanes: the lanes after the first, by name")
	}
	// SQS requires a FIFO queue's dead-letter queue to be FIFO too: each
	// pair takes fifo_queue from the same lane's fifo.
	for _, pair := range [][2]string{{"source", "dlq"}, {"lane", "lane_dlq"}} {
		q, d := m.Block("resource", "aws_sqs_queue", pair[0]), m.Block("resource", "aws_sqs_queue", pair[1])
		if q == nil || d == nil {
			continue
		}
		qf, df := refs(attr(q, "fifo_queue")), refs(attr(d, "fifo_queue"))
		slices.Sort(qf)
		slices.Sort(df)
		if len(qf) == 0 || !slices.Equal(qf, df) {
			bad("queues %s and %s are not FIFO together (fifo_queue from the same lane's fifo): a FIFO queue's dead-letter queue must be FIFO", pair[0], pair[1])
		}
	}
	allowed := map[string]bool{}
	for _, a := range m.Blocks("resource", "aws_sqs_queue_redrive_allow_policy") {
		switch q, p := attr(a, "queue_url"), attr(a, "redrive_allow_policy"); {
		case refersTo(q, "aws_sqs_queue.dlq.id") && refersTo(p, "aws_sqs_queue.source.arn"):
			allowed["dlq"] = true
		case refersTo(q, "aws_sqs_queue.lane_dlq.id") && refersTo(p, "aws_sqs_queue.lane.arn") && refersTo(attr(a, "for_each"), "local.other_lanes"):
			allowed["lane_dlq"] = true
		default:
			bad("aws_sqs_queue_redrive_allow_policy.%s is not on a dead-letter queue naming its own queue", a.Labels[1])
		}
	}
	if !allowed["dlq"] {
		bad("want one aws_sqs_queue_redrive_allow_policy on the dead-letter queue naming the source queue")
	}
	if !allowed["lane_dlq"] {
		bad("want an aws_sqs_queue_redrive_allow_policy on each lane's dead-letter queue naming that lane's queue")
	}

	// IAM.
	doc := m.Block("data", "aws_iam_policy_document", "task")
	var got []string
	if doc == nil {
		bad(`want data aws_iam_policy_document "task"`)
	} else {
		for _, st := range children(doc, "statement") {
			if e := attr(st, "effect"); e != nil && literalString(e) != "Allow" {
				bad("the task policy has a statement with effect %q", literalString(e))
			}
			actions, ok := literalStrings(attr(st, "actions"))
			if !ok {
				bad("a task policy statement's actions are not a literal list")
				continue
			}
			res := attr(st, "resources")
			if lits, ok := literalStrings(res); ok && len(lits) > 0 {
				if !slices.Equal(lits, []string{"*"}) || !slices.Equal(actions, []string{"ses:GetSendQuota", "ses:GetAccount"}) {
					bad("a task policy statement names literal resources %q for %q (only ses:GetSendQuota and ses:GetAccount may have *)", lits, actions)
					continue
				}
				got = append(got, "ses:GetSendQuota on *", "ses:GetAccount on *")
				continue
			}
			rs := resourceNames(res)
			if len(rs) == 0 {
				bad("a task policy statement has no resources")
			}
			for _, a := range actions {
				for _, r := range rs {
					got = append(got, a+" on "+r)
				}
			}
		}
	}
	sort.Strings(got)
	want := slices.Clone(wantTaskPermissions)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		bad("the task role's permissions are\n    %s\n  want exactly\n    %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
	for _, name := range slices.Sorted(maps.Keys(wantQueueGrants)) {
		doc := m.Block("data", "aws_iam_policy_document", name)
		var got []string
		for _, st := range children(doc, "statement") {
			actions, _ := literalStrings(attr(st, "actions"))
			for _, a := range actions {
				for _, r := range resourceNames(attr(st, "resources")) {
					got = append(got, a+" on "+r)
				}
			}
		}
		for _, w := range wantQueueGrants[name] {
			if !slices.Contains(got, w) {
				bad("policy %s does not grant %s", name, w)
			}
		}
	}
	rolePolicies := m.Blocks("resource", "aws_iam_role_policy")
	for _, rp := range rolePolicies {
		if refersTo(attr(rp, "role"), "aws_iam_role.task.id") && !refersTo(attr(rp, "policy"), "data.aws_iam_policy_document.task.json") {
			bad("the task role has a policy other than aws_iam_policy_document.task")
		}
	}
	for _, pa := range m.Blocks("resource", "aws_iam_role_policy_attachment") {
		if refersTo(attr(pa, "role"), "aws_iam_role.task.name") {
			bad("a managed policy is attached to the task role")
		}
	}
	prod := m.Block("data", "aws_iam_policy_document", "producer")
	if prod == nil || m.Block("output", "producer_policy_arn") == nil {
		bad("want a producer policy document and a producer_policy_arn output")
	} else if !slices.ContainsFunc(children(prod, "statement"), func(st *hclsyntax.Block) bool {
		actions, _ := literalStrings(attr(st, "actions"))
		return slices.Contains(actions, "sqs:SendMessage") && refersTo(attr(st, "resources"), "aws_sqs_queue.source.arn")
	}) {
		bad("the producer policy does not grant sqs:SendMessage on the source queue")
	}

	// The service: the container gets every SESQ_ setting, and only real ones.
	env := objectItems(m.Local("environment"))
	if env == nil {
		bad("want a local environment: an object of the container's variables")
	}
	for k := range env {
		if strings.HasPrefix(k, "SESQ_") && !slices.Contains(configVars, k) {
			bad("the container gets %s, which sesq does not read", k)
		}
	}
	secrets := exprText(files, m.Local("secrets"))
	for _, v := range configVars {
		if _, ok := env[v]; !ok && !slices.Contains(skip, v) && !strings.Contains(secrets, `"`+v+`"`) {
			bad("the container does not get %s", v)
		}
	}
	for _, v := range []string{"SESQ_SMTP_USERNAME", "SESQ_SMTP_PASSWORD", "SESQ_SMTP_CREDENTIALS", "SESQ_LEDGER_KEY"} {
		if _, ok := env[v]; ok {
			bad("%s is a plain variable; it belongs in the container's secrets", v)
		}
	}
	for _, v := range required {
		if e, ok := env[v]; ok && len(refs(e)) == 0 {
			if literalString(e) == "" {
				bad("%s is set empty", v)
			}
		}
	}
	if !refersTo(env["SESQ_QUEUE_URL"], "aws_sqs_queue.source.url") || !refersTo(env["SESQ_DLQ_URL"], "aws_sqs_queue.dlq.url") {
		bad("SESQ_QUEUE_URL and SESQ_DLQ_URL must be the module's queues")
	}
	// The one-queue form and lanes exclude each other: with lanes the
	// one-queue variables are empty (unset), and the lanes' are each lane's
	// queues from local.lane_queues.
	if !refersTo(m.Local("lanes_on"), "var.lanes") {
		bad("want a local lanes_on from var.lanes")
	}
	for _, v := range []string{"SESQ_QUEUE_URL", "SESQ_DLQ_URL"} {
		c, ok := env[v].(*hclsyntax.ConditionalExpr)
		if !ok || !slices.Equal(refs(c.Condition), []string{"local.lanes_on"}) || !isEmptyString(c.TrueResult) {
			bad("%s must be empty with lanes (local.lanes_on ? \"\" : …): SESQ_QUEUES and the one-queue form exclude each other", v)
		}
	}
	for v, field := range map[string]string{"SESQ_QUEUES": "queue_url", "SESQ_DLQ_URLS": "dead_letter_queue_url"} {
		e := env[v]
		if !refersTo(e, "var.lanes") || !refersTo(e, "local.lane_queues") || !strings.Contains(exprText(files, e), "]."+field+"}") {
			bad("%s is not every lane of var.lanes with its %s from local.lane_queues", v, field)
		}
	}
	if !strings.Contains(exprText(files, env["SESQ_QUEUES"]), ".weight}") {
		bad("SESQ_QUEUES does not carry each lane's weight (NAME=URL:WEIGHT)")
	}
	lq := m.Local("lane_queues")
	for _, r := range []string{"aws_sqs_queue.source.url", "aws_sqs_queue.dlq.url", "aws_sqs_queue.lane", "aws_sqs_queue.lane_dlq.url", "local.first_lane.name", "local.lanes_on"} {
		if !refersTo(lq, r) {
			bad("local lane_queues does not use %s: it maps the first lane to the module's queues and the others to aws_sqs_queue.lane and lane_dlq", r)
		}
	}
	if !refersTo(env["SESQ_IDEMPOTENCY_TABLE"], "aws_dynamodb_table.idempotency.name") {
		bad("SESQ_IDEMPOTENCY_TABLE is not the module's table")
	}
	if tbl := m.Block("resource", "aws_dynamodb_table", "idempotency"); tbl == nil || literalString(attr(tbl, "hash_key")) != "pk" ||
		literalString(attr(child(tbl, "ttl"), "attribute_name")) != "expires" {
		bad(`want resource aws_dynamodb_table "idempotency" with hash key pk and TTL attribute expires (what internal/idempotency writes)`)
	}
	if !refersTo(env["SESQ_PAYLOAD_BUCKETS"], "local.payload_bucket_name") || len(refs(env["SESQ_PAYLOAD_BUCKETS"])) != 1 {
		bad("SESQ_PAYLOAD_BUCKETS is not the payload bucket (local.payload_bucket_name), the one the task role may read")
	}
	if !refersTo(env["SESQ_PAYLOAD_FETCHES"], "var.payload_fetches") {
		bad("SESQ_PAYLOAD_FETCHES is not var.payload_fetches")
	}
	if !refersTo(env["SESQ_VISIBILITY_TIMEOUT"], "var.visibility_timeout_seconds") {
		bad("SESQ_VISIBILITY_TIMEOUT is not the queue's visibility timeout")
	}
	td := m.Block("resource", "aws_ecs_task_definition", "sesq")
	cd := attr(td, "container_definitions")
	if td == nil || cd == nil {
		bad(`want resource aws_ecs_task_definition "sesq" with container_definitions`)
	} else {
		if !refersTo(cd, "local.environment") {
			bad("the container definition does not pass local.environment")
		}
		if !refersTo(cd, "local.secrets") {
			bad("the container definition does not pass local.secrets")
		}
		if !refersTo(cd, "local.stop_timeout") {
			bad("the container definition sets no stopTimeout from local.stop_timeout")
		}
		stop, ok := m.number(m.Local("stop_timeout"))
		shut, ok2 := m.number(attr(m.Block("variable", "shutdown_timeout_seconds"), "default"))
		if !ok || !ok2 || stop <= shut || stop > 120 {
			bad("stopTimeout %v s must exceed SESQ_SHUTDOWN_TIMEOUT %v s (and Fargate allows 120 at most)", stop, shut)
		}
		if literalString(attr(td, "network_mode")) != "awsvpc" {
			bad("the task's network mode is not awsvpc")
		}
		if !strings.Contains(exprText(files, cd), `"awslogs"`) {
			bad("the container does not log with awslogs")
		}
	}

	// Autoscaling: on the service, from the queue.
	tgt := m.Block("resource", "aws_appautoscaling_target", "sesq")
	pol := m.Blocks("resource", "aws_appautoscaling_policy")
	if tgt == nil || len(pol) != 1 {
		bad("want one aws_appautoscaling_target \"sesq\" and one policy")
	} else {
		if !refersTo(attr(tgt, "resource_id"), "aws_ecs_service.sesq.name") {
			bad("autoscaling does not target the ECS service")
		}
		if !refersTo(attr(pol[0], "resource_id"), "aws_appautoscaling_target.sesq.resource_id") {
			bad("the scaling policy is not on the scaling target")
		}
		if c := child(pol[0], "target_tracking_scaling_policy_configuration"); c == nil || !refersTo(attr(c, "target_value"), "var.backlog_per_task_target") {
			bad("the scaling policy does not track var.backlog_per_task_target")
		}
		queueMetric, laneMetric, taskMetric, expr, sum := false, false, false, false, false
		if spec := child(child(pol[0], "target_tracking_scaling_policy_configuration"), "customized_metric_specification"); spec != nil {
			// The lanes after the first: a metric each, whose id the
			// expression's sum names.
			for _, d := range children(spec, "dynamic") {
				content := child(d, "content")
				metric := child(child(content, "metric_stat"), "metric")
				var queue hclsyntax.Expression
				for _, dim := range children(metric, "dimensions") {
					if literalString(attr(dim, "name")) == "QueueName" {
						queue = attr(dim, "value")
					}
				}
				laneMetric = laneMetric || len(d.Labels) == 1 && d.Labels[0] == "metrics" &&
					refersTo(attr(d, "for_each"), "local.lane_metric_ids") && refersTo(attr(content, "id"), "metrics.value") &&
					literalString(attr(metric, "metric_name")) == "ApproximateNumberOfMessagesVisible" && refersTo(queue, "aws_sqs_queue.lane.name")
			}
			for _, mb := range children(spec, "metrics") {
				if e := attr(mb, "expression"); e != nil && literalBool(attr(mb, "return_data")) {
					visible := m.Local("visible_messages")
					t := exprText(files, e) + " " + exprText(files, visible)
					expr = strings.Contains(t, "visible") && strings.Contains(t, "tasks")
					sum = refersTo(e, "local.visible_messages") && refersTo(visible, "local.lane_metric_ids") &&
						strings.Contains(exprText(files, visible), `" + "`)
				}
				metric := child(child(mb, "metric_stat"), "metric")
				if metric == nil {
					continue
				}
				dims := map[string]hclsyntax.Expression{}
				for _, d := range children(metric, "dimensions") {
					dims[literalString(attr(d, "name"))] = attr(d, "value")
				}
				switch literalString(attr(metric, "metric_name")) {
				case "ApproximateNumberOfMessagesVisible":
					queueMetric = refersTo(dims["QueueName"], "aws_sqs_queue.source.name")
				case "RunningTaskCount":
					taskMetric = refersTo(dims["ServiceName"], "aws_ecs_service.sesq.name")
				}
			}
		}
		if !queueMetric {
			bad("the scaling metric does not read ApproximateNumberOfMessagesVisible of aws_sqs_queue.source.name")
		}
		if !taskMetric {
			bad("the scaling metric does not read RunningTaskCount of aws_ecs_service.sesq.name")
		}
		if !expr {
			bad("the scaling metric returns no expression of visible messages over tasks")
		}
		if !laneMetric || !refersTo(m.Local("lane_metric_ids"), "local.other_lanes") {
			bad("the scaling metric does not read ApproximateNumberOfMessagesVisible of each lane's queue (a dynamic metrics block over local.lane_metric_ids, from local.other_lanes, on aws_sqs_queue.lane)")
		}
		if !sum {
			bad("the scaling expression does not sum the visible messages of every lane (local.visible_messages, adding the ids of local.lane_metric_ids)")
		}
	}

	// Tags, encryption, roles, gated grants, capacity, validations, alarms,
	// the configuration set, outputs and provider idioms.
	checkStandards(m, files, bad)
	return probs
}

// literalString evaluates a literal string expression ("" otherwise).
func literalString(e hclsyntax.Expression) string {
	if e == nil {
		return ""
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// isEmptyString tells whether e is the literal "".
func isEmptyString(e hclsyntax.Expression) bool {
	if e == nil {
		return false
	}
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String && v.AsString() == ""
}

// literalBool evaluates a literal bool expression (false otherwise).
func literalBool(e hclsyntax.Expression) bool {
	if e == nil {
		return false
	}
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.Bool && v.True()
}

// exprText is the source text of an expression ("" for none).
func exprText(files map[string]string, e hclsyntax.Expression) string {
	if e == nil {
		return ""
	}
	r := e.Range()
	return files[r.Filename][r.Start.Byte:r.End.Byte]
}
