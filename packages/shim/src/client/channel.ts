/**
 * How the shim's gRPC channels to the operator are configured: TLS material, the name
 * the operator's certificate must carry, keepalive and message size. Used by the policy
 * stream's connection and by the certificate bootstrap alike.
 */
import type * as grpc from '@grpc/grpc-js';

/** Keepalive and size limits of a channel to the operator. */
export interface ChannelTuning {
  /** Ping the operator after this long without traffic (default 20 s). */
  readonly keepaliveTimeMs?: number;
  /** Drop the connection when a ping is not answered in this time (default 10 s). */
  readonly keepaliveTimeoutMs?: number;
  /** The largest frame accepted (default 64 MiB: a snapshot chunk must fit). */
  readonly maxReceiveBytes?: number;
}

/** How the shim retries its stream to the operator: 200 ms doubling to 10 s, full jitter. */
export const STREAM_BACKOFF = { initialMs: 200, maxMs: 10_000 } as const;

/**
 * The channel options: keepalive pings (also while no call is active, so a dead operator
 * is noticed by the stream's `status`), the frame size limit, and, with `tlsServerName`,
 * the name checked in the operator's certificate (and sent as SNI and `:authority`)
 * instead of the host of the target.
 */
export function channelOptions(
  tlsServerName: string | undefined,
  t: ChannelTuning = {},
): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': t.keepaliveTimeMs ?? 20_000,
    'grpc.keepalive_timeout_ms': t.keepaliveTimeoutMs ?? 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': t.maxReceiveBytes ?? 64 * 1024 * 1024,
    // grpc-js keeps its own connection backoff (1 s growing to 120 s by default): until it
    // expires, a new stream fails at once with the old error, so after a long operator
    // outage a shim would wait up to two minutes although its own retries are faster.
    // Capped like the shim's stream backoff ({@link STREAM_BACKOFF}).
    'grpc.initial_reconnect_backoff_ms': STREAM_BACKOFF.initialMs,
    'grpc.max_reconnect_backoff_ms': STREAM_BACKOFF.maxMs,
    // With several operator addresses (`ipv4:a:p,b:p`), each new stream tries the next one,
    // so a shim refused by a standby reaches the leader on its next attempt.
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    ...(tlsServerName !== undefined
      ? {
          'grpc.ssl_target_name_override': tlsServerName,
          'grpc.default_authority': tlsServerName,
        }
      : {}),
  };
}
