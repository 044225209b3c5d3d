#include "segments.h"

#include <cmath>

namespace vduse {

namespace {

[[noreturn]] void ThrowRange(Napi::Env env, const char* message) {
  throw Napi::RangeError::New(env, message);
}

const double* Float64ArrayData(Napi::Env env, napi_value value, size_t* length) {
  napi_typedarray_type type;
  void* data = nullptr;
  bool is = false;
  napi_is_typedarray(env, value, &is);
  if (!is || napi_get_typedarray_info(env, value, &type, length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array) {
    ThrowTypeError(env, "segments", "a Float64Array");
  }
  return static_cast<const double*>(data);
}

}  // namespace

bool SegmentIovecs(Napi::Env env, napi_value bases, napi_value segments, uint32_t count,
                   std::vector<Bytes>* scratch, std::vector<iovec>* out) {
  size_t segmentsLength = 0;
  const double* triples = Float64ArrayData(env, segments, &segmentsLength);
  if (segmentsLength / 3 < count) ThrowRange(env, "segments holds fewer than count triples");

  // A lone view is the one base (the usual case: no array to walk, and
  // napi_get_element is among the dearer N-API calls).
  Bytes lone{};
  uint32_t baseCount = 1;
  bool isArray = false;
  if (BytesOf(env, bases, &lone)) {
    scratch->assign(1, lone);
  } else {
    napi_is_array(env, bases, &isArray);
    if (!isArray) ThrowTypeError(env, "bases", "a Uint8Array or an array of them");
    napi_get_array_length(env, bases, &baseCount);
    scratch->resize(baseCount);
    for (uint32_t k = 0; k < baseCount; k++) {
      napi_value view = nullptr;
      if (napi_get_element(env, bases, k, &view) != napi_ok || !BytesOf(env, view, &(*scratch)[k])) {
        ThrowTypeError(env, "bases", "a Uint8Array or an array of them");
      }
    }
  }
  out->resize(count);
  for (uint32_t k = 0; k < count; k++) {
    double base = triples[3 * k], at = triples[3 * k + 1], length = triples[3 * k + 2];
    // Negated so that NaN fails too; integers below 2^53 compare exactly.
    if (!(base >= 0 && base < baseCount && base == std::trunc(base) && at >= 0 && at == std::trunc(at) &&
          length >= 0 && length == std::trunc(length) &&
          at + length <= static_cast<double>((*scratch)[static_cast<uint32_t>(base)].length))) {
      ThrowRange(env, "a segment lies outside its base");
    }
    const Bytes& bytes = (*scratch)[static_cast<uint32_t>(base)];
    (*out)[k] = iovec{static_cast<uint8_t*>(bytes.data) + static_cast<size_t>(at), static_cast<size_t>(length)};
  }
  return isArray;
}

}  // namespace vduse
