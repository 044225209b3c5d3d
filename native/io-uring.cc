// io_uring by hand, from the uapi header and io_uring_setup(2) /
// io_uring_enter(2): the kernel and we share three mappings (the SQ ring,
// the CQ ring, the SQE array), each side owning one index of each ring:
// we own the SQ tail and the CQ head, the kernel the SQ head and CQ tail.
// An index we publish is a release store after the entries it covers are
// written; an index we read is an acquire load before the entries it covers
// are read.
#include "io-uring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vduse {

namespace {

int SysSetup(unsigned entries, io_uring_params* params) {
  return static_cast<int>(::syscall(__NR_io_uring_setup, entries, params));
}

int SysEnter(int fd, unsigned toSubmit, unsigned minComplete, unsigned flags) {
  return static_cast<int>(::syscall(__NR_io_uring_enter, fd, toSubmit, minComplete, flags, nullptr, 0));
}

int SysRegister(int fd, unsigned opcode, void* arg, unsigned count) {
  return static_cast<int>(::syscall(__NR_io_uring_register, fd, opcode, arg, count));
}

template <typename T>
T* At(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

void* MapRing(int fd, size_t size, off_t which) {
  // MAP_POPULATE: fault the pages in now rather than on the I/O path.
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, which);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

int IoUringRing::Setup(unsigned entries) {
  if (fd_ >= 0) return -EBUSY;
  io_uring_params params{};
  // SUBMIT_ALL (5.18): an SQE that fails early (bad fd, bad opcode) gets a
  // CQE and the rest of the batch still goes in, rather than the submission
  // stopping there. Older kernels reject unknown flags: retry without.
  params.flags = IORING_SETUP_SUBMIT_ALL;
  int fd = SysSetup(entries, &params);
  if (fd < 0 && errno == EINVAL) {
    params = io_uring_params{};
    fd = SysSetup(entries, &params);
  }
  if (fd < 0) return -errno;
  fd_ = fd;

  sqRingSize_ = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  cqRingSize_ = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  bool single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cqRingSize_ > sqRingSize_) sqRingSize_ = cqRingSize_;

  sqRing_ = MapRing(fd_, sqRingSize_, IORING_OFF_SQ_RING);
  if (sqRing_ == nullptr) return FailSetup(errno);
  if (single) {
    cqRing_ = sqRing_;
    cqRingSize_ = 0;  // not a mapping of its own: Close unmaps the SQ's only
  } else {
    cqRing_ = MapRing(fd_, cqRingSize_, IORING_OFF_CQ_RING);
    if (cqRing_ == nullptr) return FailSetup(errno);
  }
  sqesSize_ = params.sq_entries * sizeof(io_uring_sqe);
  sqes_ = static_cast<io_uring_sqe*>(MapRing(fd_, sqesSize_, IORING_OFF_SQES));
  if (sqes_ == nullptr) return FailSetup(errno);

  sqEntries_ = params.sq_entries;
  cqEntries_ = params.cq_entries;
  sqHead_ = At<unsigned>(sqRing_, params.sq_off.head);
  sqTail_ = At<unsigned>(sqRing_, params.sq_off.tail);
  sqMask_ = *At<unsigned>(sqRing_, params.sq_off.ring_mask);
  cqHead_ = At<unsigned>(cqRing_, params.cq_off.head);
  cqTail_ = At<unsigned>(cqRing_, params.cq_off.tail);
  cqMask_ = *At<unsigned>(cqRing_, params.cq_off.ring_mask);
  cqes_ = At<io_uring_cqe>(cqRing_, params.cq_off.cqes);
  // cq_off.flags is 0 on kernels before 5.8, which have no CQ flags word.
  cqFlags_ = params.cq_off.flags != 0 ? At<unsigned>(cqRing_, params.cq_off.flags) : nullptr;

  // The SQ array maps ring slots to SQE indices. Slot i always names SQE i,
  // so NextSqe only has to fill the SQE and move the tail.
  unsigned* array = At<unsigned>(sqRing_, params.sq_off.array);
  for (unsigned i = 0; i < sqEntries_; i++) array[i] = i;
  localSqTail_ = *sqTail_;
  return 0;
}

int IoUringRing::FailSetup(int err) {
  Close();
  return -err;
}

io_uring_sqe* IoUringRing::NextSqe() {
  if (fd_ < 0) return nullptr;
  // Acquire: the kernel is done reading the SQEs before the head it published.
  unsigned head = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
  if (localSqTail_ - head >= sqEntries_) return nullptr;
  io_uring_sqe* sqe = &sqes_[localSqTail_ & sqMask_];
  std::memset(sqe, 0, sizeof *sqe);
  localSqTail_++;
  return sqe;
}

unsigned IoUringRing::Unsubmitted() const {
  if (fd_ < 0) return 0;
  return localSqTail_ - __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
}

uint64_t IoUringRing::UnsubmittedUserData(unsigned i) const {
  unsigned head = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
  return sqes_[(head + i) & sqMask_].user_data;
}

void IoUringRing::DropUnsubmitted() {
  if (fd_ < 0) return;
  // The shared tail only moves in Submit, so the kernel has not seen these.
  localSqTail_ = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
}

int IoUringRing::Submit() {
  if (fd_ < 0) return -EBADF;
  unsigned pending = Unsubmitted();
  if (pending == 0) return 0;
  // Release: the SQEs up to the tail are written before the kernel sees it.
  __atomic_store_n(sqTail_, localSqTail_, __ATOMIC_RELEASE);

  bool mute = eventfdRegistered_ && cqFlags_ != nullptr;
  if (mute) __atomic_fetch_or(cqFlags_, IORING_CQ_EVENTFD_DISABLED, __ATOMIC_SEQ_CST);
  unsigned total = 0;
  int result = 0;
  while (pending > 0) {
    int n = SysEnter(fd_, pending, 0, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = -errno;
      break;
    }
    if (n == 0) break;  // the kernel took nothing: report what went in so far
    total += static_cast<unsigned>(n);
    pending = Unsubmitted();
  }
  // Completions posted while muted are in the CQ; the caller reaps them now.
  if (mute) __atomic_fetch_and(cqFlags_, ~IORING_CQ_EVENTFD_DISABLED, __ATOMIC_SEQ_CST);
  return total > 0 || result == 0 ? static_cast<int>(total) : result;
}

int IoUringRing::WaitOne() {
  if (fd_ < 0) return -EBADF;
  for (;;) {
    int n = SysEnter(fd_, 0, 1, IORING_ENTER_GETEVENTS);
    if (n >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

int IoUringRing::RegisterEventfd(int eventfd) {
  if (fd_ < 0) return -EBADF;
  if (SysRegister(fd_, IORING_REGISTER_EVENTFD, &eventfd, 1) < 0) return -errno;
  eventfdRegistered_ = true;
  return 0;
}

void IoUringRing::Close() {
  if (sqes_ != nullptr) ::munmap(sqes_, sqesSize_);
  if (cqRing_ != nullptr && cqRing_ != sqRing_) ::munmap(cqRing_, cqRingSize_);
  if (sqRing_ != nullptr) ::munmap(sqRing_, sqRingSize_);
  sqes_ = nullptr;
  cqRing_ = sqRing_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  eventfdRegistered_ = false;
}

}  // namespace vduse
