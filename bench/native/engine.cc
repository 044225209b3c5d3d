// The closed loop of one queue. Requests live in fixed slots whose
// descriptors are written once; a resubmission rewrites only the header's
// sector, the status byte and one avail ring entry, so the driver costs a few
// nanoseconds per request and the device is what gets measured.
//
// Notification handling follows Linux virtio_ring + virtio_blk: completions
// are reaped with interrupts suppressed (as in virtblk_done), everything
// reaped is resubmitted with one avail.idx publish and one kick decision
// (virtqueue_kick_prepare), and interrupts are re-enabled only right before
// sleeping, with a re-check of used.idx after a full fence
// (virtqueue_enable_cb) so a completion that lands in between is not missed.
#include "engine.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "ring.h"

namespace vbench {

namespace {

constexpr uint32_t kMetaStride = 128;  // per slot: header @0, status @16, indirect table @64
constexpr uint32_t kHeaderBytes = 16;
constexpr uint32_t kStatusOffset = 16;
constexpr uint32_t kTableOffset = 64;
constexpr uint32_t kTypeIn = 0;
constexpr uint32_t kTypeOut = 1;
constexpr uint8_t kStatusUnset = 0xff;  // the device must overwrite it

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

uint64_t ThreadCpuNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// xorshift64*: fast, and good enough to scatter block numbers.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed == 0 ? 0x9e3779b97f4a7c15ull : seed) {}
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

class QueueRunner {
 public:
  QueueRunner(const QueueSetup& q, const JobSpec& job)
      : q_(q), job_(job), mask_(static_cast<uint16_t>(q.size - 1)),
        rng_(job.seed * 0x100000001b3ull + q.index + 1),
        blocks_(job.capacitySectors * 512 / job.bs),
        cursor_(blocks_ * q.index / std::max<uint32_t>(job.queueCount, 1)),
        submitNs_(job.qd, 0), sector_(job.qd, 0), inFlight_(job.qd, false) {
    ring_ = SplitRing::Make(q.size, q.descAddr, q.driverAddr, q.deviceAddr, [this](uint64_t iova) { return At(iova); });
    avail_ = kickOld_ = q.availIdx;
    lastUsed_ = q.lastUsed;
  }

  QueueResult Run(uint64_t startNs) {
    const uint64_t cpu0 = ThreadCpuNs();
    LayOutSlots();
    const uint64_t deadline = startNs + job_.durationNs;
    stopNs_ = deadline;
    DisableInterrupts();
    uint64_t now = MonotonicNs();
    for (uint32_t s = 0; s < job_.qd; s++) Submit(s, now);
    PublishAndKick();
    while (r_.failure.empty()) {
      uint16_t used = LoadAcquire(ring_.usedIdx);
      if (used == lastUsed_) {
        if (inflight_ == 0) break;
        now = MonotonicNs();
        if (!stopping_ && now >= deadline) Stop(now);
        if (stopping_ && now >= deadline + job_.drainNs) break;
        used = WaitForUsed(now, stopping_ ? deadline + job_.drainNs : deadline);
        if (used == lastUsed_) continue;
      }
      now = MonotonicNs();
      if (!stopping_ && now >= deadline) Stop(now);
      Reap(used, now);
      if (avail_ != published_) PublishAndKick();
    }
    r_.elapsedNs = stopNs_ - startNs;
    r_.unfinished = inflight_;
    r_.availIdx = avail_;
    r_.lastUsed = lastUsed_;
    r_.cpuNs = ThreadCpuNs() - cpu0;
    return std::move(r_);
  }

 private:
  void* At(uint64_t iova) const { return q_.map + (iova - q_.regionStart); }
  uint8_t* Meta(uint32_t slot) const {
    return static_cast<uint8_t*>(At(q_.bufferIova + static_cast<uint64_t>(slot) * kMetaStride));
  }
  uint64_t MetaIova(uint32_t slot) const { return q_.bufferIova + static_cast<uint64_t>(slot) * kMetaStride; }
  uint64_t DataIova(uint32_t slot) const {
    return q_.bufferIova + AlignUp(static_cast<uint64_t>(job_.qd) * kMetaStride, 4096) +
           static_cast<uint64_t>(slot) * job_.bs;
  }
  uint16_t Head(uint32_t slot) const { return static_cast<uint16_t>(q_.indirect ? slot : slot * 3); }

  // Slot of used id `id`, or -1 when it is not a head this engine put in flight.
  int64_t SlotOf(uint32_t id) const {
    const uint32_t slot = q_.indirect ? id : id / 3;
    if (slot >= job_.qd || (!q_.indirect && id % 3 != 0) || !inFlight_[slot]) return -1;
    return slot;
  }

