// Original file: protos/palisade/v1/distribution.proto


/**
 * The shim found a gap or could not decode or apply a message: it wants a full snapshot.
 */
export interface Resync {
  'reason'?: (string);
}

/**
 * The shim found a gap or could not decode or apply a message: it wants a full snapshot.
 */
export interface Resync__Output {
  'reason': (string);
}
