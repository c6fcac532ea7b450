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

{{/* Triton's gRPC address as the service sees it: the Triton Service of this release. */}}
{{- define "mr.tritonUrl" -}}
{{- printf "%s.%s.svc:%d" (include "mr.tritonName" .) .Release.Namespace (int .Values.triton.ports.grpc) -}}
{{- end -}}

{{/* Milvus URI: the bundled chart's Service when milvus.enabled, else the external address (required). */}}
{{- define "mr.milvusUri" -}}
{{- if .Values.milvus.enabled -}}
{{- printf "http://%s-milvus.%s.svc:19530" .Release.Name .Release.Namespace -}}
{{- else -}}
{{- required "externalMilvus.uri is required when milvus.enabled is false (e.g. http://milvus.data.svc:19530)" .Values.externalMilvus.uri -}}
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
{{- if and (eq .Values.modelRepository.source "pvc") (not .Values.modelRepository.pvc.claimName) -}}
{{- fail "modelRepository.source is pvc but modelRepository.pvc.claimName is empty" -}}
{{- end -}}
{{- if and .Values.ingestJob.enabled (not .Values.ingestJob.volume) -}}
{{- fail "ingestJob.enabled requires ingestJob.volume (e.g. {persistentVolumeClaim: {claimName: mocap}})" -}}
{{- end -}}
{{- if and .Values.triton.autoscaling.enabled (gt (int .Values.triton.autoscaling.minReplicas) (int .Values.triton.autoscaling.maxReplicas)) -}}
{{- fail "triton.autoscaling.minReplicas must not exceed maxReplicas" -}}
{{- end -}}
{{- if and .Values.server.autoscaling.enabled (gt (int .Values.server.autoscaling.minReplicas) (int .Values.server.autoscaling.maxReplicas)) -}}
{{- fail "server.autoscaling.minReplicas must not exceed maxReplicas" -}}
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

{{/* Secret-backed environment of the service and the ingest Job; the rest comes from the ConfigMap. */}}
{{- define "mr.secretEnv" -}}
{{- if and (not .Values.milvus.enabled) .Values.externalMilvus.existingSecret }}
- name: MOTION_RETRIEVAL_MILVUS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalMilvus.existingSecret }}
      key: {{ .Values.externalMilvus.key }}
{{- end }}
{{- if .Values.server.auth.enabled }}
- name: MOTION_RETRIEVAL_AUTH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "mr.authSecretName" . }}
      key: {{ .Values.server.auth.key }}
{{- end }}
- name: HOME
  value: /tmp
{{- end -}}
