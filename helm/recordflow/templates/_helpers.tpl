{{/* The chart's name, or nameOverride. */}}
{{- define "recordflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* `<release>-<chart>` (the release alone when it already holds the chart's name). */}}
{{- define "recordflow.fullname" -}}
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

{{/* A component's object name: `<fullname>-<component>`. Call with (dict "root" $ "component" "worker"). */}}
{{- define "recordflow.componentName" -}}
{{- printf "%s-%s" (include "recordflow.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The standard labels of every object. */}}
{{- define "recordflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "recordflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: recordflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "recordflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "recordflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A component's labels. Call with (dict "root" $ "component" "worker"). */}}
{{- define "recordflow.componentLabels" -}}
{{ include "recordflow.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* A component's selector labels. Call with (dict "root" $ "component" "worker"). */}}
{{- define "recordflow.componentSelectorLabels" -}}
{{ include "recordflow.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "recordflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "recordflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "recordflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Where the data-file overrides are mounted. */}}
{{- define "recordflow.filesDir" -}}/etc/recordflow{{- end -}}
{{- define "recordflow.homeDir" -}}/var/lib/recordflow{{- end -}}
{{- define "recordflow.caDir" -}}/etc/recordflow-ca{{- end -}}
{{- define "recordflow.kafkaClientCertDir" -}}/etc/recordflow-kafka-client{{- end -}}

{{/* "true" when clients speak TLS to Kafka (SSL or SASL_SSL), else "". */}}
{{- define "recordflow.kafkaTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") -}}true{{- end -}}
{{- end -}}

{{/*
The plain settings, RECORDFLOW_* name to value (a dict as YAML): the settings ConfigMap holds
them, and the topics hook Job (which runs before the ConfigMap exists) takes them inline.
*/}}
{{- define "recordflow.settings" -}}
{{- $v := .Values -}}
{{- $s := dict
  "RECORDFLOW_HOME" (include "recordflow.homeDir" .)
  "RECORDFLOW_KAFKA_BOOTSTRAP" $v.kafka.bootstrap
  "RECORDFLOW_KAFKA_SECURITY_PROTOCOL" $v.kafka.securityProtocol
  "RECORDFLOW_SCHEMA_REGISTRY_URL" $v.schemaRegistry.url
  "RECORDFLOW_S3_ENDPOINT" $v.s3.endpoint
  "RECORDFLOW_S3_SECURE" (ternary "true" "false" $v.s3.secure)
  "RECORDFLOW_S3_REGION" $v.s3.region
  "RECORDFLOW_TOPIC_PREFIX" $v.names.topicPrefix
  "RECORDFLOW_BUCKET_PREFIX" $v.names.bucketPrefix
  "RECORDFLOW_APP_ID" $v.names.appId
  "RECORDFLOW_METRICS_PORT" (toString $v.workers.metricsPort)
  "RECORDFLOW_REGISTER_CONCURRENCY" (toString $v.workers.registerConcurrency)
-}}
{{- /* The SASL user and the client certificate's files are each part's own (recordflow.env),
not shared settings. */ -}}
{{- if $v.kafka.sasl.mechanism -}}
{{- $_ := set $s "RECORDFLOW_KAFKA_SASL_MECHANISM" $v.kafka.sasl.mechanism -}}
{{- end -}}
{{- if $v.kafka.topicReplicationFactor -}}
{{- $_ := set $s "RECORDFLOW_TOPIC_REPLICATION_FACTOR" (toString $v.kafka.topicReplicationFactor) -}}
{{- end -}}
{{- if $v.clamdAddress -}}
{{- $_ := set $s "RECORDFLOW_CLAMD_ADDRESS" $v.clamdAddress -}}
{{- end -}}
{{- if $v.prometheusUrl -}}
{{- $_ := set $s "RECORDFLOW_PROMETHEUS_URL" $v.prometheusUrl -}}
{{- end -}}
{{- $dir := include "recordflow.filesDir" . -}}
{{- if $v.files.agencies -}}
{{- $_ := set $s "RECORDFLOW_AGENCIES_FILE" (printf "%s/agencies/agencies.yaml" $dir) -}}
{{- end -}}
{{- if $v.files.retention -}}
{{- $_ := set $s "RECORDFLOW_RETENTION_DIR" (printf "%s/retention" $dir) -}}
{{- end -}}
{{- if $v.files.metadataRules -}}
{{- $_ := set $s "RECORDFLOW_METADATA_RULES_FILE" (printf "%s/metadata-rules/metadata_rules.yaml" $dir) -}}
{{- end -}}
{{- if $v.files.accessRules -}}
{{- $_ := set $s "RECORDFLOW_ACCESS_RULES_FILE" (printf "%s/access-rules/access.yaml" $dir) -}}
{{- end -}}
{{- if $v.tls.caBundle.configMap -}}
{{- $ca := printf "%s/%s" (include "recordflow.caDir" .) $v.tls.caBundle.key -}}
{{- /* Python's ssl and minio (S3) read SSL_CERT_FILE; every Kafka client reads the setting. */ -}}
{{- $_ := set $s "SSL_CERT_FILE" $ca -}}
{{- if include "recordflow.kafkaTls" . -}}
{{- $_ := set $s "RECORDFLOW_KAFKA_SSL_CA_FILE" $ca -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := $v.settings -}}
{{- $_ := set $s (printf "RECORDFLOW_%s" (upper $name)) (toString $value) -}}
{{- end -}}
{{- toYaml $s -}}
{{- end -}}

{{/* One secretKeyRef env entry, when the Secret is named. Call with (dict "env" NAME "ref" .Values.secrets.x "key" KEY). */}}
{{- define "recordflow.secretEnv" -}}
{{- if .ref.name }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.name }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{/* The parts that sign in to Kafka and S3, as their values' keys: each has `credentials`. */}}
{{- define "recordflow.parts" -}}
{{- toJson (list "workers" "gateway" "console" "lookup" "topicsJob") -}}
{{- end -}}

{{/*
A part's identity: its own `credentials`, each value left empty replaced by the release-wide one
(kafka.sasl.username, secrets.kafkaSasl, kafka.tls.clientCertificate, secrets.s3). As JSON
{kafkaSaslUsername, kafkaSasl: {name, key}, kafkaClientCertificate: {secretName, certificateKey,
keyKey}, s3: {name, accessKeyKey, secretKeyKey}}. Call with (dict "root" $ "part" "gateway").
*/}}
{{- define "recordflow.credentials" -}}
{{- $v := .root.Values -}}
{{- $own := (index $v .part).credentials -}}
{{- toJson (dict
  "kafkaSaslUsername" ($own.kafkaSaslUsername | default $v.kafka.sasl.username)
  "kafkaSasl" (ternary $own.kafkaSasl $v.secrets.kafkaSasl (ne $own.kafkaSasl.name ""))
  "kafkaClientCertificate" (ternary $own.kafkaClientCertificate $v.kafka.tls.clientCertificate (ne $own.kafkaClientCertificate.secretName ""))
  "s3" (ternary $own.s3 $v.secrets.s3 (ne $own.s3.name ""))) -}}
{{- end -}}

{{/* The env of every recordflow container: the pod's address, the part's identity (its Kafka
user, its client certificate's files, and its secrets by reference) and the identity numbers' key.
Call with (dict "root" $ "part" "gateway"). */}}
{{- define "recordflow.env" -}}
{{- $root := .root -}}
{{- $id := include "recordflow.credentials" . | fromJson -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: HOME
  value: {{ include "recordflow.homeDir" $root }}
{{- if $root.Values.kafka.sasl.mechanism }}
{{- with $id.kafkaSaslUsername }}
- name: RECORDFLOW_KAFKA_SASL_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- include "recordflow.secretEnv" (dict "env" "RECORDFLOW_KAFKA_SASL_PASSWORD" "ref" $id.kafkaSasl "key" $id.kafkaSasl.key) }}
{{- end }}
{{- with $id.kafkaClientCertificate }}
{{- if .secretName }}
{{- /* Where recordflow.tlsVolumeMounts puts the part's own certificate and key. */}}
- name: RECORDFLOW_KAFKA_SSL_CERT_FILE
  value: {{ printf "%s/%s" (include "recordflow.kafkaClientCertDir" $root) .certificateKey | quote }}
- name: RECORDFLOW_KAFKA_SSL_KEY_FILE
  value: {{ printf "%s/%s" (include "recordflow.kafkaClientCertDir" $root) .keyKey | quote }}
{{- end }}
{{- end }}
{{- include "recordflow.s3Env" . }}
{{- $s := $root.Values.secrets -}}
{{- include "recordflow.secretEnv" (dict "env" "RECORDFLOW_PERSON_ID_KEY" "ref" $s.personIdKey "key" $s.personIdKey.key) }}
{{- end -}}

{{/* A part's S3 access key id and secret key, by reference: the S3 half of recordflow.env, alone
for a container that talks to S3 and nothing else (the staging sweep). Call with (dict "root" $
"part" "workers"). */}}
{{- define "recordflow.s3Env" -}}
{{- $id := include "recordflow.credentials" . | fromJson -}}
{{- include "recordflow.secretEnv" (dict "env" "RECORDFLOW_S3_ACCESS_KEY" "ref" $id.s3 "key" $id.s3.accessKeyKey) }}
{{- include "recordflow.secretEnv" (dict "env" "RECORDFLOW_S3_SECRET_KEY" "ref" $id.s3 "key" $id.s3.secretKeyKey) }}
{{- end -}}

{{/* A KafkaTopic's name for a topic, as topics/strimzi.py's object_name(): the topic's own when
it is a Kubernetes name; else a lowercase form and a hash of the topic (which goes in topicName). */}}
{{- define "recordflow.strimziObjectName" -}}
{{- if and (le (len .) 253) (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" .) -}}
{{- . -}}
{{- else -}}
{{- $readable := regexReplaceAll "[^a-z0-9]+" (lower .) "-" | trimAll "-" -}}
{{- $digest := sha256sum . | trunc 8 -}}
{{- if $readable -}}{{- printf "%s-%s" (trunc 244 $readable) $digest -}}{{- else -}}{{- $digest -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* The checks that a schema cannot make (it cannot compare two values) or cannot say plainly. */}}
{{- define "recordflow.validate" -}}
{{- $w := .Values.workers -}}
{{- if gt (int $w.replicas) (int $w.partitions) -}}
{{- fail (printf "workers.replicas (%d) must be at most workers.partitions (%d): a partition goes to one worker of the group, the rest would sit idle" (int $w.replicas) (int $w.partitions)) -}}
{{- end -}}
{{- if and $w.autoscaling.enabled (gt (int $w.autoscaling.maxReplicas) (int $w.partitions)) -}}
{{- fail (printf "workers.autoscaling.maxReplicas (%d) must be at most workers.partitions (%d)" (int $w.autoscaling.maxReplicas) (int $w.partitions)) -}}
{{- end -}}
{{- if and $w.autoscaling.enabled (gt (int $w.autoscaling.minReplicas) (int $w.autoscaling.maxReplicas)) -}}
{{- fail "workers.autoscaling.minReplicas must be at most maxReplicas" -}}
{{- end -}}
{{- /* Each part's SASL user and its password's Secret come together, and only with SASL; the
release-wide ones are needed by the Kafka clients that have none of their own. */ -}}
{{- $mechanism := .Values.kafka.sasl.mechanism -}}
{{- $kafkaClients := dict "workers" .Values.workers.enabled "gateway" .Values.gateway.enabled "console" .Values.console.enabled "lookup" .Values.lookup.enabled "topicsJob" (and .Values.topicsJob.enabled (not .Values.strimzi.enabled)) -}}
{{- $fallBack := list -}}
{{- range $part := include "recordflow.parts" . | fromJsonArray -}}
{{- $own := (index $.Values $part).credentials -}}
{{- if and (not $mechanism) (or $own.kafkaSaslUsername $own.kafkaSasl.name) -}}
{{- fail (printf "%s.credentials.kafkaSasl%s is set but kafka.sasl.mechanism is empty: without SASL no part signs in as a Kafka user" $part (ternary "Username" ".name" (ne $own.kafkaSaslUsername ""))) -}}
{{- end -}}
{{- if and $own.kafkaSaslUsername (not $own.kafkaSasl.name) -}}
{{- fail (printf "%s.credentials.kafkaSaslUsername is set: %s.credentials.kafkaSasl.name must name the Secret with its password (secrets.kafkaSasl holds another user's)" $part $part) -}}
{{- end -}}
{{- if and $own.kafkaSasl.name (not $own.kafkaSaslUsername) -}}
{{- fail (printf "%s.credentials.kafkaSasl.name is set: %s.credentials.kafkaSaslUsername must name the user whose password it holds" $part $part) -}}
{{- end -}}
{{- if and (get $kafkaClients $part) (not $own.kafkaSaslUsername) -}}
{{- $fallBack = append $fallBack $part -}}
{{- end -}}
{{- end -}}
{{- if and $mechanism $fallBack (not .Values.secrets.kafkaSasl.name) -}}
{{- fail (printf "kafka.sasl.mechanism is set: secrets.kafkaSasl.name must name the Secret with the SASL password of the parts without credentials of their own (%s)" (join ", " $fallBack)) -}}
{{- end -}}
{{- if and $mechanism $fallBack (not .Values.kafka.sasl.username) -}}
{{- fail (printf "kafka.sasl.mechanism is set: kafka.sasl.username is required for the parts without credentials of their own (%s)" (join ", " $fallBack)) -}}
{{- end -}}
{{- /* A client certificate, the release-wide one or a part's own, is sent over TLS only. */ -}}
{{- if not (include "recordflow.kafkaTls" .) -}}
{{- if .Values.kafka.tls.clientCertificate.secretName -}}
{{- fail (printf "kafka.tls.clientCertificate.secretName is set: kafka.securityProtocol must be SSL or SASL_SSL (it is %s)" .Values.kafka.securityProtocol) -}}
{{- end -}}
{{- range $part := include "recordflow.parts" . | fromJsonArray -}}
{{- if (index $.Values $part).credentials.kafkaClientCertificate.secretName -}}
{{- fail (printf "%s.credentials.kafkaClientCertificate.secretName is set: kafka.securityProtocol must be SSL or SASL_SSL (it is %s)" $part $.Values.kafka.securityProtocol) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.strimzi.enabled .Values.files.agencies -}}
{{- fail "strimzi.enabled renders the image's agency registry (files/strimzi/): with your own files.agencies, leave it off and apply `recordflow topics render strimzi` for your registry yourself (docs/deploy.md)" -}}
{{- end -}}
{{- /* What the API server's cron parser takes, said before the install: five fields or a macro. */ -}}
{{- $sweep := .Values.stagingSweep -}}
{{- if and $sweep.enabled (not (regexMatch "^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?/,-]+([ \t]+[0-9A-Za-z*?/,-]+){4})$" $sweep.schedule)) -}}
{{- fail (printf "stagingSweep.schedule %q is not a CronJob schedule: cron's five fields (minute hour day-of-month month day-of-week, e.g. \"30 2 * * *\", in stagingSweep.timeZone) or a macro such as @daily" $sweep.schedule) -}}
{{- end -}}
{{- if and .Values.console.enabled (or (gt (int .Values.console.replicas) 1) .Values.console.autoscaling.enabled) (not .Values.secrets.consoleSecretKey.name) -}}
{{- fail "more than one console replica: secrets.consoleSecretKey.name must name the Secret with the shared cookie key" -}}
{{- end -}}
{{- end -}}

{{/* The volumes every recordflow pod has: RECORDFLOW_HOME, /tmp, the data-file overrides, the CA bundle, the part's Kafka client certificate. Call with (dict "root" $ "part" "workers" "homeLimit" "4Gi" "tmpLimit" "1Gi"). */}}
{{- define "recordflow.volumes" -}}
{{- $v := .root.Values -}}
- name: home
  emptyDir:
    sizeLimit: {{ .homeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .tmpLimit }}
{{- range $file := list "agencies" "retention" "metadataRules" "accessRules" }}
{{- if index $v.files $file }}
- name: files-{{ $file | kebabcase }}
  configMap:
    name: {{ include "recordflow.componentName" (dict "root" $.root "component" ($file | kebabcase)) }}
{{- end }}
{{- end }}
{{- include "recordflow.tlsVolumes" . }}
{{- end -}}

{{/* The CA bundle and the part's own Kafka client certificate (recordflow.credentials), when
given: volumes (every pod's, the topics Job's). Call with (dict "root" $ "part" "workers"). */}}
{{- define "recordflow.tlsVolumes" -}}
{{- $v := .root.Values -}}
{{- if $v.tls.caBundle.configMap }}
- name: ca-bundle
  configMap:
    name: {{ $v.tls.caBundle.configMap }}
{{- end }}
{{- with (include "recordflow.credentials" . | fromJson).kafkaClientCertificate }}
{{- if .secretName }}
{{- /* Only the certificate and its key (a Strimzi KafkaUser's Secret holds a PKCS#12 store and
its password too), readable by the pods' group (fsGroup) and no one else: 288 is 0440, in decimal,
which YAML 1.1 and 1.2 parsers read alike. */}}
- name: kafka-client-certificate
  secret:
    secretName: {{ .secretName }}
    defaultMode: 288
    items:
      - key: {{ .certificateKey }}
        path: {{ .certificateKey }}
      - key: {{ .keyKey }}
        path: {{ .keyKey }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Their mounts. Call with (dict "root" $ "part" "workers"). */}}
{{- define "recordflow.tlsVolumeMounts" -}}
{{- $root := .root -}}
{{- if $root.Values.tls.caBundle.configMap }}
- name: ca-bundle
  mountPath: {{ include "recordflow.caDir" $root }}
  readOnly: true
{{- end }}
{{- if (include "recordflow.credentials" . | fromJson).kafkaClientCertificate.secretName }}
- name: kafka-client-certificate
  mountPath: {{ include "recordflow.kafkaClientCertDir" $root }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The mounts of recordflow.volumes. Call with (dict "root" $ "part" "workers"). */}}
{{- define "recordflow.volumeMounts" -}}
{{- $root := .root -}}
- name: home
  mountPath: {{ include "recordflow.homeDir" $root }}
- name: tmp
  mountPath: /tmp
{{- range $file := list "agencies" "retention" "metadataRules" "accessRules" }}
{{- if index $root.Values.files $file }}
- name: files-{{ $file | kebabcase }}
  mountPath: {{ include "recordflow.filesDir" $root }}/{{ $file | kebabcase }}
  readOnly: true
{{- end }}
{{- end }}
{{- include "recordflow.tlsVolumeMounts" . }}
{{- end -}}

{{/* Pod-level settings shared by every Deployment. */}}
{{- define "recordflow.podSpecCommon" -}}
serviceAccountName: {{ include "recordflow.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pod template's annotations: a checksum of the settings, so a change rolls the pods. */}}
{{- define "recordflow.podAnnotations" -}}
checksum/settings: {{ include "recordflow.settings" . | sha256sum }}
checksum/files: {{ toYaml .Values.files | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* A HorizontalPodAutoscaler on CPU. Call with (dict "root" $ "component" NAME "autoscaling" VALUES). */}}
{{- define "recordflow.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "recordflow.componentName" . }}
  labels:
    {{- include "recordflow.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "recordflow.componentName" . }}
  minReplicas: {{ .autoscaling.minReplicas }}
  maxReplicas: {{ .autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}

{{/* One egress rule: to the peers (any address when none) on the ports. Call with a networkPolicy destination ({to, ports}). */}}
{{- define "recordflow.egressRule" -}}
- ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* DNS, UDP and TCP: the first egress rule of every NetworkPolicy. */}}
{{- define "recordflow.egressDns" -}}
{{- $n := .Values.networkPolicy -}}
- ports:
    {{- range $n.dns.ports }}
    - port: {{ . }}
      protocol: UDP
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with $n.dns.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* What every recordflow pod of the Deployments reaches: DNS, Kafka, the schema registry, S3. */}}
{{- define "recordflow.egressCommon" -}}
{{- $n := .Values.networkPolicy -}}
{{ include "recordflow.egressDns" . }}
{{ include "recordflow.egressRule" $n.kafka }}
{{ include "recordflow.egressRule" $n.schemaRegistry }}
{{ include "recordflow.egressRule" $n.s3 }}
{{- end -}}
