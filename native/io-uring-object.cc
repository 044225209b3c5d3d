// ioUringCreate(entries): an io_uring (io-uring.h) as a small JS object:
// prepReadv/prepWritev/prepFsync/prepFallocate, submit, reap, eventfd, close.
//
// Buffer lifetimes: readv/writev hand the kernel raw pointers into JS
// memory, which it may use until the CQE is posted (from an io-wq thread,
// long after the call returned). So each in-flight operation has a slot that
// holds its iovec array and a strong reference to its base views until its CQE
// is reaped: no GC can free or unmap them meanwhile. An explicit munmap()
// by the caller is not prevented; callers wait for their I/O first.
//
// Slots are as many as CQ entries, and prep refuses (EBUSY) past that, so
// the CQ can never overflow: every CQE has room when the kernel posts it.
//
// Teardown: close() (or the environment's cleanup hook, if the worker goes
// away with I/O in flight) waits for every submitted operation to complete
// before it releases buffers and closes the ring, because the kernel may be
// writing into them.
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmath>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "io-uring.h"
#include "segments.h"

namespace vduse {

namespace {

struct Slot {
  bool busy = false;
  double userData = 0;
  napi_ref keep = nullptr;  // the views the kernel reads or writes, if any
  std::vector<iovec> iov;   // capacity kept across uses: no allocation per request
};

class IoUringObject : public Napi::ObjectWrap<IoUringObject> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap::DefineClass(
        env, "IoUring",
        {InstanceMethod<&IoUringObject::PrepReadv>("prepReadv"),
         InstanceMethod<&IoUringObject::PrepWritev>("prepWritev"),
         InstanceMethod<&IoUringObject::PrepFsync>("prepFsync"),
         InstanceMethod<&IoUringObject::PrepFallocate>("prepFallocate"),
         InstanceMethod<&IoUringObject::Submit>("submit"),
         InstanceMethod<&IoUringObject::Reap>("reap"),
         InstanceMethod<&IoUringObject::Eventfd>("eventfd"),
         InstanceMethod<&IoUringObject::Close>("close"),
         InstanceAccessor<&IoUringObject::SqEntries>("sqEntries"),
         InstanceAccessor<&IoUringObject::CqEntries>("cqEntries"),
         InstanceAccessor<&IoUringObject::Inflight>("inflight")});
  }

  explicit IoUringObject(const Napi::CallbackInfo& info) : ObjectWrap(info) {
    Napi::Env env = info.Env();
    uint32_t entries = Uint32Arg(info, 0, "entries");
    if (int err = ring_.Setup(entries); err < 0) ThrowErrno(env, "io_uring_setup", -err);
    slots_.resize(ring_.CqEntries());
    free_.reserve(slots_.size());
    for (size_t i = slots_.size(); i > 0; i--) free_.push_back(static_cast<uint32_t>(i - 1));
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
    // An open ring keeps itself alive (as Node's handles do): a GC'd wrapper
    // must never take buffers the kernel is using along with it.
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
  }

  ~IoUringObject() override { Stop(); }

 private:
  void PrepReadv(const Napi::CallbackInfo& info) { PrepVectored(info, IORING_OP_READV); }
  void PrepWritev(const Napi::CallbackInfo& info) { PrepVectored(info, IORING_OP_WRITEV); }