  // Descriptors and buffers never change during the job; only sectors do.
  void LayOutSlots() {
    const uint16_t dataFlags = job_.write ? 0 : kDescWrite;
    for (uint32_t s = 0; s < job_.qd; s++) {
      uint8_t* meta = Meta(s);
      std::memset(meta, 0, kMetaStride);
      const uint32_t type = job_.write ? kTypeOut : kTypeIn;
      std::memcpy(meta, &type, sizeof type);  // ioprio stays 0
      uint8_t* data = static_cast<uint8_t*>(At(DataIova(s)));
      // A recognizable pattern per slot, so a test can see that writes landed.
      std::memset(data, job_.write ? static_cast<int>((s + 1) & 0xff) : 0, job_.bs);
      Desc chain[3] = {
          {MetaIova(s), kHeaderBytes, kDescNext, 1},
          {DataIova(s), job_.bs, static_cast<uint16_t>(dataFlags | kDescNext), 2},
          {MetaIova(s) + kStatusOffset, 1, kDescWrite, 0},
      };
      if (q_.indirect) {
        std::memcpy(meta + kTableOffset, chain, sizeof chain);
        ring_.desc[s] = {MetaIova(s) + kTableOffset, sizeof chain, kDescIndirect, 0};
      } else {
        const uint16_t h = Head(s);
        chain[0].next = static_cast<uint16_t>(h + 1);
        chain[1].next = static_cast<uint16_t>(h + 2);
        for (int i = 0; i < 3; i++) ring_.desc[h + i] = chain[i];
      }
    }
  }

  uint64_t NextSector() {
    uint64_t block;
    if (job_.random) {
      block = rng_.Next() % blocks_;
    } else {
      block = cursor_;
      if (++cursor_ == blocks_) cursor_ = 0;
    }
    return block * (job_.bs / 512);
  }

  // Fills the slot's header and puts its head in the next avail entry (not yet published).
  void Submit(uint32_t slot, uint64_t now) {
    uint8_t* meta = Meta(slot);
    const uint64_t sector = NextSector();
    std::memcpy(meta + 8, &sector, sizeof sector);
    meta[kStatusOffset] = kStatusUnset;
    if (job_.write) std::memcpy(At(DataIova(slot)), &sector, sizeof sector);  // stamp: where it was meant to go
    sector_[slot] = sector;
    submitNs_[slot] = now;
    inFlight_[slot] = true;
    inflight_++;
    ring_.availRing[avail_ & mask_] = Head(slot);
    avail_++;
  }

