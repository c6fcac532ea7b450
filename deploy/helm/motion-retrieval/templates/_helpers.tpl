{{/* Names, labels and the computed addresses every template agrees on. */}}

{{- define "mr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mr.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: motion-retrieval
{{- end -}}

{{- define "mr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mr.serverName" -}}{{ include "mr.fullname" . }}-server{{- end -}}
{{- define "mr.tritonName" -}}{{ include "mr.fullname" . }}-triton{{- end -}}
{{- define "mr.webName" -}}{{ include "mr.fullname" . }}-web{{- end -}}

{{- define "mr.webImage" -}}
{{- printf "%s:%s" .Values.web.image.repository (default .Chart.AppVersion .Values.web.image.tag) -}}
{{- end -}}

{{/* The key of the search-only token in the auth Secret, or "" when there is none (server.auth.searchToken /
   searchKey). */}}
{{- define "mr.searchTokenKey" -}}
{{- if .Values.server.auth.enabled -}}
{{- if .Values.server.auth.existingSecret -}}
{{- .Values.server.auth.searchKey -}}
{{- else if .Values.server.auth.searchToken -}}
{{- default "search-token" .Values.server.auth.searchKey -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mr.serverImage" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "mr.modelImage" -}}
{{- printf "%s:%s" .Values.modelRepository.image.repository (default .Chart.AppVersion .Values.modelRepository.image.tag) -}}
{{- end -}}

{{/* Triton's gRPC address as the service sees it: the headless Triton Service of this release through gRPC's DNS
   resolver, so that the service's channel resolves every ready Triton pod and spreads calls with round_robin
   (a ClusterIP would pin each long-lived channel to one pod). */}}
{{- define "mr.tritonUrl" -}}
{{- printf "dns:///%s.%s.svc.%s:%d" (include "mr.tritonName" .) .Release.Namespace .Values.clusterDomain (int .Values.triton.ports.grpc) -}}
{{- end -}}

{{/* The bundled Milvus chart's Service name: its "milvus.fullname" rule, evaluated with the values it receives
   (milvus.fullnameOverride / milvus.nameOverride), so the address holds for any release name. */}}
{{- define "mr.milvusFullname" -}}
{{- $values := .Values.milvus -}}
{{- if $values.fullnameOverride -}}
{{- $values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "milvus" $values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Milvus URI: the bundled chart's Service when milvus.enabled, else the external address (required). */}}
{{- define "mr.milvusUri" -}}
{{- if .Values.milvus.enabled -}}
{{- $port := int (dig "service" "port" 19530 .Values.milvus) -}}
{{- printf "http://%s.%s.svc.%s:%d" (include "mr.milvusFullname" .) .Release.Namespace .Values.clusterDomain $port -}}
{{- else -}}
{{- required "externalMilvus.uri is required when milvus.enabled is false (e.g. http://milvus.data.svc:19530)" .Values.externalMilvus.uri -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the Milvus token, if any ("" = Milvus without authentication). */}}
{{- define "mr.milvusTokenSecret" -}}
{{- if not .Values.milvus.enabled -}}{{ .Values.externalMilvus.existingSecret }}{{- end -}}
{{- end -}}

{{- define "mr.milvusTokenDir" -}}/etc/motion-retrieval/milvus{{- end -}}

{{/* "true" when the HPAs may use Pods metrics from the custom metrics API, "" otherwise. */}}
{{- define "mr.customMetrics" -}}
{{- $declared := .Values.metrics.customMetricsApi | toString -}}
{{- if eq $declared "true" -}}
true
{{- else if and (eq $declared "auto") (or (.Capabilities.APIVersions.Has "custom.metrics.k8s.io/v1beta1") (.Capabilities.APIVersions.Has "custom.metrics.k8s.io/v1beta2")) -}}
true
{{- end -}}
{{- end -}}

{{- define "mr.authSecretName" -}}
{{- default (printf "%s-auth" (include "mr.fullname" .)) .Values.server.auth.existingSecret -}}
{{- end -}}

{{/* Render-time checks that a schema cannot express. */}}
{{- define "mr.validate" -}}
{{- if and .Values.triton.enabled (gt (int .Values.triton.gpus) 0) (lt (int .Values.triton.replicaCount) 1) -}}
{{- fail "triton.gpus > 0 requests GPUs but triton.replicaCount is 0: set triton.replicaCount >= 1 or triton.gpus: 0" -}}
{{- end -}}
{{- if and (eq .Values.server.backend "triton") (not .Values.triton.enabled) -}}
{{- fail "server.backend is triton but triton.enabled is false: enable Triton or use server.backend: torchscript" -}}
{{- end -}}
{{- if and .Values.server.tls.enabled (not .Values.server.tls.secretName) -}}
{{- fail "server.tls.enabled requires server.tls.secretName (a kubernetes.io/tls Secret with tls.crt and tls.key)" -}}
{{- end -}}
{{- if and .Values.server.auth.enabled (not .Values.server.auth.existingSecret) (not .Values.server.auth.token) -}}
{{- fail "server.auth.enabled requires server.auth.existingSecret or server.auth.token" -}}
{{- end -}}
{{- if and .Values.web.enabled .Values.server.auth.enabled (not (include "mr.searchTokenKey" .)) -}}
{{- fail "web.enabled with server.auth.enabled needs a search-only token for the page: set server.auth.searchToken (or server.auth.searchKey, its key in server.auth.existingSecret); the page never gets the full-access token" -}}
{{- end -}}
{{- if and .Values.server.auth.searchToken (eq .Values.server.auth.searchToken .Values.server.auth.token) -}}
{{- fail "server.auth.searchToken must differ from server.auth.token (the search-only token would open everything)" -}}
{{- end -}}
{{- if and (eq .Values.modelRepository.source "pvc") (not .Values.modelRepository.pvc.claimName) -}}
{{- fail "modelRepository.source is pvc but modelRepository.pvc.claimName is empty" -}}
{{- end -}}
{{- if .Values.ingestJob.enabled -}}
{{- $onVolume := list -}}
{{- range .Values.ingestJob.paths }}{{ if not (hasPrefix "s3://" .) }}{{ $onVolume = append $onVolume . }}{{ end }}{{ end -}}
{{- if and $onVolume (not .Values.ingestJob.volume) -}}
{{- fail (printf "ingestJob.enabled requires ingestJob.volume for the paths %v (e.g. {persistentVolumeClaim: {claimName: mocap}}); s3://bucket/prefix paths need none" $onVolume) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.previews.enabled .Values.previews.sourceClips (not .Values.ingestJob.volume) -}}
{{- fail "previews.sourceClips mounts ingestJob.volume in the service: set ingestJob.volume (e.g. {persistentVolumeClaim: {claimName: mocap}})" -}}
{{- end -}}
{{- $replicas := int (ternary .Values.server.autoscaling.maxReplicas .Values.server.replicaCount .Values.server.autoscaling.enabled) -}}
{{- if and .Values.previews.enabled (not .Values.previews.existingClaim) (gt $replicas 1) (not (has "ReadWriteMany" .Values.previews.accessModes)) -}}
{{- fail (printf "previews.accessModes %v cannot be mounted by %d service pods on different nodes: use ReadWriteMany storage, one service replica, or previews.existingClaim" .Values.previews.accessModes $replicas) -}}
{{- end -}}
{{- if and .Values.triton.autoscaling.enabled (gt (int .Values.triton.autoscaling.minReplicas) (int .Values.triton.autoscaling.maxReplicas)) -}}
{{- fail "triton.autoscaling.minReplicas must not exceed maxReplicas" -}}
{{- end -}}
{{- if and .Values.server.autoscaling.enabled (gt (int .Values.server.autoscaling.minReplicas) (int .Values.server.autoscaling.maxReplicas)) -}}
{{- fail "server.autoscaling.minReplicas must not exceed maxReplicas" -}}
{{- end -}}
{{- range $component := list "server" "triton" -}}
{{- $cfg := index $.Values $component -}}
{{- $min := $cfg.pdb.minAvailable -}}
{{- if and $cfg.pdb.enabled (or (kindIs "float64" $min) (kindIs "int" $min) (kindIs "int64" $min)) -}}
{{- $replicas := int (ternary $cfg.autoscaling.minReplicas $cfg.replicaCount $cfg.autoscaling.enabled) -}}
{{- if ge (int $cfg.pdb.minAvailable) $replicas -}}
{{- fail (printf "%s.pdb.minAvailable is %d with %d replica(s): no pod could ever be evicted, which blocks every node drain. Use %s.pdb.maxUnavailable: 1 (the default) or run more replicas than minAvailable" $component (int $cfg.pdb.minAvailable) $replicas $component) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.milvus.enabled -}}
{{- $m := .Values.milvus -}}
{{- $pulsar := or (dig "pulsarv3" "enabled" false $m) (dig "pulsar" "enabled" false $m) (dig "externalPulsar" "enabled" false $m) -}}
{{- $kafka := or (dig "kafka" "enabled" false $m) (dig "externalKafka" "enabled" false $m) -}}
{{- $woodpecker := dig "woodpecker" "enabled" false $m -}}
{{- if dig "cluster" "enabled" false $m -}}
{{- if not (or $pulsar $kafka $woodpecker) -}}
{{- fail "milvus.cluster.enabled (Milvus distributed) needs a message queue: set milvus.pulsarv3.enabled: true (or milvus.kafka.enabled, or an externalPulsar / externalKafka), or use standalone (milvus.cluster.enabled: false)" -}}
{{- end -}}
{{- else -}}
{{- $mq := dig "standalone" "messageQueue" "rocksmq" $m -}}
{{- if or (and (eq $mq "pulsar") (not $pulsar)) (and (eq $mq "kafka") (not $kafka)) (and (eq $mq "woodpecker") (not $woodpecker)) -}}
{{- fail (printf "milvus.standalone.messageQueue is %s but no %s is enabled: enable it (e.g. milvus.pulsarv3.enabled / milvus.kafka.enabled) or use the embedded rocksmq" $mq $mq) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The model repository volume + (for initContainer) the copy step, shared by Triton, the service and the Job. */}}
{{- define "mr.modelVolume" -}}
- name: model-repository
{{- if eq .Values.modelRepository.source "pvc" }}
  persistentVolumeClaim:
    claimName: {{ .Values.modelRepository.pvc.claimName }}
    readOnly: true
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}

{{/* Copies the repository out of the model image. Triton needs it only for source=initContainer (for source=image
   its own image holds it); the service and the ingest Job need it unless it comes from a PVC. */}}
{{- define "mr.modelInitContainer" -}}
- name: fetch-model-repository
  image: {{ include "mr.modelImage" . }}
  imagePullPolicy: {{ .Values.modelRepository.image.pullPolicy }}
  command: ["cp", "-R", "{{ .Values.modelRepository.image.path }}/.", "{{ .Values.modelRepository.mountPath }}/"]
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    requests: {cpu: 100m, memory: 64Mi}
    limits: {cpu: 500m, memory: 256Mi}
  volumeMounts:
    - name: model-repository
      mountPath: {{ .Values.modelRepository.mountPath }}
{{- end -}}

{{- define "mr.modelVolumeMount" -}}
- name: model-repository
  mountPath: {{ .Values.modelRepository.mountPath }}
  {{- if and (eq .Values.modelRepository.source "pvc") .Values.modelRepository.pvc.subPath }}
  subPath: {{ .Values.modelRepository.pvc.subPath }}
  {{- end }}
  readOnly: {{ eq .Values.modelRepository.source "pvc" }}
{{- end -}}

{{/* The Milvus token Secret as a read-only file, mounted by the service (--milvus-token-file) and the ingest Job
   (MOTION_RETRIEVAL_MILVUS_TOKEN_FILE); never argv, never the environment. */}}
{{- define "mr.milvusTokenVolume" -}}
- name: milvus-token
  secret:
    secretName: {{ include "mr.milvusTokenSecret" . }}
    defaultMode: 0440
    items:
      - {key: {{ .Values.externalMilvus.key }}, path: token}
{{- end -}}

{{/* The preview store volume (previews.*), mounted by the service and the ingest Job. */}}
{{- define "mr.previewsClaim" -}}
{{- .Values.previews.existingClaim | default (printf "%s-previews" (include "mr.fullname" .)) -}}
{{- end -}}
{{- define "mr.previewsVolume" -}}
- name: previews
  persistentVolumeClaim:
    claimName: {{ include "mr.previewsClaim" . }}
{{- end -}}
{{- define "mr.previewsMount" -}}
- {name: previews, mountPath: {{ .Values.previews.mountPath }}}
{{- end -}}

{{- define "mr.milvusTokenMount" -}}
- {name: milvus-token, mountPath: {{ include "mr.milvusTokenDir" . }}, readOnly: true}
{{- end -}}
