// Argument checks shared by every function: a wrong type is a TypeError
// thrown in JS, never undefined behaviour in C++.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vduse {

int32_t Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i, const char* name);
int64_t Int64Arg(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name);
std::vector<int32_t> Int32ArrayArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// The bytes viewed by a TypedArray (Uint8Array, Buffer, ...) or DataView.
struct Bytes {
  void* data;
  size_t length;
};
bool IsBytes(Napi::Value value);
// The bytes of `value`, or false when it is not a TypedArray or DataView.
bool BytesOf(napi_env env, napi_value value, Bytes* out);
Bytes BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name);

[[noreturn]] void ThrowTypeError(Napi::Env env, const char* name, const char* expected);

}  // namespace vduse
