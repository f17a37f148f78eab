{{/*
Objects beside the workload: the ConfigMap (tidemark.configmap, in
_config.tpl), the token Secret, the metrics Service and the Prometheus
monitor. tidemark.manifests renders all that apply.
*/}}

{{/*
The token Secret when token.create: a random 48-character token, kept across
upgrades (the Secret is looked up; `helm template` cannot, so it makes a new one).
*/}}
{{- define "tidemark.secret" -}}
{{- if .Values.tidemark.token.create -}}
{{- $name := include "tidemark.tokenSecretName" . -}}
{{- $key := .Values.tidemark.token.key -}}
{{- $token := randAlphaNum 48 | b64enc -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if and $existing (hasKey (default dict $existing.data) $key) -}}
{{- $token = index $existing.data $key -}}
{{- end -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  labels:
    {{- include "tidemark.labels" . | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
type: Opaque
data:
  {{ $key }}: {{ $token | quote }}
{{- end -}}
{{- end -}}

{{/* Prometheus' bearer authorization from the token Secret, if any. */}}
{{- define "tidemark.monitorAuthorization" -}}
{{- if include "tidemark.hasToken" . -}}
authorization:
  type: Bearer
  credentials:
    name: {{ include "tidemark.tokenSecretName" . }}
    key: {{ .Values.tidemark.token.key }}
{{- end -}}
{{- end -}}

{{/* The monitor's scrape settings. */}}
{{- define "tidemark.monitorEndpoint" -}}
{{- $m := .Values.tidemark.monitor -}}
port: tidemark-http
path: /metrics
interval: {{ $m.interval }}
{{- with $m.scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
{{- with include "tidemark.monitorAuthorization" . }}
{{ . }}
{{- end }}
{{- end -}}

{{/* With monitor.kind ServiceMonitor: a headless Service in front of the pods' API port. */}}
{{- define "tidemark.service" -}}
{{- $v := .Values.tidemark -}}
{{- if and $v.monitor.enabled (eq $v.monitor.kind "ServiceMonitor") -}}
{{- include "tidemark.validate" . -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ printf "%s-metrics" (include "tidemark.fullname" . | trunc 55 | trimSuffix "-") }}
  labels:
    {{- include "tidemark.labels" . | nindent 4 }}
    {{- include "tidemark.podLabels" . | nindent 4 }}
spec:
  clusterIP: None
  selector:
    {{- include "tidemark.podLabels" . | nindent 4 }}
  ports:
    - name: tidemark-http
      port: {{ int $v.api.port }}
      # The number, not the name: the port may be on a native sidecar (an init
      # container), and a number needs no name resolution there.
      targetPort: {{ int $v.api.port }}
      protocol: TCP
{{- end -}}
{{- end -}}

{{/* The PodMonitor or ServiceMonitor (monitoring.coreos.com/v1), if enabled. */}}
{{- define "tidemark.monitor" -}}
{{- $v := .Values.tidemark -}}
{{- if $v.monitor.enabled -}}
{{- include "tidemark.validate" . -}}
apiVersion: monitoring.coreos.com/v1
kind: {{ $v.monitor.kind }}
metadata:
  name: {{ include "tidemark.fullname" . }}
  labels:
    {{- include "tidemark.labels" . | nindent 4 }}
    {{- with $v.monitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "tidemark.podLabels" . | nindent 6 }}
  {{- if eq $v.monitor.kind "PodMonitor" }}
  podMetricsEndpoints:
  {{- else }}
  endpoints:
  {{- end }}
    - {{- include "tidemark.monitorEndpoint" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* Every object above that applies, as YAML documents. */}}
{{- define "tidemark.manifests" -}}
{{- $docs := list (include "tidemark.configmap" .) (include "tidemark.secret" .) (include "tidemark.service" .) (include "tidemark.monitor" .) -}}
{{- range $docs }}
{{- if . }}
---
{{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* What the application must set, for the application chart's NOTES.txt. */}}
{{- define "tidemark.notes" -}}
{{- $v := .Values.tidemark -}}
Tidemark runs beside the application in each pod ({{ ternary "native sidecar" "second container" $v.nativeSidecar }}, job.id {{ dig "job" "id" "" $v.config | default .Release.Name }}).

In the application (the pod's env has these as TIDEMARK_*, with tidemark.appEnv):
  bootstrap.servers = {{ include "tidemark.bootstrapServers" . }}   (TIDEMARK_BOOTSTRAP_SERVERS; the sidecar forwards to {{ dig "proxy" "upstream" "bootstrap_servers" "" $v.config }})
  HTTP API          = http://{{ include "tidemark.httpAddress" . }}   (TIDEMARK_URL: state, offsets, checkpoints)
{{- if include "tidemark.hasToken" . }}
  token             = the file {{ include "tidemark.tokenFile" . }}   (TIDEMARK_TOKEN_FILE; send "Authorization: Bearer <token>"; re-read it when it changes)
{{- end }}
  group.id          = your consumer group, as before; commit offsets as usual (the commit seals the state you PUT).
  enable.auto.commit= false is recommended, so that a commit follows the state it belongs to.

Store: {{ if $v.persistence.enabled }}a PersistentVolumeClaim{{ else }}an emptyDir (restored from the remote checkpoint topic {{ dig "remote" "kafka" "topic" "__tidemark_checkpoints" $v.config }} on a new node){{ end }} at {{ include "tidemark.storePath" . }}.
Shutdown: terminationGracePeriodSeconds {{ include "tidemark.terminationGracePeriodSeconds" . }} = application {{ int $v.termination.applicationSeconds }}s + shutdown.timeout {{ include "tidemark.shutdownSeconds" . }}s + margin.
{{- end -}}
