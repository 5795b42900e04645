package deploy

import (
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Large messages: payloads too large for an SQS message wait in an S3
// bucket (SQS Extended Client pointers). The module creates the bucket
// unless given an existing one, and grants each role on it exactly what
// it does with payloads.

// wantPayloadGrants are the S3 permissions of the producer and operator
// policies, exactly (the task role's are in wantTaskPermissions): producers
// only write (a producer has no business reading other producers' mail);
// operators read (dlq inspect) and delete (dlq purge). s3:ListBucket makes
// S3 answer a missing object with NoSuchKey instead of AccessDenied, so
// that a missing payload is told from one that may not be read.
var wantPayloadGrants = map[string][]string{
	"producer": {"s3:PutObject on ${local.payload_bucket_arn}/*"},
	"operator": {
		"s3:GetObject on ${local.payload_bucket_arn}/*",
		"s3:DeleteObject on ${local.payload_bucket_arn}/*",
		"s3:ListBucket on local.payload_bucket_arn",
	},
}

// payloadResources are the bucket and its settings, each created only with
// create_payload_bucket.
var payloadResources = []string{
	"aws_s3_bucket",
	"aws_s3_bucket_public_access_block",
	"aws_s3_bucket_ownership_controls",
	"aws_s3_bucket_server_side_encryption_configuration",
	"aws_s3_bucket_lifecycle_configuration",
	"aws_s3_bucket_policy",
}

// checkPayloads: the payload bucket, its settings and lifecycle, the grants
// on it and the worker's settings for it.
func checkPayloads(m *Module, bad func(string, ...any)) {
	for _, v := range []string{"create_payload_bucket", "payload_bucket_name", "payload_expiration_margin_days", "payload_fetches"} {
		if m.Block("variable", v) == nil {
			bad("want variable %q", v)
		}
	}
	if d, ok := m.value(attr(m.Block("variable", "create_payload_bucket"), "default")); !ok || d.Type() != cty.Bool || d.False() {
		bad("variable create_payload_bucket must default to true: large messages need a bucket")
	}
	for _, typ := range payloadResources {
		r := m.Block("resource", typ, "payload")
		if r == nil {
			bad(`want resource %s "payload"`, typ)
			continue
		}
		if !refersTo(attr(r, "count"), "var.create_payload_bucket") {
			bad("%s.payload's count is not from var.create_payload_bucket", typ)
		}
		if typ != "aws_s3_bucket" && !refersTo(attr(r, "bucket"), "aws_s3_bucket.payload.id") {
			bad("%s.payload is not on the payload bucket (aws_s3_bucket.payload[0].id)", typ)
		}
	}

	// The bucket's name: the module's, or the existing one; the policies'
	// grants and SESQ_PAYLOAD_BUCKETS are both of it.
	name, arn := m.Local("payload_bucket_name"), m.Local("payload_bucket_arn")
	if !refersTo(name, "aws_s3_bucket.payload.bucket") || !refersTo(name, "var.payload_bucket_name") || !refersTo(name, "var.create_payload_bucket") {
		bad("local payload_bucket_name is not the module's bucket (aws_s3_bucket.payload[0].bucket) or, without create_payload_bucket, var.payload_bucket_name")
	}
	if !refersTo(arn, "aws_s3_bucket.payload.arn") || !refersTo(arn, "local.payload_bucket_name") {
		bad("local payload_bucket_arn is not the ARN of the module's bucket or of the one named payload_bucket_name")
	}
	td := m.Block("resource", "aws_ecs_task_definition", "sesq")
	named := false
	for _, pc := range children(child(td, "lifecycle"), "precondition") {
		c := attr(pc, "condition")
		named = named || refersTo(c, "var.create_payload_bucket") && refersTo(c, "var.payload_bucket_name")
	}
	if !named {
		bad("no precondition that payload_bucket_name is given when create_payload_bucket is false")
	}
	if b := m.Block("resource", "aws_s3_bucket", "payload"); b != nil {
		if v, ok := m.value(attr(b, "force_destroy")); ok && v.Type() == cty.Bool && v.True() {
			bad("the payload bucket is force_destroy: destroying the module would delete mail not yet sent")
		}
	}

	// Public access, ownership, policy.
	if pab := m.Block("resource", "aws_s3_bucket_public_access_block", "payload"); pab != nil {
		for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			if !literalBool(attr(pab, a)) {
				bad("the payload bucket's public access block does not set %s = true", a)
			}
		}
	}
	if oc := m.Block("resource", "aws_s3_bucket_ownership_controls", "payload"); oc != nil && literalString(attr(oc, "rule", "object_ownership")) != "BucketOwnerEnforced" {
		bad("the payload bucket's object ownership is not BucketOwnerEnforced (ACLs off)")
	}
	if p := m.Block("resource", "aws_s3_bucket_policy", "payload"); p != nil && !refersTo(attr(p, "policy"), "data.aws_iam_policy_document.payload_bucket.json") {
		bad("the payload bucket's policy is not data.aws_iam_policy_document.payload_bucket")
	}
	if !deniesInsecureTransport(m.Block("data", "aws_iam_policy_document", "payload_bucket")) {
		bad(`the payload bucket's policy does not deny s3:* to every principal on the bucket and its objects when aws:SecureTransport is "false"`)
	}

	checkPayloadLifecycle(m, bad)

	// What the producers and operators may do in S3, exactly.
	for _, doc := range []string{"producer", "operator"} {
		var got []string
		for _, st := range children(m.Block("data", "aws_iam_policy_document", doc), "statement") {
			actions, _ := literalStrings(attr(st, "actions"))
			for _, a := range actions {
				if strings.HasPrefix(a, "s3:") {
					for _, r := range resourceNames(attr(st, "resources")) {
						got = append(got, a+" on "+r)
					}
				}
			}
		}
		want := slices.Clone(wantPayloadGrants[doc])
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			bad("policy %s's S3 permissions are\n    %s\n  want exactly\n    %s", doc, listOrNone(got), listOrNone(want))
		}
	}
}

