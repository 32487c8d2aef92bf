{{- define "signet-webhook.rules" -}}
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["pods", "pods/ephemeralcontainers"]
- apiGroups: ["apps"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
- apiGroups: ["batch"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["jobs", "cronjobs"]
{{- end -}}
{{- define "signet-webhook.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ concat (list "kube-system" .Release.Namespace) .Values.excludedNamespaces | uniq | toJson }}
{{- end -}}
{{- define "signet-webhook.policyConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: signet-policy-{{ .name }}
  namespace: {{ .ns }}
data:
  trustpolicy.oci.json: {{ .set.trustPolicy | toJson }}
  {{- range $store, $pem := .set.trustStores }}
  ca-{{ $store }}.pem: {{ $pem | toJson }}
  {{- end }}
{{- end -}}
{{- define "signet-webhook.policyVolume" -}}
- name: policy-{{ .name }}
  configMap:
    name: signet-policy-{{ .name }}
    items:
      - {key: trustpolicy.oci.json, path: trustpolicy.oci.json}
      {{- range $store, $pem := .set.trustStores }}
      - {key: ca-{{ $store }}.pem, path: truststore/x509/ca/{{ $store }}/ca.pem}
      {{- end }}
{{- end -}}
