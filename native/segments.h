// Iovecs from the [base index, byte offset, length] triples that `Segments`
// (src/workers/backends/segments.ts) builds: one Float64Array read instead
// of an N-API call per view, which cost ~150-200 ns each on the host and far
// more in an emulated guest. Shared by io_uring's prep and plain preadv/pwritev.
#pragma once

#include <napi.h>
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "args.h"

namespace vduse {

// Fills `out` with `count` iovecs. `bases` must be a TypedArray/DataView
// (the only base, index 0) or an array of them, and `segments` a Float64Array of at least 3*count
// numbers; every triple must name a base and lie inside it, so the kernel
// only ever sees JS-owned memory. Throws a TypeError or RangeError
// otherwise (`out` is then unspecified). `scratch` and `out` keep their
// capacity between calls: no allocation per request.
// Returns whether `bases` was an array (false: a lone view).
bool SegmentIovecs(Napi::Env env, napi_value bases, napi_value segments, uint32_t count,
                   std::vector<Bytes>* scratch, std::vector<iovec>* out);

}  // namespace vduse
