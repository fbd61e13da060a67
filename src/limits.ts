/**
 * The sizes every node and gateway holds keys, values and messages to, in
 * one grpc-js-free place: the gateway's HTTP handler checks a request
 * against them before anything is sent, the gRPC side before it is stored.
 *
 * @module
 */

/**
 * The longest key, in bytes of UTF-8. Keys travel in URLs and gRPC messages
 * and are stored beside every value; 4 KiB leaves room for composite keys
 * while keeping a URL of a percent-encoded key under common 16 KiB limits.
 */
export const MAX_KEY_BYTES = 4096;

/** Largest message a node or gateway sends or accepts: values are cached whole. */
export const MAX_MESSAGE_BYTES = 64 << 20;

/** Largest value that fits in one message, with room for its key and fields. */
export const MAX_VALUE_BYTES = MAX_MESSAGE_BYTES - 1024;
