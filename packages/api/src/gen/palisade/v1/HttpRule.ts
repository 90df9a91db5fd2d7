// Original file: protos/palisade/v1/compiled.proto

import type { HttpHeaderMatch as _palisade_v1_HttpHeaderMatch, HttpHeaderMatch__Output as _palisade_v1_HttpHeaderMatch__Output } from '../../palisade/v1/HttpHeaderMatch.js';

/**
 * An L7 HTTP rule; `path` and `host` are anchored regular expressions.
 */
export interface HttpRule {
  'method'?: (string);
  'path'?: (string);
  'host'?: (string);
  'headers'?: (_palisade_v1_HttpHeaderMatch)[];
  '_method'?: "method";
  '_path'?: "path";
  '_host'?: "host";
}

/**
 * An L7 HTTP rule; `path` and `host` are anchored regular expressions.
 */
export interface HttpRule__Output {
  'method'?: (string);
  'path'?: (string);
  'host'?: (string);
  'headers': (_palisade_v1_HttpHeaderMatch__Output)[];
  '_method'?: "method";
  '_path'?: "path";
  '_host'?: "host";
}
