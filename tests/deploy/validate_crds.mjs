// Validates custom resources against the CRD schemas that the npm packages
// @kubernetes-models/keda and @kubernetes-models/prometheus-operator ship
// (installed by scripts/install-deps into .tools/npm). Reads a JSON array of
// resources on stdin; prints one JSON line per resource: {kind, name, error}.
// Exit status 0 when the run itself worked, whatever the verdicts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const models = {
  "keda.sh/v1alpha1/ScaledObject": "keda/keda.sh/v1alpha1/ScaledObject.js",
  "keda.sh/v1alpha1/TriggerAuthentication": "keda/keda.sh/v1alpha1/TriggerAuthentication.js",
  "monitoring.coreos.com/v1/ServiceMonitor": "prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js",
  "monitoring.coreos.com/v1/PodMonitor": "prometheus-operator/monitoring.coreos.com/v1/PodMonitor.js",
  "monitoring.coreos.com/v1/PrometheusRule": "prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js",
};

const resources = JSON.parse(readFileSync(0, "utf8"));
for (const resource of resources) {
  const key = `${resource.apiVersion}/${resource.kind}`;
  const name = resource.metadata?.name ?? "";
  const file = models[key];
  if (!file) {
    console.log(JSON.stringify({ kind: key, name, error: `no schema for ${key}` }));
    continue;
  }
  const module = await import(pathToFileURL(join(modules, "@kubernetes-models", file)).href);
  const model = Object.values(module).find((v) => typeof v === "function" && v.name === resource.kind);
  try {
    new model(resource).validate();
    console.log(JSON.stringify({ kind: key, name, error: null }));
  } catch (e) {
    console.log(JSON.stringify({ kind: key, name, error: String(e.message ?? e) }));
  }
}
