// Byte-exact tests of vduse_dev_config, the name buffer, vduse_dev_request
// and vduse_dev_response. Expected bytes are written by hand from the
// offsets in reference/vduse-and-virtio-blk.md §1.3, not from the encoders.
import t from 'tap';
import {
  VDUSE_DEV_CONFIG_SIZE,
  VDUSE_DEV_REQUEST_SIZE,
  VDUSE_DEV_RESPONSE_SIZE,
  VDUSE_NAME_BUFFER_SIZE,
  decodeDestroyDevName,
  decodeDevConfig,
  decodeDevRequest,
  decodeDevResponse,
  encodeDestroyDevName,
  encodeDevConfig,
  encodeDevRequest,
  encodeDevResponse,
  type VduseDevRequest,
} from '../../src/shared/layouts/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A zeroed buffer of `size` bytes with hand-written bytes at the given offsets. */
function sparse(size: number, parts: Array<[number, string]>): Uint8Array {
  const out = new Uint8Array(size);
  for (const [offset, bytes] of parts) out.set(hex(bytes), offset);
  return out;
}

const devConfig = {
  name: 'vblk0',
  vendorId: 0x1af4,
  deviceId: 2,
  // VERSION_1 | ACCESS_PLATFORM | FLUSH | BLK_SIZE | SEG_MAX
  features: (1n << 32n) | (1n << 33n) | (1n << 9n) | (1n << 6n) | (1n << 2n),
  vqNum: 4,
  vqAlign: 4096,
  config: hex('deadbeef'),
};

t.test('vduse_dev_config: header at the reference offsets, config appended', async (t) => {
  const expected = sparse(340, [
    [0, '76626c6b30'], // "vblk0", NUL-padded to 256
    [256, 'f41a0000'], // vendor_id
    [260, '02000000'], // device_id
    [264, '4402000003000000'], // features
    [272, '04000000'], // vq_num
    [276, '00100000'], // vq_align
    [332, '04000000'], // config_size
    [336, 'deadbeef'], // config[]
  ]);
  const bytes = encodeDevConfig(devConfig);
  t.equal(VDUSE_DEV_CONFIG_SIZE, 336);
  t.equal(bytes.byteLength, 340);
  t.equal(toHex(bytes), toHex(expected));
  const back = decodeDevConfig(bytes);
  t.same({ ...back, config: toHex(back.config) }, { ...devConfig, config: 'deadbeef', configSize: 4, reservedIsZero: true });
});

t.test('vduse_dev_config: a 72-byte config space sets config_size 72', async (t) => {
  const bytes = encodeDevConfig({ ...devConfig, config: new Uint8Array(72).fill(0xaa) });
  t.equal(bytes.byteLength, 408);
  t.equal(toHex(bytes.subarray(332, 336)), '48000000');
  t.equal(bytes[335 + 72], 0xaa);
});

t.test('vduse_dev_config: names are checked before the kernel truncates them', async (t) => {
  const longest = 'n'.repeat(255);
  const bytes = encodeDevConfig({ ...devConfig, name: longest });
  t.equal(bytes[254], 0x6e);
  t.equal(bytes[255], 0, 'name[255] is the terminator');
  t.equal(decodeDevConfig(bytes).name, longest);
  t.throws(() => encodeDevConfig({ ...devConfig, name: 'n'.repeat(256) }), RangeError);
  t.throws(() => encodeDevConfig({ ...devConfig, name: 'é'.repeat(128) }), /256 bytes/, 'counts UTF-8 bytes');
  t.throws(() => encodeDevConfig({ ...devConfig, name: '' }), /empty/);
  t.throws(() => encodeDevConfig({ ...devConfig, name: 'a\0b' }), /NUL/);
});

t.test('vduse_dev_config: numeric range checks and decode rejects', async (t) => {
  t.throws(() => encodeDevConfig({ ...devConfig, vqNum: -1 }), /vq_num/);
  t.throws(() => encodeDevConfig({ ...devConfig, vendorId: 2 ** 32 }), /vendor_id/);
  t.throws(() => encodeDevConfig({ ...devConfig, features: 1n << 64n }), /features/);
  t.throws(() => encodeDevConfig({ ...devConfig, features: -1n }), /features/);
  t.throws(() => decodeDevConfig(new Uint8Array(335)), /at least 336/);
  const truncated = encodeDevConfig(devConfig).subarray(0, 338);
  t.throws(() => decodeDevConfig(truncated), /at least 340/);
  const dirty = encodeDevConfig(devConfig);
  dirty[280] = 1; // ngroups in API v1, reserved in v0
  t.equal(decodeDevConfig(dirty).reservedIsZero, false);
});

