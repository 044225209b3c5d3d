// A generic socket, bound as netlink, with send/recv either on the calling
// thread or on libuv's thread pool. Used for genetlink "vdpa" DEV_NEW /
// DEV_DEL, which the kernel answers only after probing the device, so the
// thread serving VDUSE control messages must not be the one waiting.
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vduse {

namespace {

enum class Direction { kSend, kRecv };

const char* SyscallName(Direction direction) {
  return direction == Direction::kSend ? "send" : "recv";
}

// Shared by the sync and async forms: -1 for EAGAIN, like read/write.
ssize_t Transfer(Direction direction, int fd, Bytes bytes, int* err) {
  ssize_t n = RetryOnEintr([&] {
    return direction == Direction::kSend ? ::send(fd, bytes.data, bytes.length, 0)
                                         : ::recv(fd, bytes.data, bytes.length, 0);
  });
  *err = n < 0 && errno != EAGAIN ? errno : 0;
  return n;
}

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int domain = Int32Arg(info, 0, "domain");
  int type = Int32Arg(info, 1, "type");
  int protocol = Int32Arg(info, 2, "protocol");
  int fd = ::socket(domain, type, protocol);
  if (fd < 0) ThrowErrno(info.Env(), "socket");
  return Napi::Number::New(info.Env(), fd);
}

void BindNetlink(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_pid = Uint32Arg(info, 1, "pid");  // 0: the kernel picks a unique port id
  addr.nl_groups = Uint32Arg(info, 2, "groups");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) ThrowErrno(info.Env(), "bind");
}

// setsockopt(2) with an int value: NETLINK_EXT_ACK makes the kernel send its
// reason text with an error, NETLINK_CAP_ACK stops it echoing our request.
void SetsockoptInt(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  int level = Int32Arg(info, 1, "level");
  int name = Int32Arg(info, 2, "name");
  int value = Int32Arg(info, 3, "value");
  if (::setsockopt(fd, level, name, &value, sizeof value) < 0) ThrowErrno(info.Env(), "setsockopt");
}

template <Direction direction>
Napi::Value TransferSync(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  Bytes bytes = BytesArg(info, 1, "buf");
  int err = 0;
  ssize_t n = Transfer(direction, fd, bytes, &err);
  if (err != 0) ThrowErrno(info.Env(), SyscallName(direction), err);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// One send or recv on the thread pool, settling a promise on the JS thread.
class TransferWork : public Napi::AsyncWorker {
 public:
  TransferWork(Napi::Env env, Direction direction, int fd, Napi::Object buffer, Bytes bytes)
      : Napi::AsyncWorker(env, direction == Direction::kSend ? "vduse.sendAsync" : "vduse.recvAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        // Keeps the buffer's memory from being collected while the pool uses it.
        buffer_(Napi::Persistent(buffer)),
        direction_(direction),
        fd_(fd),
        bytes_(bytes) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // Pool thread: no JS values may be touched here.
  void Execute() override { result_ = Transfer(direction_, fd_, bytes_, &err_); }

  void OnOK() override {
    if (err_ != 0) {
      deferred_.Reject(ErrnoError(Env(), SyscallName(direction_), err_).Value());
    } else {
      deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(result_)));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference buffer_;
  Direction direction_;
  int fd_;
  Bytes bytes_;
  ssize_t result_ = 0;
  int err_ = 0;
};

template <Direction direction>
Napi::Value TransferAsync(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  Bytes bytes = BytesArg(info, 1, "buf");
  auto* work = new TransferWork(info.Env(), direction, fd, info[1].As<Napi::Object>(), bytes);
  Napi::Promise promise = work->Promise();
  work->Queue();  // deletes itself after OnOK
  return promise;
}

}  // namespace

void RegisterNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("bindNetlink", Napi::Function::New(env, BindNetlink, "bindNetlink"));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt, "setsockoptInt"));
  exports.Set("send", Napi::Function::New(env, TransferSync<Direction::kSend>, "send"));
  exports.Set("recv", Napi::Function::New(env, TransferSync<Direction::kRecv>, "recv"));
  exports.Set("sendAsync", Napi::Function::New(env, TransferAsync<Direction::kSend>, "sendAsync"));
  exports.Set("recvAsync", Napi::Function::New(env, TransferAsync<Direction::kRecv>, "recvAsync"));
}

}  // namespace vduse