// deniesInsecureTransport tells whether a policy document has a statement
// denying s3:* to every principal on the payload bucket and its objects
// without TLS.
func deniesInsecureTransport(doc *hclsyntax.Block) bool {
	for _, st := range children(doc, "statement") {
		actions, _ := literalStrings(attr(st, "actions"))
		if literalString(attr(st, "effect")) != "Deny" || !slices.Equal(actions, []string{"s3:*"}) {
			continue
		}
		rs := resourceNames(attr(st, "resources"))
		if !slices.Contains(rs, "aws_s3_bucket.payload.arn") || !slices.Contains(rs, "${aws_s3_bucket.payload.arn}/*") {
			continue
		}
		everyone := false
		for _, p := range children(st, "principals") {
			ids, _ := literalStrings(attr(p, "identifiers"))
			everyone = everyone || literalString(attr(p, "type")) == "*" && slices.Equal(ids, []string{"*"})
		}
		for _, c := range children(st, "condition") {
			vals, _ := literalStrings(attr(c, "values"))
			if everyone && literalString(attr(c, "test")) == "Bool" && literalString(attr(c, "variable")) == "aws:SecureTransport" && slices.Equal(vals, []string{"false"}) {
				return true
			}
		}
	}
	return false
}

// checkPayloadLifecycle: orphans expire, but never before a dead letter
// could still point at them: the expiry is the longest retention of the
// dead-letter queues plus payload_expiration_margin_days, evaluated here
// with the margin's default and with its least allowed value, 0.
func checkPayloadLifecycle(m *Module, bad func(string, ...any)) {
	lc := m.Block("resource", "aws_s3_bucket_lifecycle_configuration", "payload")
	if lc == nil {
		return
	}
	rules := children(lc, "rule")
	if len(rules) != 1 {
		bad("want one lifecycle rule on the payload bucket, got %d", len(rules))
		return
	}
	rule := rules[0]
	if literalString(attr(rule, "status")) != "Enabled" {
		bad("the payload bucket's lifecycle rule is not Enabled")
	}
	if f := child(rule, "filter"); f == nil || len(f.Body.Attributes) > 0 || len(f.Body.Blocks) > 0 {
		bad("the payload bucket's lifecycle rule does not cover the whole bucket (an empty filter {}): payloads are written at its top level")
	}
	if n, ok := m.number(attr(rule, "abort_incomplete_multipart_upload", "days_after_initiation")); !ok || n < 1 || n > 7 {
		bad("the payload bucket's lifecycle rule does not abort incomplete multipart uploads within a week (abort_incomplete_multipart_upload)")
	}
	if !refersTo(attr(rule, "expiration", "days"), "local.payload_expiration_days") {
		bad("the payload bucket's objects do not expire after local.payload_expiration_days")
	}
	guarded := false
	for _, pc := range children(child(lc, "lifecycle"), "precondition") {
		if b, ok := attr(pc, "condition").(*hclsyntax.BinaryOpExpr); ok && b.Op == hclsyntax.OpGreaterThanOrEqual &&
			refersTo(b.LHS, "local.payload_expiration_days") && refersTo(b.RHS, "local.dead_letter_retention_seconds") {
			guarded = true
		}
	}
	if !guarded {
		bad("no precondition on the payload bucket's lifecycle that local.payload_expiration_days (in seconds) >= local.dead_letter_retention_seconds")
	}
	retention := m.Local("dead_letter_retention_seconds")
	if !refersTo(retention, "aws_sqs_queue.dlq.message_retention_seconds") || !refersTo(retention, "aws_sqs_queue.lane_dlq") {
		bad("local dead_letter_retention_seconds is not the longest message_retention_seconds of the dead-letter queues, the module's and every lane's")
	}

	// The days, evaluated: the dead-letter queues' retentions as the module
	// sets them, one lane beside the first, the margin at its default and at 0.
	dlqRet, ok1 := m.number(attr(m.Block("resource", "aws_sqs_queue", "dlq"), "message_retention_seconds"))
	laneRet, ok2 := m.number(attr(m.Block("resource", "aws_sqs_queue", "lane_dlq"), "message_retention_seconds"))
	margin, ok3 := m.number(attr(m.Block("variable", "payload_expiration_margin_days"), "default"))
	if !ok1 || !ok2 || !ok3 {
		bad("cannot evaluate the payload expiry: the dead-letter queues' retention and the margin's default must be numbers")
		return
	}
	longest := math.Max(dlqRet, laneRet)
	queues := cty.ObjectVal(map[string]cty.Value{
		"dlq":      cty.ObjectVal(map[string]cty.Value{"message_retention_seconds": cty.NumberFloatVal(dlqRet)}),
		"lane_dlq": cty.ObjectVal(map[string]cty.Value{"bulk": cty.ObjectVal(map[string]cty.Value{"message_retention_seconds": cty.NumberFloatVal(laneRet)})}),
	})
	for _, mg := range []float64{margin, 0} {
		locals := m.locals(map[string]cty.Value{"payload_expiration_margin_days": cty.NumberFloatVal(mg)}, map[string]cty.Value{"aws_sqs_queue": queues})
		days, ok := locals["payload_expiration_days"]
		if !ok || days.Type() != cty.Number {
			bad("cannot evaluate local payload_expiration_days from the dead-letter queues' retention and var.payload_expiration_margin_days")
			return
		}
		d, _ := days.AsBigFloat().Float64()
		if want := math.Ceil(longest/86400) + mg; d != want {
			bad("with payload_expiration_margin_days %v payloads expire after %v days, want the dead-letter queues' %v plus the margin, %v%s",
				mg, d, longest/86400, want, map[bool]string{true: ": they would expire before the dead letters pointing at them", false: ""}[d*86400 < longest])
		}
	}
}

