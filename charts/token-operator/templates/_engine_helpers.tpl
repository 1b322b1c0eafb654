{{/* Helpers of the in-cluster token engine's templates (docs/install-helm.md, "The token engine"). */}}

{{/* engineTLS is "true" when the engine serves HTTPS: always with store kubernetes (tokens cross the
pod network to several replicas), on request with bbolt. */}}
{{- define "token-operator.engineTLS" -}}
{{- if or .Values.engine.tls.enabled (eq .Values.engine.store "kubernetes") }}true{{ end }}
{{- end }}

{{/* engineTLSSecretName holds tls.crt, tls.key and ca.crt: the chart's, cert-manager's or the user's. */}}
{{- define "token-operator.engineTLSSecretName" -}}
{{- default (printf "%s-tls" .Values.engine.name) .Values.engine.tls.existingSecret }}
{{- end }}

{{/* engineHost is the Service's in-cluster DNS name, the name the certificate is issued for. */}}
{{- define "token-operator.engineHost" -}}
{{- printf "%s.%s.svc" .Values.engine.name .Release.Namespace }}
{{- end }}

{{/* engineTLSMaterial returns, as JSON, the chart-generated TLS Secret's keys (ca.crt, ca.key,
tls.crt, tls.key), computed once per render and shared by engine-tls-secret.yaml and
clustertokenengine.yaml. The CA (10 years) is generated at first install and kept: `lookup` reads it
back on upgrade (`helm template` and --dry-run cannot look up, so they show fresh keys). The serving
certificate is kept too, and re-signed by the same CA when engine.tls.renewCertificate is set: the
CA bundle the operator trusts does not change, and the engine re-reads its files, so the rotation
needs no restart and drops no request (docs/install-helm.md, "Engine TLS"). */}}
{{- define "token-operator.engineTLSMaterial" -}}
{{- if not (hasKey .Values "_engineTLS") }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "token-operator.engineTLSSecretName" .) }}
{{- $data := dict }}
{{- if and $existing $existing.data }}{{ $data = $existing.data }}{{ end }}
{{- $m := dict }}
{{- if and (hasKey $data "ca.crt") (hasKey $data "ca.key") (hasKey $data "tls.crt") (hasKey $data "tls.key") (not .Values.engine.tls.renewCertificate) }}
{{- range $k := list "ca.crt" "ca.key" "tls.crt" "tls.key" }}{{ $_ := set $m $k (index $data $k | b64dec) }}{{ end }}
{{- else }}
{{- $ca := dict }}
{{- if and (hasKey $data "ca.crt") (hasKey $data "ca.key") }}
{{- $ca = buildCustomCert (index $data "ca.crt") (index $data "ca.key") }}
{{- else }}
{{- $ca = genCA (printf "%s-ca" .Values.engine.name) 3650 }}
{{- end }}
{{- $host := include "token-operator.engineHost" . }}
{{- $dns := list .Values.engine.name (printf "%s.%s" .Values.engine.name .Release.Namespace) $host (printf "%s.cluster.local" $host) }}
{{- $cert := genSignedCert $host nil $dns (int .Values.engine.tls.certificateValidityDays) $ca }}
{{- $m = dict "ca.crt" $ca.Cert "ca.key" $ca.Key "tls.crt" $cert.Cert "tls.key" $cert.Key }}
{{- end }}
{{- $_ := set .Values "_engineTLS" $m }}
{{- end }}
{{- toJson .Values._engineTLS }}
{{- end }}

{{/* engineCABundle is the PEM the ClusterTokenEngine trusts: engine.tls.caBundle, else ca.crt of the
TLS Secret (the chart's own, or cert-manager's / the user's as found in the cluster). */}}
{{- define "token-operator.engineCABundle" -}}
{{- if .Values.engine.tls.caBundle }}
{{- .Values.engine.tls.caBundle }}
{{- else if or .Values.engine.tls.certManager.enabled .Values.engine.tls.existingSecret }}
{{- $s := lookup "v1" "Secret" .Release.Namespace (include "token-operator.engineTLSSecretName" .) }}
{{- if and $s $s.data (hasKey $s.data "ca.crt") }}{{ index $s.data "ca.crt" | b64dec }}{{ end }}
{{- else }}
{{- index (include "token-operator.engineTLSMaterial" . | fromJson) "ca.crt" }}
{{- end }}
{{- end }}

{{/* engineArgs are the flags shared by the StatefulSet and the Deployment. */}}
{{- define "token-operator.engineArgs" -}}
- engine
- --listen=:{{ .Values.engine.port }}
- --admin-token-file=/etc/token-engine/admin-token.json
- --log-format=json
{{- with .Values.engine.expiredTokenRetention }}
- --expired-token-retention={{ . }}
{{- end }}
{{- if include "token-operator.engineTLS" . }}
- --tls-cert-file=/etc/token-engine-tls/tls.crt
- --tls-key-file=/etc/token-engine-tls/tls.key
{{- end }}
{{- end }}
