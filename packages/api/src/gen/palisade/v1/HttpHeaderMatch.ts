// Original file: protos/palisade/v1/compiled.proto


export interface HttpHeaderMatch {
  'name'?: (string);
  /**
   * Absent: the header must be present with any value.
   */
  'value'?: (string);
  '_value'?: "value";
}

export interface HttpHeaderMatch__Output {
  'name': (string);
  /**
   * Absent: the header must be present with any value.
   */
  'value'?: (string);
  '_value'?: "value";
}
