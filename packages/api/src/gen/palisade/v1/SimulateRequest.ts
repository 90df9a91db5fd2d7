// Original file: protos/palisade/v1/integrations.proto


export interface SimulateRequest {
  /**
   * `namespace/name` of a pod, or an IP address.
   */
  'from'?: (string);
  'to'?: (string);
  /**
   * TCP, UDP, SCTP or ICMP.
   */
  'protocol'?: (string);
  /**
   * Port (or ICMP type).
   */
  'port'?: (number);
}

export interface SimulateRequest__Output {
  /**
   * `namespace/name` of a pod, or an IP address.
   */
  'from': (string);
  'to': (string);
  /**
   * TCP, UDP, SCTP or ICMP.
   */
  'protocol': (string);
  /**
   * Port (or ICMP type).
   */
  'port': (number);
}
