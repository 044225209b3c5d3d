// The driver's view of one split virtqueue (VIRTIO 1.2 §2.7) in mapped guest
// memory, for the benchmark engine. Only what a block driver needs: static
// descriptors, avail ring entries, used elements and the four u16 fields the
// device also touches.
//
// Memory ordering: the device side is another thread (a Node worker using
// Atomics on the same pages), so every u16 field both sides touch goes
// through the __atomic builtins: avail.idx is release-stored after the ring
// entries it publishes, used.idx is acquire-loaded before the used elements
// it covers are read, and a seq_cst fence separates "I wrote my index/event"
// from "I read the other side's index/event" (Linux virtio_mb), so neither a
// kick nor an interrupt can be lost between the two.
#pragma once

#include <cstdint>

namespace vbench {

constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
constexpr uint16_t kAvailNoInterrupt = 1;
constexpr uint16_t kUsedNoNotify = 1;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Desc) == 16, "virtq_desc is 16 bytes");

struct UsedElem {
  uint32_t id;
  uint32_t len;
};

inline uint16_t LoadAcquire(const uint16_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline uint16_t LoadRelaxed(const uint16_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
inline void StoreRelease(uint16_t* p, uint16_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
inline void FullFence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// vring_need_event: did the other side ask for a notification at an index in [old, new)?
inline bool NeedEvent(uint16_t event, uint16_t now, uint16_t old) {
  return static_cast<uint16_t>(now - event - 1) < static_cast<uint16_t>(now - old);
}

// Pointers into the mapping; `size` is a power of two.
struct SplitRing {
  uint16_t size = 0;
  Desc* desc = nullptr;
  uint16_t* availFlags = nullptr;
  uint16_t* availIdx = nullptr;
  uint16_t* availRing = nullptr;
  uint16_t* usedEvent = nullptr;  // after avail ring[size]
  uint16_t* usedFlags = nullptr;
  uint16_t* usedIdx = nullptr;
  UsedElem* usedRing = nullptr;
  uint16_t* availEvent = nullptr;  // after used ring[size]

  // `at(iova)` maps an IOVA to a pointer (the caller checked the ranges).
  template <typename At>
  static SplitRing Make(uint16_t size, uint64_t descAddr, uint64_t driverAddr, uint64_t deviceAddr, At at) {
    SplitRing r;
    r.size = size;
    r.desc = static_cast<Desc*>(at(descAddr));
    r.availFlags = static_cast<uint16_t*>(at(driverAddr));
    r.availIdx = r.availFlags + 1;
    r.availRing = r.availFlags + 2;
    r.usedEvent = r.availRing + size;
    r.usedFlags = static_cast<uint16_t*>(at(deviceAddr));
    r.usedIdx = r.usedFlags + 1;
    r.usedRing = reinterpret_cast<UsedElem*>(r.usedFlags + 2);
    r.availEvent = reinterpret_cast<uint16_t*>(r.usedRing + size);
    return r;
  }
};

// Bytes of the driver area (flags, idx, ring, used_event) and device area (flags, idx, ring, avail_event).
inline uint64_t DriverAreaBytes(uint16_t size) { return 6 + 2ull * size; }
inline uint64_t DeviceAreaBytes(uint16_t size) { return 6 + 8ull * size; }

}  // namespace vbench
