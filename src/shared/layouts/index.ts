/** Byte layouts of every kernel and virtio struct the product exchanges, with encode/decode. */
export * from './name.js';
export * from './dev-config.js';
export * from './dev-request.js';
export * from './dev-response.js';
export * from './vq.js';
export * from './iotlb.js';
export * from './config-data.js';
export * from './scalar.js';
export * from './blk-config.js';
export * from './blk-request.js';
