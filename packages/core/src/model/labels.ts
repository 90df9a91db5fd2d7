/**
 * Kubernetes label keys and values: validation exactly as the apiserver applies it
 * (qualified names, DNS-1123 subdomain prefixes, 63-character names and values).
 */

/** A label set. Keys and values are validated at the edge (schemas); here they are plain strings. */
export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns why `key` is not a valid label key, or undefined if it is. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  let name = key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix.length === 0) return `label key "${key}": prefix part must be non-empty`;
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN_RE.test(prefix))
      return `label key "${key}": prefix part must be a DNS-1123 subdomain`;
  }
  if (name.length === 0) return `label key "${key}": name part must be non-empty`;
  if (name.length > 63) return `label key "${key}": name part must be no more than 63 characters`;
  if (!NAME_RE.test(name))
    return `label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}

/** Returns why `value` is not a valid label value, or undefined if it is. */
export function labelValueError(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > 63) return `label value "${value}": must be no more than 63 characters`;
  if (!NAME_RE.test(value))
    return `label value "${value}": must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}

/** Returns why `name` is not a valid DNS-1123 label (namespace names), or undefined. */
export function dns1123LabelError(name: string): string | undefined {
  if (name.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
    return `"${name}" must be a DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters)`;
  return undefined;
}

/** The label the apiserver puts on every namespace, holding its name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
