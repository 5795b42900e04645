{{/*
Checks across values that values.schema.json cannot express. Each fails the
render with a message naming the value.
*/}}
{{- define "sesq.validate" -}}
{{- if .Values.lanes }}
{{- if or .Values.queueUrl .Values.dlqUrl }}
{{- fail "lanes exclude queueUrl and dlqUrl: give each lane's queueUrl and dlqUrl under lanes (SESQ_QUEUES, SESQ_DLQ_URLS) and leave queueUrl and dlqUrl empty, or drop lanes for one queue (SESQ_QUEUE_URL, SESQ_DLQ_URL)" }}
{{- end }}
{{- $names := dict }}
{{- $urls := dict }}
{{- range $i, $l := .Values.lanes }}
{{- $name := required (printf "lanes[%d].name is required" $i) $l.name | toString }}
{{- if hasKey $names $name }}
{{- fail (printf "lanes: the lane %s is given twice" $name) }}
{{- end }}
{{- $_ := set $names $name true }}
{{- $q := required (printf "lanes[%d].queueUrl (lane %s) is required" $i $name) $l.queueUrl | toString }}
{{- $d := required (printf "lanes[%d].dlqUrl (lane %s): every lane needs a dead-letter queue of its own" $i $name) $l.dlqUrl | toString }}
{{- if ne (hasSuffix ".fifo" $q) (hasSuffix ".fifo" $d) }}
{{- fail (printf "lanes[%d] (lane %s): a FIFO queue needs a FIFO dead-letter queue, and a standard queue a standard one (both URLs end .fifo, or neither)" $i $name) }}
{{- end }}
{{- range $u := list $q $d }}
{{- if hasKey $urls $u }}
{{- fail (printf "lanes: lanes %s and %s share the queue %s: each lane needs a queue and a dead-letter queue of its own" (get $urls $u) $name $u) }}
{{- end }}
{{- $_ := set $urls $u $name }}
{{- end }}
{{- end }}
{{- else }}
{{- $q := required "queueUrl: the source queue's URL is required (SESQ_QUEUE_URL), or lanes" .Values.queueUrl }}
{{- $d := required "dlqUrl: the dead-letter queue's URL is required (SESQ_DLQ_URL), or lanes" .Values.dlqUrl }}
{{- if eq $q $d }}
{{- fail "dlqUrl must differ from queueUrl: sesq writes what can never be sent to the dead-letter queue" }}
{{- end }}
{{- if ne (hasSuffix ".fifo" $q) (hasSuffix ".fifo" $d) }}
{{- fail "dlqUrl: a FIFO queue needs a FIFO dead-letter queue, and a standard queue a standard one (both URLs end .fifo, or neither)" }}
{{- end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if hasPrefix "SESQ_" (toString .name) }}
{{- fail (printf "extraEnv: %s is a sesq setting; set it through the chart's values (config, smtp, secret), which are checked" .name) }}
{{- end }}
{{- end }}
{{- if .Values.keda.enabled }}
{{- if gt (int64 .Values.keda.minReplicaCount) (int64 .Values.keda.maxReplicaCount) }}
{{- fail (printf "keda.minReplicaCount (%v) exceeds keda.maxReplicaCount (%v)" .Values.keda.minReplicaCount .Values.keda.maxReplicaCount) }}
{{- end }}
{{- if not (or .Values.keda.awsRegion (include "sesq.awsRegion" .)) }}
{{- fail "keda.awsRegion: the queue's region is required (it could not be read from queueUrl or the first lane's)" }}
{{- end }}
{{- $auth := .Values.keda.auth }}
{{- if and (not $auth.existingTriggerAuthentication) (not $auth.roleArn) (eq $auth.identityOwner "workload") .Values.serviceAccount.create (not .Values.serviceAccount.roleArn) (not (index .Values.serviceAccount.annotations "eks.amazonaws.com/role-arn")) }}
{{- fail "keda.auth.identityOwner workload reads the role from the ServiceAccount's eks.amazonaws.com/role-arn annotation: set serviceAccount.roleArn, or use identityOwner keda or keda.auth.roleArn" }}
{{- end }}
{{- end }}
{{- end }}