  // (fd, bases: ArrayBufferView | ArrayBufferView[], segments: Float64Array, count, offset, userData)
  // The iovecs come as triples (segments.h), each checked against its base.
  void PrepVectored(const Napi::CallbackInfo& info, uint8_t opcode) {
    Napi::Env env = info.Env();
    int fd = Int32Arg(info, 0, "fd");
    uint32_t count = Uint32Arg(info, 3, "count");
    int64_t offset = Int64Arg(info, 4, "offset");
    double userData = NumberArg(info, 5, "userData");
    // Built before a slot is taken, so a refusal leaves nothing to undo.
    bool isArray = SegmentIovecs(env, info[1], info[2], count, &baseBytes_, &iovScratch_);
    uint32_t baseCount = static_cast<uint32_t>(baseBytes_.size());

    // One base (the common case) is referenced directly. Several are copied
    // into an array of our own: the caller may reuse its array, and a base no
    // longer referenced could be collected under the kernel.
    napi_value bases = info[1];
    napi_value keep = bases;
    if (isArray && baseCount == 1) {
      napi_get_element(env, bases, 0, &keep);
    } else if (isArray) {
      if (napi_create_array_with_length(env, baseCount, &keep) != napi_ok) {
        throw Napi::Error::New(env, "io_uring_prep: cannot allocate");
      }
      for (uint32_t k = 0; k < baseCount; k++) {
        napi_value view = nullptr;
        napi_get_element(env, bases, k, &view);
        napi_set_element(env, keep, k, view);
      }
    }
    uint32_t index = TakeSlot(env);
    Slot& slot = slots_[index];
    slot.iov.assign(iovScratch_.begin(), iovScratch_.end());

    io_uring_sqe* sqe = TakeSqe(env, index);
    sqe->opcode = opcode;
    sqe->fd = fd;
    sqe->off = static_cast<uint64_t>(offset);
    sqe->addr = reinterpret_cast<uintptr_t>(slot.iov.data());
    sqe->len = count;
    Commit(env, sqe, index, userData, keep);
  }

