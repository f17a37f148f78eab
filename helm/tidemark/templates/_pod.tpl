{{/*
Pieces of the application's pod spec. See README.md for where each goes.
*/}}

{{/*
The exec probe's script: a GET over bash's /dev/tcp (bash is in every Debian
image), so that the API can stay on 127.0.0.1 and the image needs no HTTP
client. $1 is the path; succeeds on a 200.
*/}}
{{- define "tidemark.probeScript" -}}
{{- printf "exec 3<>/dev/tcp/127.0.0.1/%d && printf 'GET %%s HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' \"$1\" >&3 && read -r -t 5 _ code _ <&3 && [ \"$code\" = 200 ]" (int .Values.tidemark.api.port) -}}
{{- end -}}

{{/* A probe's handler. Called with (dict "root" $ "path" "/readyz" "timing" <probes.x>). */}}
{{- define "tidemark.probe" -}}
{{- $v := .root.Values.tidemark -}}
{{- if $v.api.expose -}}
httpGet:
  path: {{ .path }}
  port: {{ int $v.api.port }}
{{- else -}}
exec:
  command:
    - /bin/bash
    - -c
    - {{ include "tidemark.probeScript" .root | quote }}
    - tidemark-probe
    - {{ .path }}
{{- end }}
periodSeconds: {{ int .timing.periodSeconds }}
timeoutSeconds: {{ int .timing.timeoutSeconds }}
failureThreshold: {{ int .timing.failureThreshold }}
{{- end -}}

{{/*
The sidecar container, as one list item. With nativeSidecar it carries
restartPolicy: Always and belongs in initContainers; otherwise in containers.
tidemark.initContainers and tidemark.containers place it for you.
*/}}
{{- define "tidemark.container" -}}
{{- include "tidemark.validate" . -}}
{{- $v := .Values.tidemark -}}
- name: tidemark
  image: {{ include "tidemark.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $v.nativeSidecar }}
  restartPolicy: Always
  {{- end }}
  command:
    - /usr/local/bin/tidemark
  args:
    - serve
    - --config
    - {{ include "tidemark.configPath" . }}
    {{- range $v.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- with $v.extraEnv }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $v.api.expose }}
  ports:
    - name: tidemark-http
      containerPort: {{ int $v.api.port }}
      protocol: TCP
  {{- end }}
  startupProbe:
    {{- include "tidemark.probe" (dict "root" . "path" "/readyz" "timing" $v.probes.startup) | nindent 4 }}
  livenessProbe:
    {{- include "tidemark.probe" (dict "root" . "path" "/healthz" "timing" $v.probes.liveness) | nindent 4 }}
  readinessProbe:
    {{- include "tidemark.probe" (dict "root" . "path" "/readyz" "timing" $v.probes.readiness) | nindent 4 }}
  {{- $preStop := include "tidemark.preStopSeconds" . | int }}
  {{- if gt $preStop 0 }}
  lifecycle:
    preStop:
      exec:
        command:
          - /bin/sleep
          - {{ $preStop | quote }}
  {{- end }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tidemark-config
      mountPath: {{ include "tidemark.configDir" . }}
      readOnly: true
    - name: tidemark-data
      mountPath: {{ $v.persistence.mountPath }}
    - name: tidemark-tmp
      mountPath: /tmp
    {{- if include "tidemark.hasToken" . }}
    - name: tidemark-token
      mountPath: {{ $v.token.mountPath }}
      readOnly: true
    {{- end }}
    {{- with $v.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The sidecar for initContainers: itself when nativeSidecar, else nothing. */}}
{{- define "tidemark.initContainers" -}}
{{- if .Values.tidemark.nativeSidecar -}}
{{ include "tidemark.container" . }}
{{- end -}}
{{- end -}}

{{/* The sidecar for containers: itself in the classic form, else nothing. */}}
{{- define "tidemark.containers" -}}
{{- if not .Values.tidemark.nativeSidecar -}}
{{ include "tidemark.container" . }}
{{- end -}}
{{- end -}}

{{/*
The pod's volumes for the sidecar, as list items: its config, /tmp, the data
volume (an emptyDir, or existingClaim; none when the StatefulSet's
volumeClaimTemplates provide it), the token and extraVolumes.
*/}}
{{- define "tidemark.volumes" -}}
{{- include "tidemark.validate" . -}}
{{- $v := .Values.tidemark -}}
- name: tidemark-config
  configMap:
    name: {{ include "tidemark.fullname" . }}
- name: tidemark-tmp
  emptyDir: {}
{{- if not $v.persistence.enabled }}
- name: tidemark-data
  emptyDir:
    {{- if $v.persistence.emptyDirSizeLimit }}
    sizeLimit: {{ $v.persistence.emptyDirSizeLimit }}
    {{- else }} {}
    {{- end }}
{{- else if $v.persistence.existingClaim }}
- name: tidemark-data
  persistentVolumeClaim:
    claimName: {{ $v.persistence.existingClaim }}
{{- end }}
{{- if include "tidemark.hasToken" . }}
- name: tidemark-token
  secret:
    secretName: {{ include "tidemark.tokenSecretName" . }}
    items:
      - key: {{ $v.token.key }}
        path: {{ $v.token.key }}
{{- end }}
{{- with $v.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Whether the StatefulSet must carry tidemark.volumeClaimTemplates: "true" when
persistence is enabled without an existingClaim.
*/}}
{{- define "tidemark.needsVolumeClaimTemplate" -}}
{{- $p := .Values.tidemark.persistence -}}
{{- if and $p.enabled (not $p.existingClaim) -}}true{{- end -}}
{{- end -}}

{{/* The StatefulSet's volumeClaimTemplates item for the store, or nothing. */}}
{{- define "tidemark.volumeClaimTemplates" -}}
{{- if include "tidemark.needsVolumeClaimTemplate" . -}}
{{- $p := .Values.tidemark.persistence -}}
- metadata:
    name: tidemark-data
    labels:
      {{- include "tidemark.labels" . | nindent 6 }}
  spec:
    accessModes:
      {{- toYaml $p.accessModes | nindent 6 }}
    {{- if $p.storageClassName }}
    storageClassName: {{ $p.storageClassName | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ $p.size | quote }}
{{- end -}}
{{- end -}}

{{/* Fields for the pod's securityContext (fsGroup for the data volume). */}}
{{- define "tidemark.podSecurityContext" -}}
{{- with .Values.tidemark.podSecurityContext -}}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/*
Environment variables for the application container, as list items: where
the sidecar is (TIDEMARK_BOOTSTRAP_SERVERS is the consumer's bootstrap.servers,
TIDEMARK_URL the HTTP API) and, with a token, TIDEMARK_TOKEN_FILE.
*/}}
{{- define "tidemark.appEnv" -}}
- name: TIDEMARK_BOOTSTRAP_SERVERS
  value: {{ include "tidemark.bootstrapServers" . | quote }}
- name: TIDEMARK_URL
  value: {{ printf "http://%s" (include "tidemark.httpAddress" .) | quote }}
{{- if include "tidemark.hasToken" . }}
- name: TIDEMARK_TOKEN_FILE
  value: {{ include "tidemark.tokenFile" . | quote }}
{{- end }}
{{- end -}}

{{/* Volume mounts for the application container: the token, read-only, if any. */}}
{{- define "tidemark.appVolumeMounts" -}}
{{- if include "tidemark.hasToken" . -}}
- name: tidemark-token
  mountPath: {{ .Values.tidemark.token.mountPath }}
  readOnly: true
{{- end -}}
{{- end -}}
