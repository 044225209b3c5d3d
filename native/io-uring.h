// One io_uring instance, driven by raw syscalls (io_uring_setup(2),
// io_uring_enter(2), io_uring_register(2)) on the uapi header alone: no
// liburing, so the addon builds wherever linux-libc-dev is installed.
//
// Not thread-safe: one ring belongs to one thread (a queue worker), which
// prepares, submits and reaps. Nothing here knows about JS; the JS object
// is in io-uring-object.cc.
#pragma once

#include <linux/io_uring.h>

#include <cstddef>
#include <cstdint>

namespace vduse {

class IoUringRing {
 public:
  IoUringRing() = default;
  IoUringRing(const IoUringRing&) = delete;
  IoUringRing& operator=(const IoUringRing&) = delete;
  ~IoUringRing() { Close(); }

  // io_uring_setup with `entries` SQEs (the kernel rounds up to a power of
  // two; the CQ gets twice as many) and the three mappings. 0 or -errno.
  int Setup(unsigned entries);

  // The next free SQE, zeroed, or nullptr when the SQ is full (every entry
  // prepared but not yet consumed by io_uring_enter). It is handed to the
  // kernel at the next Submit.
  io_uring_sqe* NextSqe();

  // io_uring_enter for every SQE prepared since the kernel's head. While the
  // call runs, the registered eventfd (if any) is muted, so completions the
  // kernel posts inline (page-cache hits) do not also wake the event loop:
  // the caller must Reap after Submit. Returns how many the kernel consumed,
  // or -errno.
  int Submit();

  // Calls `visit(user_data, res)` for each available CQE, up to `max`, then
  // publishes the new CQ head. Returns how many were visited.
  template <typename Visit>
  unsigned Reap(unsigned max, Visit visit);

  // Blocks until at least one CQE is available. 0 or -errno.
  int WaitOne();

  // io_uring_register(IORING_REGISTER_EVENTFD). 0 or -errno.
  int RegisterEventfd(int eventfd);

  // SQEs prepared but not yet consumed by the kernel, and their user_data,
  // oldest first (for a Close that must release what will never run).
  unsigned Unsubmitted() const;
  uint64_t UnsubmittedUserData(unsigned i) const;
  // Forgets the unsubmitted SQEs (the kernel never saw them).
  void DropUnsubmitted();

  // Unmaps and closes the ring fd. The kernel finishes or cancels what is
  // in flight on its own, so callers wait for their CQEs before Close when
  // user memory is involved. Idempotent.
  void Close();

  bool IsOpen() const { return fd_ >= 0; }
  unsigned SqEntries() const { return sqEntries_; }
  unsigned CqEntries() const { return cqEntries_; }

 private:
  int fd_ = -1;
  unsigned sqEntries_ = 0;
  unsigned cqEntries_ = 0;

  // Mappings: with IORING_FEAT_SINGLE_MMAP the CQ shares the SQ's.
  void* sqRing_ = nullptr;
  size_t sqRingSize_ = 0;
  void* cqRing_ = nullptr;
  size_t cqRingSize_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqesSize_ = 0;

  // Pointers into the mappings (offsets from io_uring_params).
  unsigned* sqHead_ = nullptr;   // kernel writes: how far it consumed
  unsigned* sqTail_ = nullptr;   // we write: how far we prepared
  unsigned sqMask_ = 0;
  unsigned* cqHead_ = nullptr;   // we write: how far we reaped
  unsigned* cqTail_ = nullptr;   // kernel writes: how far it posted
  unsigned* cqFlags_ = nullptr;  // IORING_CQ_EVENTFD_DISABLED; null before 5.8
  unsigned cqMask_ = 0;
  io_uring_cqe* cqes_ = nullptr;

  // Our copy of the SQ tail (only we write it, so no need to load it back).
  unsigned localSqTail_ = 0;
  bool eventfdRegistered_ = false;

  int FailSetup(int err);  // Close what Setup made so far; returns -err
};

template <typename Visit>
unsigned IoUringRing::Reap(unsigned max, Visit visit) {
  if (fd_ < 0) return 0;
  unsigned head = *cqHead_;  // only we write the head
  // Acquire: the CQE contents the kernel wrote before moving the tail.
  unsigned tail = __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE);
  unsigned n = 0;
  while (head != tail && n < max) {
    const io_uring_cqe& cqe = cqes_[head & cqMask_];
    visit(cqe.user_data, cqe.res);
    head++;
    n++;
  }
  // Release: we are done reading these CQEs before the kernel may reuse them.
  if (n > 0) __atomic_store_n(cqHead_, head, __ATOMIC_RELEASE);
  return n;
}

}  // namespace vduse
