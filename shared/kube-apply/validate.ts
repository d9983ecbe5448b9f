import { ValidatingAdmissionPolicy } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";
import { ValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import * as v from "valibot";
import { KubeError } from "./errors.ts";
import { type KubeObject, KubeObjectSchema } from "./object.ts";
import { apiVersionOf, RESOURCES } from "./resources.ts";
import { unknownFields } from "./strict.ts";

/** A kubernetes-models class: constructed from plain data, `validate()` throws on schema violations. */
interface ModelClass {
  new (data: never): { validate(): void };
}

const MODELS: Readonly<Record<string, ModelClass>> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/DaemonSet": DaemonSet,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy": ValidatingAdmissionPolicy,
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": ValidatingAdmissionPolicyBinding,
};

// Every resource we can address must also be checkable: fail at import, not at the first apply.
for (const r of RESOURCES) {
  if (MODELS[`${apiVersionOf(r)}/${r.kind}`] === undefined) throw new Error(`no schema for ${r.kind}`);
}

/** One schema violation: JSON pointer into the object and the validator's message. */
export interface SchemaViolation {
  readonly path: string;
  readonly message: string;
}

function violationsOf(err: unknown): SchemaViolation[] {
  const list = (err as { errors?: unknown }).errors;
  if (!Array.isArray(list)) return [{ path: "", message: String(err) }];
  return list.map((e: { instancePath?: unknown; message?: unknown }) => ({
    path: typeof e.instancePath === "string" ? e.instancePath : "",
    message: typeof e.message === "string" ? e.message : "invalid",
  }));
}

/**
 * Checks an object against the OpenAPI schema of its kind (precompiled validators of `kubernetes-models`,
 * offline), refuses fields the API does not define (strict, like `fieldValidation=Strict`) and returns it
 * typed. Throws `INVALID_OBJECT` (with {@link KubeError.actual} listing the
 * violations) or `UNKNOWN_KIND`.
 *
 * @example
 * const ds = validateObject(Bun.YAML.parse(text));
 */
export function validateObject(value: unknown): KubeObject {
  const parsed = v.safeParse(KubeObjectSchema, value);
  if (!parsed.success)
    throw new KubeError("INVALID_OBJECT", "Cannot validate Kubernetes object", {
      expected: "apiVersion, kind and metadata.name",
      actual: v.summarize(parsed.issues),
    });
  const obj = parsed.output;
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (Model === undefined)
    throw new KubeError("UNKNOWN_KIND", "Cannot validate Kubernetes object", {
      expected: "a kind listed in RESOURCES",
      actual: `${obj.apiVersion} ${obj.kind}`,
    });
  try {
    new Model(obj as never).validate();
  } catch (cause) {
    const violations = violationsOf(cause);
    throw new KubeError("INVALID_OBJECT", `Cannot validate ${obj.kind} ${obj.metadata.name}`, {
      expected: `a valid ${obj.apiVersion} ${obj.kind}`,
      actual: violations.map((x) => `${x.path || "/"} ${x.message}`).join("; "),
      cause,
    });
  }
  const unknown = unknownFields(obj, obj.kind);
  if (unknown.length > 0)
    throw new KubeError("INVALID_OBJECT", `Cannot validate ${obj.kind} ${obj.metadata.name}`, {
      expected: "only fields the Kubernetes API defines",
      actual: `unknown field ${unknown.join(", ")}`,
    });
  return obj;
}

/** The schema violations of an object, or an empty list when it is valid (never throws for bad input). */
export function schemaViolations(value: unknown): SchemaViolation[] {
  try {
    validateObject(value);
    return [];
  } catch (err) {
    if (err instanceof KubeError) {
      const cause = err.cause;
      return cause === undefined ? [{ path: "", message: err.message }] : violationsOf(cause);
    }
    throw err;
  }
}