  // One release store for every entry added since the last publish, then the
  // kick decision of virtqueue_kick_prepare_split.
  void PublishAndKick() {
    StoreRelease(ring_.availIdx, avail_);
    published_ = avail_;
    // The device may be re-enabling notifications right now: our avail.idx
    // store must be visible before we read its avail_event / flags.
    FullFence();
    const bool kick = q_.eventIdx ? NeedEvent(LoadRelaxed(ring_.availEvent), avail_, kickOld_)
                                  : (LoadRelaxed(ring_.usedFlags) & kUsedNoNotify) == 0;
    kickOld_ = avail_;
    if (!kick) return;
    const uint64_t one = 1;
    ssize_t n;
    do n = ::write(q_.kickFd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    if (n != sizeof one) r_.failure = std::string("kick eventfd write failed: ") + std::strerror(errno);
    r_.kicks++;
  }

  // Completions are reaped in batches without interrupts; the device skips
  // the eventfd write while we are busy anyway.
  void DisableInterrupts() {
    if (q_.eventIdx) {
      // An event 2^15 ahead is never inside the device's [old, new) window
      // while at most `size` (≤ 32768) chains are outstanding.
      StoreRelease(ring_.usedEvent, static_cast<uint16_t>(lastUsed_ + 0x8000));
    } else {
      availFlags_ |= kAvailNoInterrupt;
      StoreRelease(ring_.availFlags, availFlags_);
    }
  }

  // virtqueue_enable_cb: ask for an interrupt at the next used entry, then
  // re-read used.idx after a full fence. Returns the used.idx seen.
  uint16_t EnableInterrupts() {
    if (q_.eventIdx) {
      StoreRelease(ring_.usedEvent, lastUsed_);
    } else {
      availFlags_ = static_cast<uint16_t>(availFlags_ & ~kAvailNoInterrupt);
      StoreRelease(ring_.availFlags, availFlags_);
    }
    FullFence();
    return LoadAcquire(ring_.usedIdx);
  }

  // Spins up to spinNs, then sleeps on the IRQ eventfd until `until` at most.
  uint16_t WaitForUsed(uint64_t now, uint64_t until) {
    uint16_t used = lastUsed_;
    if (job_.spinNs > 0) {
      const uint64_t spinEnd = std::min(now + job_.spinNs, until);
      for (uint32_t i = 1;; i++) {
        CpuRelax();
        used = LoadAcquire(ring_.usedIdx);
        if (used != lastUsed_) return used;
        if ((i & 63) == 0 && MonotonicNs() >= spinEnd) break;
      }
    }
    used = EnableInterrupts();
    if (used == lastUsed_) {
      // Wake up at least every 10 ms to notice the stop and drain deadlines.
      const uint64_t left = until > now ? until - now : 0;
      const int timeoutMs = static_cast<int>(std::clamp<uint64_t>(left / 1'000'000 + 1, 1, 10));
      pollfd pfd{q_.irqFd, POLLIN, 0};
      r_.sleeps++;
      ::poll(&pfd, 1, timeoutMs);  // EINTR and timeouts just loop
      uint64_t count = 0;
      if (::read(q_.irqFd, &count, sizeof count) == sizeof count) r_.irqs += count;
      used = LoadAcquire(ring_.usedIdx);
    }
    DisableInterrupts();
    return used;
  }

  void Stop(uint64_t now) {
    stopping_ = true;
    stopNs_ = now;
  }

  // Consumes used entries up to `used`; resubmits each slot unless stopping.
  void Reap(uint16_t used, uint64_t now) {
    if (static_cast<uint16_t>(used - lastUsed_) > q_.size) {
      r_.failure = "used.idx moved " + std::to_string(static_cast<uint16_t>(used - lastUsed_)) +
                   " entries, more than the ring holds";
      return;
    }
    const uint32_t wantLen = job_.write ? 1 : job_.bs + 1;
    while (lastUsed_ != used) {
      const UsedElem e = ring_.usedRing[lastUsed_ & mask_];
      const int64_t found = SlotOf(e.id);
      if (found < 0) {
        r_.failure = "device returned id " + std::to_string(e.id) + ", which is not in flight";
        return;
      }
      lastUsed_++;
      const uint32_t slot = static_cast<uint32_t>(found);
      inFlight_[slot] = false;
      inflight_--;
      // The acquire load of used.idx ordered these reads after the device's writes.
      if (Meta(slot)[kStatusOffset] != 0 || e.len != wantLen) r_.errors++;
      if (job_.verify && !job_.write) {
        uint64_t stamp;
        std::memcpy(&stamp, At(DataIova(slot)), sizeof stamp);
        if (stamp != sector_[slot]) r_.verifyErrors++;
      }
      r_.latency.Record(now - submitNs_[slot]);
      if (stopping_) {
        r_.drained++;
      } else {
        r_.ios++;
        Submit(slot, now);
      }
    }
  }

  const QueueSetup& q_;
  const JobSpec& job_;
  const uint16_t mask_;
  SplitRing ring_;
  Rng rng_;
  const uint64_t blocks_;
  uint64_t cursor_;
  std::vector<uint64_t> submitNs_;
  std::vector<uint64_t> sector_;
  std::vector<bool> inFlight_;
  uint32_t inflight_ = 0;
  uint16_t avail_ = 0;
  uint16_t published_ = 0;
  uint16_t kickOld_ = 0;
  uint16_t lastUsed_ = 0;
  uint16_t availFlags_ = 0;
  bool stopping_ = false;
  uint64_t stopNs_ = 0;
  QueueResult r_;
};

bool Inside(const QueueSetup& q, uint64_t iova, uint64_t len) {
  return iova >= q.regionStart && len <= q.regionSize && iova - q.regionStart <= q.regionSize - len;
}

}  // namespace

uint64_t MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t BufferBytesNeeded(uint32_t qd, uint32_t bs) {
  return AlignUp(static_cast<uint64_t>(qd) * kMetaStride, 4096) + static_cast<uint64_t>(qd) * bs;
}

std::string CheckSetup(const QueueSetup& q, const JobSpec& job) {
  if (q.size == 0 || (q.size & (q.size - 1)) != 0) return "queue size must be a power of two";
  if (job.qd == 0) return "qd must be at least 1";
  if (job.qd * (q.indirect ? 1u : 3u) > q.size) {
    return "qd " + std::to_string(job.qd) + " needs " + std::to_string(job.qd * (q.indirect ? 1 : 3)) +
           " descriptors; the ring has " + std::to_string(q.size);
  }
  if (job.bs == 0 || job.bs % 512 != 0) return "bs must be a positive multiple of 512";
  if (job.capacitySectors * 512 / job.bs == 0) return "capacity is smaller than one block";
  if (job.durationNs == 0) return "seconds must be positive";
  if (q.kickFd < 0 || q.irqFd < 0) return "the queue has no kick or IRQ eventfd";
  if (q.bufferIova % 4096 != 0) return "the buffer area must be 4096-aligned";
  const uint64_t need = BufferBytesNeeded(job.qd, job.bs);
  if (need > q.bufferBytes) {
    return "the buffer area holds " + std::to_string(q.bufferBytes) + " bytes; qd " + std::to_string(job.qd) +
           " x bs " + std::to_string(job.bs) + " needs " + std::to_string(need);
  }
  if (!Inside(q, q.bufferIova, q.bufferBytes)) return "the buffer area is outside the region";
  if (!Inside(q, q.descAddr, 16ull * q.size) || !Inside(q, q.driverAddr, DriverAreaBytes(q.size)) ||
      !Inside(q, q.deviceAddr, DeviceAreaBytes(q.size))) {
    return "the ring is outside the region";
  }
  if (q.descAddr % 16 != 0 || q.driverAddr % 2 != 0 || q.deviceAddr % 4 != 0) return "the ring is misaligned";
  return "";
}

QueueResult RunQueue(const QueueSetup& q, const JobSpec& job, uint64_t startNs) {
  return QueueRunner(q, job).Run(startNs);
}

}  // namespace vbench