t.test('VDUSE_DESTROY_DEV: always a 256-byte buffer', async (t) => {
  const bytes = encodeDestroyDevName('vblk0');
  t.equal(VDUSE_NAME_BUFFER_SIZE, 256);
  t.equal(toHex(bytes), toHex(sparse(256, [[0, '76626c6b3000']])));
  t.equal(decodeDestroyDevName(bytes), 'vblk0');
  t.throws(() => encodeDestroyDevName(''), RangeError);
  t.throws(() => encodeDestroyDevName('x'.repeat(256)), RangeError);
  t.throws(() => decodeDestroyDevName(new Uint8Array(255)), /256 bytes/);
  t.equal(decodeDestroyDevName(new Uint8Array(256).fill(0x41)), 'A'.repeat(255), 'name[255] ignored like the kernel');
});

const requestFixtures: Array<[string, VduseDevRequest, Uint8Array]> = [
  ['GET_VQ_STATE', { type: 'get-vq-state', requestId: 7, index: 3 }, sparse(152, [[0, '00000000 07000000'], [24, '03000000']])],
  [
    'SET_STATUS',
    { type: 'set-status', requestId: 0x12345678, status: 0x0f },
    sparse(152, [[0, '01000000 78563412'], [24, '0f']]),
  ],
  [
    'UPDATE_IOTLB',
    { type: 'update-iotlb', requestId: 1, start: 0x1000n, last: 0xffffffffffffffffn },
    sparse(152, [[0, '02000000 01000000'], [24, '0010000000000000 ffffffffffffffff']]),
  ],
  ['unknown type', { type: 'unknown', requestId: 9, rawType: 3 }, sparse(152, [[0, '03000000 09000000']])],
];

t.test('vduse_dev_request: fixtures decode and encode both ways', async (t) => {
  t.equal(VDUSE_DEV_REQUEST_SIZE, 152);
  for (const [label, request, bytes] of requestFixtures) {
    t.same(decodeDevRequest(bytes), request, `decode ${label}`);
    t.equal(toHex(encodeDevRequest(request)), toHex(bytes), `encode ${label}`);
  }
});

t.test('vduse_dev_request: SET_STATUS reads only the u8 at 24; sizes are exact', async (t) => {
  const bytes = sparse(152, [[0, '01000000 02000000'], [24, '8bffffff'], [8, 'ffffffff']]);
  t.same(decodeDevRequest(bytes), { type: 'set-status', requestId: 2, status: 0x8b });
  t.throws(() => decodeDevRequest(new Uint8Array(151)), /152/);
  t.throws(() => decodeDevRequest(new Uint8Array(153)), /152/);
  t.throws(() => encodeDevRequest({ type: 'set-status', requestId: 1, status: 256 }), /status/);
});

t.test('vduse_dev_response: GET_VQ_STATE reply with split avail_index at 28', async (t) => {
  const expected = sparse(152, [[0, '07000000 00000000'], [24, '03000000 3412']]);
  const bytes = encodeDevResponse({ requestId: 7, result: 0, vqState: { index: 3, availIndex: 0x1234 } });
  t.equal(VDUSE_DEV_RESPONSE_SIZE, 152);
  t.equal(toHex(bytes), toHex(expected));
  t.same(decodeDevResponse(bytes), {
    requestId: 7,
    result: 0,
    vqState: { index: 3, availIndex: 0x1234 },
    reservedIsZero: true,
  });
});

t.test('vduse_dev_response: FAILED reply, reserved zeroed, rejects', async (t) => {
  const bytes = encodeDevResponse({ requestId: 0xffffffff, result: 1 });
  t.equal(toHex(bytes), toHex(sparse(152, [[0, 'ffffffff 01000000']])));
  const dirty = bytes.slice();
  dirty[20] = 1; // reserved[3]: the kernel would answer EINVAL
  t.equal(decodeDevResponse(dirty).reservedIsZero, false);
  t.throws(() => decodeDevResponse(new Uint8Array(24)), /152/);
  t.throws(() => encodeDevResponse({ requestId: -1, result: 0 }), /request_id/);
  t.throws(() => encodeDevResponse({ requestId: 1, result: 0, vqState: { index: 0, availIndex: 0x10000 } }), /avail_index/);
});
