#include "args.h"

namespace vduse {

namespace {

Napi::Number NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value value = info[i];
  if (!value.IsNumber()) ThrowTypeError(info.Env(), name, "a number");
  return value.As<Napi::Number>();
}

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 1;
  }
}

}  // namespace

void ThrowTypeError(Napi::Env env, const char* name, const char* expected) {
  throw Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be " + expected);
}

int32_t Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return NumberArg(info, i, name).Int32Value();
}

uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return NumberArg(info, i, name).Uint32Value();
}

int64_t Int64Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return NumberArg(info, i, name).Int64Value();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value value = info[i];
  if (!value.IsString()) ThrowTypeError(info.Env(), name, "a string");
  return value.As<Napi::String>().Utf8Value();
}

std::vector<int32_t> Int32ArrayArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value value = info[i];
  if (!value.IsArray()) ThrowTypeError(info.Env(), name, "an array of numbers");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int32_t> result(array.Length());
  for (uint32_t k = 0; k < result.size(); k++) {
    Napi::Value element = array.Get(k);
    if (!element.IsNumber()) ThrowTypeError(info.Env(), name, "an array of numbers");
    result[k] = element.As<Napi::Number>().Int32Value();
  }
  return result;
}

bool IsBytes(Napi::Value value) {
  return value.IsTypedArray() || value.IsDataView();
}

// Raw napi calls: read/write on eventfds are on the I/O hot path, and these
// give the offset-adjusted data pointer in one call.
bool BytesOf(napi_env env, napi_value value, Bytes* out) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, value, &type, &count, &data, nullptr, nullptr) == napi_ok) {
      *out = {data, count * ElementSize(type)};
      return true;
    }
  } else if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_dataview_info(env, value, &length, &data, nullptr, nullptr) == napi_ok) {
      *out = {data, length};
      return true;
    }
  }
  return false;
}

Bytes BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Bytes bytes{};
  if (!BytesOf(info.Env(), info[i], &bytes)) ThrowTypeError(info.Env(), name, "a Uint8Array (or another ArrayBufferView)");
  return bytes;
}

}  // namespace vduse
