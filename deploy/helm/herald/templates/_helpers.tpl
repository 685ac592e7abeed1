{{/* Names: the release's prefix, then the process ("herald-persister" for a release named herald). */}}
{{- define "herald.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "herald.workload" -}}
{{- printf "%s-%s" (include "herald.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "herald.labels" -}}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The Secret a value is read from: the one named by existingSecret, else the chart's own. */}}
{{- define "herald.secretName" -}}
{{- $s := index .root.Values .secret -}}
{{- $s.existingSecret | default (printf "%s-%s" (include "herald.fullname" .root) (.secret | kebabcase)) -}}
{{- end -}}

{{/* Whether a secret has a value at all: given inline or as an existing Secret. */}}
{{- define "herald.secretSet" -}}
{{- $s := index .root.Values .secret -}}
{{- $field := get (dict "database" "url" "outboxDatabase" "url" "jwt" "secret" "fcm" "credentials") .secret -}}
{{- if or $s.existingSecret (get $s $field) -}}true{{- end -}}
{{- end -}}

{{- define "herald.image" -}}
"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
{{- end -}}

{{/* What every pod shares: pull secrets, no API token, uid 10001 (the image's user). */}}
{{- define "herald.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Every container: nothing to escalate to, no capabilities, a read-only root file system. */}}
{{- define "herald.containerSecurity" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Where the broker is and how topics and groups are prefixed: every process, and the setup job. */}}
{{- define "herald.kafkaEnv" -}}
- name: HERALD_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: HERALD_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: HERALD_GROUP_PREFIX
  value: {{ .Values.kafka.groupPrefix | quote }}
{{- with .Values.kafka.schemaRegistryUrl }}
- name: HERALD_SCHEMA_REGISTRY_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "herald.databaseEnv" -}}
- name: HERALD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "herald.secretName" (dict "root" . "secret" "database") }}
      key: {{ .Values.database.key }}
{{- end -}}

{{/* The pod of one process: `herald run NAME` in the one image; context: dict root, name, p. */}}
{{- define "herald.podSpec" -}}
{{- $root := .root -}}
{{- $p := .p -}}
{{- $values := $root.Values -}}
{{ include "herald.podCommon" $root }}
terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
containers:
  - name: {{ .name }}
    image: {{ include "herald.image" $root }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    args: ["run", {{ .name | quote }}]
    ports:
      - name: http
        containerPort: {{ $p.port }}
        protocol: TCP
    env:
      {{- include "herald.kafkaEnv" $root | nindent 6 }}
      - name: {{ $p.portSetting }}
        value: {{ $p.port | quote }}
      {{- if $p.group }}
      # A stable, distinct id per replica: the transactional id and static group membership.
      - name: HERALD_INSTANCE_ID
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      {{- end }}
      {{- if eq $p.portSetting "HERALD_API_PORT" }}
      - name: HERALD_API_HOST
        value: "0.0.0.0"
      {{- end }}
      {{- if has "database" $p.secrets }}
      {{- include "herald.databaseEnv" $root | nindent 6 }}
      {{- end }}
      {{- if has "outboxDatabase" $p.secrets }}
      - name: HERALD_OUTBOX_DATABASE_URL
        valueFrom:
          secretKeyRef:
            name: {{ include "herald.secretName" (dict "root" $root "secret" "outboxDatabase") }}
            key: {{ $values.outboxDatabase.key }}
      {{- end }}
      {{- if has "jwt" $p.secrets }}
      - name: HERALD_API_JWT_SECRET
        valueFrom:
          secretKeyRef:
            name: {{ include "herald.secretName" (dict "root" $root "secret" "jwt") }}
            key: {{ $values.jwt.key }}
      {{- end }}
      {{- if has "fcm" $p.secrets }}
      - name: HERALD_FCM_PROJECT_ID
        value: {{ $values.fcm.projectId | quote }}
      {{- with $values.fcm.endpoint }}
      - name: HERALD_FCM_ENDPOINT
        value: {{ . | quote }}
      {{- end }}
      {{- if include "herald.secretSet" (dict "root" $root "secret" "fcm") }}
      - name: HERALD_FCM_CREDENTIALS
        value: /var/run/secrets/herald/fcm/{{ $values.fcm.key }}
      {{- end }}
      {{- end }}
      {{- if eq .name "lifecycle" }}
      # Retention deletes data: off until lifecycle.retention is turned on (docs/data-lifecycle.md).
      - name: HERALD_LIFECYCLE_RETENTION
        value: {{ $values.lifecycle.retention | quote }}
      {{- if $values.lifecycle.archiveClaim }}
      - name: HERALD_ARCHIVE_DIR
        value: /archive
      {{- end }}
      {{- end }}
      {{- with $values.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with $p.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: {{ $values.probes.liveness.periodSeconds }}
      failureThreshold: {{ $values.probes.liveness.failureThreshold }}
    readinessProbe:
      httpGet:
        path: /readyz
        port: http
      periodSeconds: {{ $values.probes.readiness.periodSeconds }}
      failureThreshold: {{ $values.probes.readiness.failureThreshold }}
    resources:
      {{- toYaml ($p.resources | default $values.resources) | nindent 6 }}
    securityContext:
      {{- include "herald.containerSecurity" $root | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if and (has "fcm" $p.secrets) (include "herald.secretSet" (dict "root" $root "secret" "fcm")) }}
      - name: fcm
        mountPath: /var/run/secrets/herald/fcm
        readOnly: true
      {{- end }}
      {{- if and (eq .name "lifecycle") $values.lifecycle.archiveClaim }}
      - name: archive
        mountPath: /archive
      {{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  {{- if and (eq .name "lifecycle") $values.lifecycle.archiveClaim }}
  - name: archive
    persistentVolumeClaim:
      claimName: {{ $values.lifecycle.archiveClaim }}
  {{- end }}
  {{- if and (has "fcm" $p.secrets) (include "herald.secretSet" (dict "root" $root "secret" "fcm")) }}
  - name: fcm
    secret:
      secretName: {{ include "herald.secretName" (dict "root" $root "secret" "fcm") }}
      items:
        - key: {{ $values.fcm.key }}
          path: {{ $values.fcm.key }}
  {{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