// payloadBucketEncryption: the bucket the module creates is encrypted with
// the queues' key when there is one (and an S3 Bucket Key, else every read
// and write is a KMS request), else with S3-managed keys.
func payloadBucketEncryption(m *Module, bad func(string, ...any)) {
	sse := m.Block("resource", "aws_s3_bucket_server_side_encryption_configuration", "payload")
	if sse == nil {
		return
	}
	rule := child(sse, "rule")
	def := child(rule, "apply_server_side_encryption_by_default")
	key := map[string]cty.Value{"kms_key_arn": cty.StringVal("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")}
	eval := func(e hclsyntax.Expression, vars map[string]cty.Value) cty.Value {
		if e == nil {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		v, diags := e.Value(m.evalContextWith(vars, nil))
		if diags.HasErrors() || !v.IsWhollyKnown() {
			return cty.NullVal(cty.DynamicPseudoType)
		}
		return v
	}
	str := func(v cty.Value) string {
		if v.IsNull() || v.Type() != cty.String {
			return "not a string"
		}
		return v.AsString()
	}
	if a := str(eval(attr(def, "sse_algorithm"), nil)); a != "AES256" {
		bad("the payload bucket's encryption without kms_key_arn is %s, want AES256 (SSE-S3)", a)
	}
	if a := str(eval(attr(def, "sse_algorithm"), key)); a != "aws:kms" {
		bad("the payload bucket's encryption with kms_key_arn is %s, want aws:kms (SSE-KMS)", a)
	}
	if !refersTo(attr(def, "kms_master_key_id"), "var.kms_key_arn") {
		bad("the payload bucket's kms_master_key_id is not var.kms_key_arn")
	}
	if v := eval(attr(rule, "bucket_key_enabled"), key); v.IsNull() || v.Type() != cty.Bool || v.False() {
		bad("the payload bucket has no S3 Bucket Key with kms_key_arn (bucket_key_enabled): every payload read and write would be a KMS request")
	}
}
