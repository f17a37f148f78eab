{{/*
tidemark.yaml: .Values.tidemark.config (the exact config schema) plus the
fields the chart owns: job.id (when empty), store.path, http.listen and
http.token_file.
*/}}
{{- define "tidemark.configYaml" -}}
{{- include "tidemark.validate" . -}}
{{- $v := .Values.tidemark -}}
{{- $c := deepCopy (default dict $v.config) -}}
{{- $job := default dict $c.job -}}
{{- if not $job.id -}}
{{- $_ := set $job "id" .Release.Name -}}
{{- end -}}
{{- $_ := set $c "job" $job -}}
{{- $store := default dict $c.store -}}
{{- $_ := set $store "path" (include "tidemark.storePath" .) -}}
{{- $_ := set $c "store" $store -}}
{{- $http := default dict $c.http -}}
{{- $_ := set $http "listen" (include "tidemark.httpListen" .) -}}
{{- if include "tidemark.hasToken" . -}}
{{- $_ := set $http "token_file" (include "tidemark.tokenFile" .) -}}
{{- end -}}
{{- $_ := set $c "http" $http -}}
# tidemark.yaml, rendered by the tidemark Helm chart from .Values.tidemark.config
# (schema: protocol/config/config.proto, docs/configuration.md).
{{ toYaml $c }}
{{- end -}}

{{/* The ConfigMap holding tidemark.yaml. */}}
{{- define "tidemark.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "tidemark.fullname" . }}
  labels:
    {{- include "tidemark.labels" . | nindent 4 }}
data:
  tidemark.yaml: |
    {{- include "tidemark.configYaml" . | nindent 4 }}
{{- end -}}

{{/*
Pod template annotations: a checksum of tidemark.yaml, so that a config change
rolls the pods (a rotated token does not need one: the sidecar re-reads it).
*/}}
{{- define "tidemark.podAnnotations" -}}
checksum/tidemark-config: {{ include "tidemark.configYaml" . | sha256sum | quote }}
{{- end -}}
