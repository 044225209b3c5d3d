// The per-queue benchmark loop: a virtio-blk driver reduced to what a
// closed-loop fio job does (keep qd requests in flight, resubmit on
// completion). Plain C++, no Node-API: one call runs one queue on the
// calling thread.
#pragma once

#include <cstdint>
#include <string>

#include "histogram.h"

namespace vbench {

// One handed-off queue, with its guest memory already mapped.
struct QueueSetup {
  uint32_t index = 0;
  // The mapping of the region [regionStart, regionStart + regionSize) in IOVA space.
  uint8_t* map = nullptr;
  uint64_t regionStart = 0;
  uint64_t regionSize = 0;
  uint16_t size = 0;
  uint64_t descAddr = 0;
  uint64_t driverAddr = 0;
  uint64_t deviceAddr = 0;
  bool eventIdx = false;
  bool indirect = false;
  int kickFd = -1;
  int irqFd = -1;
  uint64_t bufferIova = 0;
  uint64_t bufferBytes = 0;
  // Ring position when the job starts (nothing in flight).
  uint16_t availIdx = 0;
  uint16_t lastUsed = 0;
};

struct JobSpec {
  bool write = false;
  uint32_t bs = 4096;
  uint32_t qd = 1;  // per queue
  bool random = true;
  uint64_t durationNs = 0;
  uint64_t drainNs = 2'000'000'000;
  uint64_t capacitySectors = 0;
  uint64_t seed = 1;
  // Reads: check that each block starts with its own sector number (as a
  // sequential write job of this engine leaves it).
  bool verify = false;
  // Busy-poll used.idx this long before sleeping on the IRQ eventfd.
  uint64_t spinNs = 0;
  uint32_t queueCount = 1;
};

struct QueueResult {
  uint64_t ios = 0;           // completed before the stop time
  uint64_t drained = 0;       // completed after it
  uint64_t errors = 0;        // status byte not 0, or a wrong used length
  uint64_t verifyErrors = 0;  // read data not what `verify` expects
  uint64_t kicks = 0;         // eventfd writes to the device
  uint64_t sleeps = 0;        // poll(2) calls on the IRQ eventfd
  uint64_t irqs = 0;          // interrupts counted by the eventfd
  uint64_t elapsedNs = 0;     // start to stop time
  uint64_t cpuNs = 0;         // this thread's CPU time
  uint32_t unfinished = 0;    // still in flight when the drain gave up
  uint16_t availIdx = 0;      // ring position at the end
  uint16_t lastUsed = 0;
  std::string failure;        // the device broke the ring protocol; results are void
  Histogram latency;
};

// Guest buffer bytes a queue needs for `qd` requests of `bs` bytes.
uint64_t BufferBytesNeeded(uint32_t qd, uint32_t bs);

// Why `q` cannot run `job` (empty when it can). Checked before any thread starts.
std::string CheckSetup(const QueueSetup& q, const JobSpec& job);

// Runs the job on queue `q` from `startNs` (CLOCK_MONOTONIC) until
// startNs + durationNs, then drains.
QueueResult RunQueue(const QueueSetup& q, const JobSpec& job, uint64_t startNs);

uint64_t MonotonicNs();

}  // namespace vbench
