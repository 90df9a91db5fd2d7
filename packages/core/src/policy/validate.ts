/**
 * Field checks shared by the policy normalisers: CIDRs, ports, port names, regexes.
 * Each returns the parsed value or throws a PolicyError that names the field.
 */
import { PolicyError } from '../errors.js';
import { parsePrefix, prefixContains, type Prefix } from '../model/cidr.js';

/** Parses a CIDR field. */
export function cidrField(text: string, field: string): Prefix {
  const p = parsePrefix(text);
  if (!p)
    throw new PolicyError(
      'InvalidCIDR',
      field,
      `"${text}" is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/64)`,
    );
  return p;
}

/** Parses an `except` list: each entry must be a strict subset of `cidr`, as the apiserver requires. */
export function exceptField(cidr: Prefix, except: readonly string[], field: string): Prefix[] {
  return except.map((e, i) => {
    const p = cidrField(e, `${field}[${i}]`);
    if (!prefixContains(cidr, p) || p.len <= cidr.len)
      throw new PolicyError(
        'InvalidCIDR',
        `${field}[${i}]`,
        `"${e}" must be a strict subset of the cidr`,
      );
    return p;
  });
}

/** IANA service name rules, as Kubernetes validates container port names. */
export function portNameError(name: string): string | undefined {
  if (name.length > 15) return `port name "${name}" must be no more than 15 characters`;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name))
    return `port name "${name}" must contain only lowercase alphanumerics and '-', and start and end with an alphanumeric`;
  if (name.includes('--')) return `port name "${name}" must not contain consecutive hyphens`;
  if (!/[a-z]/.test(name)) return `port name "${name}" must contain at least one letter`;
  return undefined;
}

/** Validates a port or port name and an optional end of range. */
export function portField(
  port: number | string | undefined,
  endPort: number | undefined,
  field: string,
  max = 65535,
): { port?: number | string; endPort?: number } {
  if (port === undefined) {
    if (endPort !== undefined)
      throw new PolicyError('InvalidPortRange', `${field}.endPort`, 'may not be set without port');
    return {};
  }
  if (typeof port === 'string') {
    if (/^\d+$/.test(port)) port = Number(port);
    else {
      const e = portNameError(port);
      if (e) throw new PolicyError('InvalidPort', `${field}.port`, e);
      if (endPort !== undefined)
        throw new PolicyError(
          'InvalidPortRange',
          `${field}.endPort`,
          'may not be set when port is a name',
        );
      return { port };
    }
  }
  const min = max === 255 ? 0 : 1;
  if (!Number.isInteger(port) || port < min || port > max)
    throw new PolicyError(
      'InvalidPort',
      `${field}.port`,
      `${port} must be between ${min} and ${max}`,
    );
  if (endPort === undefined) return { port };
  if (!Number.isInteger(endPort) || endPort < 1 || endPort > max)
    throw new PolicyError(
      'InvalidPortRange',
      `${field}.endPort`,
      `${endPort} must be between 1 and ${max}`,
    );
  if (endPort < port)
    throw new PolicyError(
      'InvalidPortRange',
      `${field}.endPort`,
      `${endPort} must be greater than or equal to port ${port}`,
    );
  return { port, endPort };
}

/** Checks a regular expression of an L7 rule (JavaScript syntax, matched against the whole value). */
export function regexField(text: string, field: string): string {
  try {
    new RegExp(`^(?:${text})$`, 'u');
  } catch (err) {
    throw new PolicyError(
      'InvalidRegex',
      field,
      `"${text}" is not a valid regular expression: ${(err as Error).message}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  return text;
}
