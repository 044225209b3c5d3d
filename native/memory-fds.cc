// fds that stand for memory or counters: eventfd, memfd, and sizing files
// (ftruncate, fallocate).
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vduse {

namespace {

Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  unsigned int initval = Uint32Arg(info, 0, "initval");
  int flags = Int32Arg(info, 1, "flags");
  int fd = ::eventfd(initval, flags);
  if (fd < 0) ThrowErrno(info.Env(), "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = StringArg(info, 0, "name");
  unsigned int flags = Uint32Arg(info, 1, "flags");
  int fd = ::memfd_create(name.c_str(), flags);
  if (fd < 0) ThrowErrno(info.Env(), "memfd_create");
  return Napi::Number::New(info.Env(), fd);
}

void Ftruncate(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  off_t length = Int64Arg(info, 1, "length");
  if (RetryOnEintr([&] { return ::ftruncate(fd, length); }) < 0) ThrowErrno(info.Env(), "ftruncate");
}

void Fallocate(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  int mode = Int32Arg(info, 1, "mode");
  off_t offset = Int64Arg(info, 2, "offset");
  off_t length = Int64Arg(info, 3, "length");
  if (RetryOnEintr([&] { return ::fallocate(fd, mode, offset, length); }) < 0) {
    ThrowErrno(info.Env(), "fallocate");
  }
}

}  // namespace

void RegisterMemoryFds(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfd", Napi::Function::New(env, Eventfd, "eventfd"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
}

}  // namespace vduse
