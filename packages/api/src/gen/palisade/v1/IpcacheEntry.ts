// Original file: protos/palisade/v1/compiled.proto


/**
 * An ipcache entry: a prefix (`10.0.0.5/32`, `2001:db8::/64`) and the identity of the
 * addresses in it. Addresses in no prefix the node holds are `world` (2).
 */
export interface IpcacheEntry {
  'prefix'?: (string);
  'identity'?: (number);
}

/**
 * An ipcache entry: a prefix (`10.0.0.5/32`, `2001:db8::/64`) and the identity of the
 * addresses in it. Addresses in no prefix the node holds are `world` (2).
 */
export interface IpcacheEntry__Output {
  'prefix': (string);
  'identity': (number);
}