  // (fd, datasync, userData)
  void PrepFsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Int32Arg(info, 0, "fd");
    bool datasync = info[1].ToBoolean().Value();
    double userData = NumberArg(info, 2, "userData");
    uint32_t index = TakeSlot(env);
    io_uring_sqe* sqe = TakeSqe(env, index);
    sqe->opcode = IORING_OP_FSYNC;
    sqe->fd = fd;
    sqe->fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0;
    Commit(env, sqe, index, userData, nullptr);
  }

  // (fd, mode, offset, length, userData): the SQE carries the length in
  // `addr` and the mode in `len` (io_uring_enter(2), IORING_OP_FALLOCATE).
  void PrepFallocate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Int32Arg(info, 0, "fd");
    int mode = Int32Arg(info, 1, "mode");
    int64_t offset = Int64Arg(info, 2, "offset");
    int64_t length = Int64Arg(info, 3, "length");
    double userData = NumberArg(info, 4, "userData");
    uint32_t index = TakeSlot(env);
    io_uring_sqe* sqe = TakeSqe(env, index);
    sqe->opcode = IORING_OP_FALLOCATE;
    sqe->fd = fd;
    sqe->off = static_cast<uint64_t>(offset);
    sqe->addr = static_cast<uint64_t>(length);
    sqe->len = static_cast<uint32_t>(mode);
    Commit(env, sqe, index, userData, nullptr);
  }

  Napi::Value Submit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int n = ring_.Submit();
    if (n < 0) ThrowErrno(env, "io_uring_enter", -n);
    return Napi::Number::New(env, n);
  }

  // (out: Float64Array | Int32Array): pairs [userData, res], as many as fit.
  Napi::Value Reap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    bool is = false;
    napi_is_typedarray(env, info[0], &is);
    if (!is || napi_get_typedarray_info(env, info[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
        (type != napi_float64_array && type != napi_int32_array)) {
      ThrowTypeError(env, "out", "a Float64Array or an Int32Array");
    }
    auto max = static_cast<unsigned>(length / 2);
    unsigned n = 0;
    ring_.Reap(max, [&](uint64_t userData, int32_t res) {
      if (userData >= slots_.size() || !slots_[userData].busy) return;  // not ours: cannot happen
      auto index = static_cast<uint32_t>(userData);
      double value = slots_[index].userData;
      if (type == napi_float64_array) {
        static_cast<double*>(data)[2 * n] = value;
        static_cast<double*>(data)[2 * n + 1] = res;
      } else {
        static_cast<int32_t*>(data)[2 * n] = static_cast<int32_t>(value);
        static_cast<int32_t*>(data)[2 * n + 1] = res;
      }
      n++;
      ReleaseSlot(index);
    });
    return Napi::Number::New(env, n);
  }

  // An eventfd the kernel signals on each CQE (except those posted while
  // submit() runs: see IoUringRing::Submit). Made and registered on the
  // first call; later calls return the same fd. close() closes it.
  Napi::Value Eventfd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ring_.IsOpen()) ThrowErrno(env, "io_uring_register", EBADF);
    if (eventfd_ < 0) {
      int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (fd < 0) ThrowErrno(env, "eventfd");
      if (int err = ring_.RegisterEventfd(fd); err < 0) {
        ::close(fd);
        ThrowErrno(env, "io_uring_register", -err);
      }
      eventfd_ = fd;
    }
    return Napi::Number::New(env, eventfd_);
  }

  void Close(const Napi::CallbackInfo&) { Stop(); }

  Napi::Value SqEntries(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ring_.SqEntries()); }
  Napi::Value CqEntries(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ring_.CqEntries()); }
  // Operations prepared and not yet reaped.
  Napi::Value Inflight(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(slots_.size() - free_.size()));
  }

  static double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
    if (!info[i].IsNumber()) ThrowTypeError(info.Env(), name, "a number");
    return info[i].As<Napi::Number>().DoubleValue();
  }

  uint32_t TakeSlot(Napi::Env env) {
    if (!ring_.IsOpen()) ThrowErrno(env, "io_uring_prep", EBADF);
    if (free_.empty()) ThrowErrno(env, "io_uring_prep", EBUSY);  // as many in flight as the CQ holds
    uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }

  io_uring_sqe* TakeSqe(Napi::Env env, uint32_t index) {
    io_uring_sqe* sqe = ring_.NextSqe();
    if (sqe == nullptr) {
      ReleaseSlot(index);
      ThrowErrno(env, "io_uring_prep", EBUSY);  // the SQ is full: submit() first
    }
    return sqe;
  }

  // Last step of every prep: nothing after it can fail, so a slot is never
  // left busy for an SQE the kernel will not see.
  void Commit(Napi::Env env, io_uring_sqe* sqe, uint32_t index, double userData, napi_value keep) {
    Slot& slot = slots_[index];
    sqe->user_data = index;
    slot.busy = true;
    slot.userData = userData;
    if (keep != nullptr) napi_create_reference(env, keep, 1, &slot.keep);
  }

  // Frees a slot whose SQE will not be (or no longer is) used by the kernel.
  void ReleaseSlot(uint32_t index) {
    Slot& slot = slots_[index];
    if (slot.keep != nullptr) {
      napi_delete_reference(Env(), slot.keep);
      slot.keep = nullptr;
    }
    slot.busy = false;
    free_.push_back(index);
  }

  // Idempotent. Waits for the kernel to finish with every submitted
  // operation, then releases everything.
  void Stop() {
    if (!ring_.IsOpen()) return;
    for (unsigned i = 0, n = ring_.Unsubmitted(); i < n; i++) {
      ReleaseSlot(static_cast<uint32_t>(ring_.UnsubmittedUserData(i)));
    }
    ring_.DropUnsubmitted();
    while (free_.size() < slots_.size()) {
      ring_.Reap(ring_.CqEntries(), [&](uint64_t userData, int32_t) {
        if (userData < slots_.size() && slots_[userData].busy) ReleaseSlot(static_cast<uint32_t>(userData));
      });
      // Should waiting fail, keep the references of what is still in flight
      // (freed with the environment) rather than free memory under the kernel.
      if (free_.size() < slots_.size() && ring_.WaitOne() < 0) break;
    }
    ring_.Close();
    if (eventfd_ >= 0) ::close(eventfd_);
    eventfd_ = -1;
    if (!inCleanupHook_) napi_remove_env_cleanup_hook(Env(), OnEnvCleanup, this);
    self_.Reset();
  }

  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<IoUringObject*>(arg);
    self->inCleanupHook_ = true;
    self->Stop();
  }

  IoUringRing ring_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<Bytes> baseBytes_;  // scratch for PrepVectored, capacity kept
  std::vector<iovec> iovScratch_;  // likewise
  int eventfd_ = -1;
  bool inCleanupHook_ = false;
  Napi::ObjectReference self_;
};

Napi::Value Create(const Napi::CallbackInfo& info) {
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  return ctor->New({info[0]});
}

}  // namespace

void RegisterIoUring(Napi::Env env, Napi::Object exports) {
  // The class lives as long as this environment; the constructor reference
  // travels as the function's data rather than in the env's instance data,
  // which watch.cc already owns.
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(IoUringObject::DefineClass(env)));
  env.AddCleanupHook([ctor] { delete ctor; });
  exports.Set("ioUringCreate", Napi::Function::New(env, Create, "ioUringCreate", ctor));
}

}  // namespace vduse
