{{/*
Checks across values that values.schema.json cannot express. Each fails the
render with a message naming the value.
*/}}
{{- define "sesq.validate" -}}
{{- $q := required "queueUrl: the source queue's URL is required (SESQ_QUEUE_URL)" .Values.queueUrl }}
{{- $d := required "dlqUrl: the dead-letter queue's URL is required (SESQ_DLQ_URL)" .Values.dlqUrl }}
{{- if eq $q $d }}
{{- fail "dlqUrl must differ from queueUrl: sesq writes what can never be sent to the dead-letter queue" }}
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
{{- fail "keda.awsRegion: the queue's region is required (it could not be read from queueUrl)" }}
{{- end }}
{{- $auth := .Values.keda.auth }}
{{- if and (not $auth.existingTriggerAuthentication) (not $auth.roleArn) (eq $auth.identityOwner "workload") .Values.serviceAccount.create (not .Values.serviceAccount.roleArn) (not (index .Values.serviceAccount.annotations "eks.amazonaws.com/role-arn")) }}
{{- fail "keda.auth.identityOwner workload reads the role from the ServiceAccount's eks.amazonaws.com/role-arn annotation: set serviceAccount.roleArn, or use identityOwner keda or keda.auth.roleArn" }}
{{- end }}
{{- end }}
{{- end }}
