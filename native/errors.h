// errno → JS Error, with the same shape as Node's own fs errors:
// { code: 'EINVAL', errno: -22, syscall: 'ioctl' }.
#pragma once

#include <napi.h>

#include <cerrno>
#include <string>

namespace vduse {

// 'EINVAL' for 22; 'E<num>' for numbers the table does not know.
std::string ErrnoCode(int err);

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err);

[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err = errno);

// Repeats a syscall interrupted by a signal. Node installs handlers without
// SA_RESTART for some signals, so EINTR does reach us.
template <typename Call>
auto RetryOnEintr(Call call) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result;
}

}  // namespace vduse
