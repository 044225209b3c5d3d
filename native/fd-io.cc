// Plain fd operations: open/close/dup, read/write, ioctl.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "segments.h"

namespace vduse {

namespace {

Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "path");
  int flags = Int32Arg(info, 1, "flags");
  // Same default as fs.open: the umask trims it.
  mode_t mode = info[2].IsUndefined() ? 0666 : Uint32Arg(info, 2, "mode");
  int fd = RetryOnEintr([&] { return ::open(path.c_str(), flags, mode); });
  if (fd < 0) ThrowErrno(info.Env(), "open");
  return Napi::Number::New(info.Env(), fd);
}

void Close(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  // Never retry close: on Linux the fd is released even when EINTR is
  // returned, and a retry could close an fd another thread just opened.
  if (::close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), "close");
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  // F_DUPFD_CLOEXEC: fds made here should not leak into child processes.
  int fd = ::fcntl(Int32Arg(info, 0, "fd"), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), "dup");
  return Napi::Number::New(info.Env(), fd);
}

// read/write return -1 for EAGAIN instead of throwing: on a non-blocking
// eventfd "nothing there" is the normal case, and an exception per empty
// poll would be costly on the I/O path.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  Bytes buf = BytesArg(info, 1, "buf");
  ssize_t n = RetryOnEintr([&] { return ::read(fd, buf.data, buf.length); });
  if (n < 0 && errno != EAGAIN) ThrowErrno(info.Env(), "read");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  Bytes buf = BytesArg(info, 1, "buf");
  ssize_t n = RetryOnEintr([&] { return ::write(fd, buf.data, buf.length); });
  if (n < 0 && errno != EAGAIN) ThrowErrno(info.Env(), "write");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// preadv/pwritev(fd, bases, segments, count, offset) → bytes moved. The
// iovecs come as triples (segments.h). On the calling thread: for files
// whose I/O is a page-cache copy (tmpfs), where a hop to another thread
// costs more than the copy. One call, where fs.readvSync costs an N-API
// call per view plus Node's argument checks and trace-event lookups.
template <bool kWrite>
Napi::Value Vectored(const Napi::CallbackInfo& info) {
  // Per thread (each worker has its own): the capacity is kept across calls.
  thread_local std::vector<Bytes> bases;
  thread_local std::vector<iovec> iov;
  int fd = Int32Arg(info, 0, "fd");
  uint32_t count = Uint32Arg(info, 3, "count");
  int64_t offset = Int64Arg(info, 4, "offset");
  SegmentIovecs(info.Env(), info[1], info[2], count, &bases, &iov);
  int iovcnt = static_cast<int>(count);
  ssize_t n = RetryOnEintr([&] {
    // One iovec (a 4 KiB request): pread/pwrite, which skip the kernel's
    // iovec import (~250 ns less per call on the benchmark host).
    if (count == 1) {
      return kWrite ? ::pwrite(fd, iov[0].iov_base, iov[0].iov_len, offset)
                    : ::pread(fd, iov[0].iov_base, iov[0].iov_len, offset);
    }
    return kWrite ? ::pwritev(fd, iov.data(), iovcnt, offset) : ::preadv(fd, iov.data(), iovcnt, offset);
  });
  if (n < 0) ThrowErrno(info.Env(), kWrite ? "pwritev" : "preadv");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  // Request numbers such as 0xc0208110 exceed int32: read them as uint32.
  unsigned long request = Uint32Arg(info, 1, "request");
  Napi::Value arg = info[2];

  int result;
  if (arg.IsUndefined()) {
    result = RetryOnEintr([&] { return ::ioctl(fd, request, 0UL); });
  } else if (arg.IsNumber()) {
    auto value = static_cast<unsigned long>(arg.As<Napi::Number>().Int64Value());
    result = RetryOnEintr([&] { return ::ioctl(fd, request, value); });
  } else if (IsBytes(arg)) {
    // The kernel reads and writes the struct in place.
    Bytes bytes = BytesArg(info, 2, "arg");
    result = RetryOnEintr([&] { return ::ioctl(fd, request, bytes.data); });
  } else {
    ThrowTypeError(info.Env(), "arg", "a Uint8Array, a number or undefined");
  }
  if (result < 0) ThrowErrno(info.Env(), "ioctl");
  return Napi::Number::New(info.Env(), result);
}

}  // namespace

void RegisterFdIo(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  exports.Set("preadv", Napi::Function::New(env, Vectored<false>, "preadv"));
  exports.Set("pwritev", Napi::Function::New(env, Vectored<true>, "pwritev"));
}

}  // namespace vduse
