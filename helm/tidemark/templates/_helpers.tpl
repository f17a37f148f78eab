{{/*
Names, labels and the values every other template derives from.

Every public template (tidemark.container, tidemark.volumes, ...) takes the
application chart's root context (`.` or `$`) and reads the sidecar's values
from `.Values.tidemark`: the application chart depends on this chart under the
name `tidemark` (no alias). See README.md.
*/}}

{{/* The sidecar's values; fails clearly when the chart is not a dependency. */}}
{{- define "tidemark.requireValues" -}}
{{- if not (kindIs "map" .Values.tidemark) -}}
{{- fail "tidemark: no values under .Values.tidemark: add the tidemark chart to your Chart.yaml dependencies (name: tidemark, no alias) and run `helm dependency update`" -}}
{{- end -}}
{{- end -}}

{{/* Name of the sidecar's objects: <release>-tidemark, or fullnameOverride. */}}
{{- define "tidemark.fullname" -}}
{{- include "tidemark.requireValues" . -}}
{{- $v := .Values.tidemark -}}
{{- if $v.fullnameOverride -}}
{{- $v.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-tidemark" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of the objects this chart renders. */}}
{{- define "tidemark.labels" -}}
app.kubernetes.io/name: tidemark
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/component: checkpoint-sidecar
app.kubernetes.io/part-of: {{ .Chart.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
{{- end -}}

{{/*
Labels to add to the application's pod template (metadata.labels): the
PodMonitor and the metrics Service select pods by them.
*/}}
{{- define "tidemark.podLabels" -}}
tidemark/sidecar: {{ include "tidemark.fullname" . | quote }}
{{- end -}}

{{/* The image reference. */}}
{{- define "tidemark.image" -}}
{{- $i := .Values.tidemark.image -}}
{{- if $i.digest -}}
{{- printf "%s@%s" $i.repository $i.digest -}}
{{- else -}}
{{- printf "%s:%s" $i.repository (required "tidemark: set tidemark.image.tag or tidemark.image.digest" $i.tag) -}}
{{- end -}}
{{- end -}}

{{/* Whether the API has a token: "true" or "". */}}
{{- define "tidemark.hasToken" -}}
{{- $t := .Values.tidemark.token -}}
{{- if or $t.existingSecret $t.create -}}true{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the token. */}}
{{- define "tidemark.tokenSecretName" -}}
{{- $t := .Values.tidemark.token -}}
{{- if $t.existingSecret -}}
{{- $t.existingSecret -}}
{{- else -}}
{{- printf "%s-token" (include "tidemark.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{/* Path of the token file inside the sidecar (and the application). */}}
{{- define "tidemark.tokenFile" -}}
{{- $t := .Values.tidemark.token -}}
{{- printf "%s/%s" $t.mountPath $t.key -}}
{{- end -}}

{{/* Path of the store inside the sidecar. */}}
{{- define "tidemark.storePath" -}}
{{- printf "%s/tidemark.db" .Values.tidemark.persistence.mountPath -}}
{{- end -}}

{{/* Where the config file is mounted. */}}
{{- define "tidemark.configDir" -}}/etc/tidemark{{- end -}}
{{- define "tidemark.configPath" -}}{{ include "tidemark.configDir" . }}/tidemark.yaml{{- end -}}

{{/* http.listen, from api.*. */}}
{{- define "tidemark.httpListen" -}}
{{- $a := .Values.tidemark.api -}}
{{- printf "%s:%d" (ternary $a.exposedHost "127.0.0.1" $a.expose) (int $a.port) -}}
{{- end -}}

{{/* The API's address as the application (same pod) reaches it: 127.0.0.1:<port>. */}}
{{- define "tidemark.httpAddress" -}}
{{- printf "127.0.0.1:%d" (int .Values.tidemark.api.port) -}}
{{- end -}}

{{/*
The application's bootstrap.servers: proxy.listen (default 127.0.0.1:19092),
with a wildcard host replaced by 127.0.0.1.
*/}}
{{- define "tidemark.bootstrapServers" -}}
{{- $proxy := default dict .Values.tidemark.config.proxy -}}
{{- $listen := default "127.0.0.1:19092" $proxy.listen -}}
{{- $port := regexFind "[0-9]+$" $listen -}}
{{- $host := trimSuffix (printf ":%s" $port) $listen -}}
{{- if has $host (list "0.0.0.0" "[::]" "") -}}
{{- printf "127.0.0.1:%s" $port -}}
{{- else -}}
{{- $listen -}}
{{- end -}}
{{- end -}}

{{/*
A duration of tidemark's config ("25s", "1m30s", "250ms") in milliseconds,
as a float. Called with the duration string.
*/}}
{{- define "tidemark.durationMillis" -}}
{{- $units := dict "ns" 0.000001 "us" 0.001 "ms" 1.0 "s" 1000.0 "m" 60000.0 "h" 3600000.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(ns|us|ms|s|m|h)" . -1 -}}
{{- $n := regexFind "^[0-9]+" . | float64 -}}
{{- $u := regexReplaceAll "^[0-9]+" . "" -}}
{{- $total = addf $total (mulf $n (get $units $u)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* config.shutdown.timeout in whole seconds, rounded up (default 25s). */}}
{{- define "tidemark.shutdownSeconds" -}}
{{- $shutdown := default dict .Values.tidemark.config.shutdown -}}
{{- $ms := include "tidemark.durationMillis" (default "25s" $shutdown.timeout) | float64 -}}
{{- ceil (divf $ms 1000.0) | int -}}
{{- end -}}

{{/*
The pod's terminationGracePeriodSeconds: termination.gracePeriodSeconds, or
applicationSeconds + shutdown.timeout + marginSeconds.
*/}}
{{- define "tidemark.terminationGracePeriodSeconds" -}}
{{- include "tidemark.validate" . -}}
{{- $t := .Values.tidemark.termination -}}
{{- $needed := add (int $t.applicationSeconds) (include "tidemark.shutdownSeconds" . | int) -}}
{{- if kindIs "invalid" $t.gracePeriodSeconds -}}
{{- add $needed (int $t.marginSeconds) -}}
{{- else -}}
{{- int $t.gracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* Seconds the classic form's preStop sleep holds the sidecar's SIGTERM back. */}}
{{- define "tidemark.preStopSeconds" -}}
{{- if .Values.tidemark.nativeSidecar -}}0{{- else -}}{{ int .Values.tidemark.termination.applicationSeconds }}{{- end -}}
{{- end -}}

{{/*
Checks across values that the schema cannot express. Every public template
calls it, so a mistake fails `helm template` whichever template is used.
*/}}
{{- define "tidemark.validate" -}}
{{- include "tidemark.requireValues" . -}}
{{- $v := .Values.tidemark -}}
{{- $c := $v.config -}}
{{- $upstream := dig "proxy" "upstream" "bootstrap_servers" "" $c -}}
{{- if not $upstream -}}
{{- fail "tidemark: set tidemark.config.proxy.upstream.bootstrap_servers (the Kafka cluster, host:port[,host:port...])" -}}
{{- end -}}
{{- if dig "store" "path" "" $c -}}
{{- fail "tidemark: tidemark.config.store.path is set by the chart: set tidemark.persistence.mountPath instead (store.path is <mountPath>/tidemark.db)" -}}
{{- end -}}
{{- if dig "http" "listen" "" $c -}}
{{- fail "tidemark: tidemark.config.http.listen is set by the chart: set tidemark.api.port and tidemark.api.expose instead" -}}
{{- end -}}
{{- if dig "http" "token_file" "" $c -}}
{{- fail "tidemark: tidemark.config.http.token_file is set by the chart: set tidemark.token.existingSecret (or token.create) instead" -}}
{{- end -}}
{{- if and $v.token.existingSecret $v.token.create -}}
{{- fail "tidemark: set either tidemark.token.existingSecret or tidemark.token.create, not both" -}}
{{- end -}}
{{- $insecure := dig "http" "allow_insecure_remote" false $c -}}
{{- if and $v.api.expose (not (include "tidemark.hasToken" .)) (not $insecure) -}}
{{- fail "tidemark: tidemark.api.expose=true serves the API on the pod's IP, so it needs a token: set tidemark.token.existingSecret (or token.create: true); config.http.allow_insecure_remote: true serves it to anyone who reaches the pod" -}}
{{- end -}}
{{- if and $v.monitor.enabled (not $v.api.expose) -}}
{{- fail "tidemark: tidemark.monitor.enabled needs tidemark.api.expose=true (Prometheus scrapes /metrics on the pod's IP) and a token" -}}
{{- end -}}
{{- if and $v.persistence.existingClaim (not $v.persistence.enabled) -}}
{{- fail "tidemark: tidemark.persistence.existingClaim is set but tidemark.persistence.enabled is false" -}}
{{- end -}}
{{- if and $v.nativeSidecar (semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version) -}}
{{- fail (printf "tidemark: native sidecars need Kubernetes >= 1.29 (this is %s): set tidemark.nativeSidecar=false for the classic form" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- $t := $v.termination -}}
{{- if not (kindIs "invalid" $t.gracePeriodSeconds) -}}
{{- $needed := add (int $t.applicationSeconds) (include "tidemark.shutdownSeconds" . | int) -}}
{{- if le (int $t.gracePeriodSeconds) $needed -}}
{{- fail (printf "tidemark: tidemark.termination.gracePeriodSeconds (%d) must exceed termination.applicationSeconds (%d) + config.shutdown.timeout (%ds) = %ds, or the kubelet kills the sidecar before its final checkpoint" (int $t.gracePeriodSeconds) (int $t.applicationSeconds) (include "tidemark.shutdownSeconds" . | int) $needed) -}}
{{- end -}}
{{- end -}}
{{- end -}}
