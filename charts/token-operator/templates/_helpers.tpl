{{/* name is the chart name, or nameOverride. */}}
{{- define "token-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* fullname names the manager's objects; release "token-operator" gives "token-operator", not "token-operator-token-operator". */}}
{{- define "token-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "token-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* labels go on every object. managed-by is Helm here; the operator's own Secrets say token-operator. */}}
{{- define "token-operator.labels" -}}
helm.sh/chart: {{ include "token-operator.chart" . }}
app.kubernetes.io/name: {{ include "token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: token-operator
{{- end }}

{{- define "token-operator.managerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "token-operator.engineSelectorLabels" -}}
app.kubernetes.io/name: {{ include "token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: token-engine
{{- end }}

{{- define "token-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "token-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "token-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* engineAdminSecretName is the Secret holding the engine's admin token: the user's, or the generated one. */}}
{{- define "token-operator.engineAdminSecretName" -}}
{{- default (printf "%s-admin" .Values.engine.name) .Values.engine.existingAdminSecret }}
{{- end }}

{{- define "token-operator.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}
