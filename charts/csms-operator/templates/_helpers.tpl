{{/* Chart name. */}}
{{- define "csms-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name. It defaults to the chart name rather than the release name
so that the names equal the kustomize install's (csms-operator-controller-manager, ...).
*/}}
{{- define "csms-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- include "csms-operator.name" . | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "csms-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "csms-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector of the manager pods: the same labels as config/manager. */}}
{{- define "csms-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ include "csms-operator.name" . }}
{{- end }}

{{- define "csms-operator.serviceAccountName" -}}
{{ include "csms-operator.fullname" . }}-controller-manager
{{- end }}
