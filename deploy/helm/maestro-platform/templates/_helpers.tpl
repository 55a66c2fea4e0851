{{- define "maestro.labels" -}}
app.kubernetes.io/part-of: maestro
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "maestro.image" -}}
{{ printf "%s:%s" .Values.image.repository (toString .Values.image.tag) }}
{{- end -}}

{{/* the shared configuration and the credentials Secret, for every Maestro container */}}
{{- define "maestro.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ .Release.Name }}-config
  - secretRef:
      name: {{ required "secretName: the existing Secret with Maestro's credentials" .Values.secretName }}
{{- end -}}
