{{/* The chart's name, at most 63 characters. */}}
{{- define "sesq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the name of every object of the release. */}}
{{- define "sesq.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sesq.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sesq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sesq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sesq.labels" -}}
helm.sh/chart: {{ include "sesq.chart" . }}
{{ include "sesq.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: worker
{{- end }}

{{- define "sesq.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sesq.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sesq.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The queues' region: awsRegion, else the region in the queue URL, or the first
lane's (https://sqs.REGION.amazonaws.com/… or the legacy
https://REGION.queue.amazonaws.com/…), else empty.
*/}}
{{- define "sesq.awsRegion" -}}
{{- $url := .Values.queueUrl }}
{{- if .Values.lanes }}
{{- $url = (first .Values.lanes).queueUrl | toString }}
{{- end }}
{{- if .Values.awsRegion }}
{{- .Values.awsRegion }}
{{- else if regexMatch "^https://sqs\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/" $url }}
{{- regexReplaceAll "^https://sqs\\.([a-z0-9-]+)\\.amazonaws\\.com(\\.cn)?/.*$" $url "${1}" }}
{{- else if regexMatch "^https://[a-z0-9-]+\\.queue\\.amazonaws\\.com(\\.cn)?/" $url }}
{{- regexReplaceAll "^https://([a-z0-9-]+)\\.queue\\.amazonaws\\.com(\\.cn)?/.*$" $url "${1}" }}
{{- end }}
{{- end }}

{{/*
The pod's termination grace period: the long poll under way
(config.waitTimeSeconds) ends, the drain (config.shutdownTimeoutSeconds) runs,
and 15 s are left for the exit. terminationGracePeriodSeconds may raise it,
never lower it.
*/}}
{{- define "sesq.terminationGracePeriodSeconds" -}}
{{- $floor := add .Values.config.shutdownTimeoutSeconds .Values.config.waitTimeSeconds 15 }}
{{- $set := .Values.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $set }}
{{- $floor }}
{{- else if lt (int64 $set) (int64 $floor) }}
{{- fail (printf "terminationGracePeriodSeconds %v is below config.shutdownTimeoutSeconds (%v) + config.waitTimeSeconds (%v) + 15 = %v: Kubernetes would kill sesq in the middle of its drain" $set .Values.config.shutdownTimeoutSeconds .Values.config.waitTimeSeconds $floor) }}
{{- else }}
{{- $set | int64 }}
{{- end }}
{{- end }}

{{/* One env entry from a key of the existing Secret. */}}
{{- define "sesq.secretEnv" -}}
- name: {{ .var }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end }}

{{/* SESQ_QUEUES: each lane as NAME=URL:WEIGHT, comma-separated. */}}
{{- define "sesq.queues" -}}
{{- $lanes := list }}
{{- range .Values.lanes }}
{{- $lanes = append $lanes (printf "%s=%s:%d" .name .queueUrl (default 1 .weight | int64)) }}
{{- end }}
{{- join "," $lanes }}
{{- end }}

{{/* SESQ_DLQ_URLS: each lane's dead-letter queue as NAME=URL, comma-separated. */}}
{{- define "sesq.dlqUrls" -}}
{{- $lanes := list }}
{{- range .Values.lanes }}
{{- $lanes = append $lanes (printf "%s=%s" .name .dlqUrl) }}
{{- end }}
{{- join "," $lanes }}
{{- end }}

{{/*
A lane's KEDA trigger name: a name its scalingModifiers formula can use
(lane_ and the lane's name, hyphens as underscores; lane names have no
underscore, so they stay distinct).
*/}}
{{- define "sesq.laneTrigger" -}}
{{- printf "lane_%s" (replace "-" "_" .) }}
{{- end }}
