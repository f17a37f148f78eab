{{- define "wordcount.fullname" -}}
{{- printf "%s-wordcount" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wordcount.selectorLabels" -}}
app.kubernetes.io/name: wordcount
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "wordcount.labels" -}}
{{ include "wordcount.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}
