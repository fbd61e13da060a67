// Message limits, in a file without grpc-js so that the gateway's HTTP
// handler can check values against them without loading it.

/** Largest message a node or gateway sends or accepts: values are cached whole. */
export const MAX_MESSAGE_BYTES = 64 << 20;

/** Largest value that fits in one message, with room for its key and fields. */
export const MAX_VALUE_BYTES = MAX_MESSAGE_BYTES - 1024;
