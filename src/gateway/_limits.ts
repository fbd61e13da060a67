// Limits shared by the gateway's HTTP side and its streams to the nodes.

/** Largest value a set may carry: it travels in one gRPC message of at most 64 MiB. */
export const MAX_WRITE_BYTES = (64 << 20) - 1024;
