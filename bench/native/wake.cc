// What one wake-up costs: a driver thread and a device thread bounce a token
// over two eventfds (the driver writes `ping` and sleeps in poll(2) on
// `pong`; the device reads `ping` and writes `pong`), as a kick and an IRQ
// do. The driver is always this C thread; the device is either the C thread
// below (the floor: what a C server such as qemu-storage-daemon pays) or a
// Node thread watching `ping` on its event loop (bench/wake-cost.ts), so the
// difference is the runtime's share of a wake-up.
//
// wakeRun(pingFd, pongFd, seconds, cDevice) → Promise<{ roundTrips, seconds, deviceCpuNs }>
// (deviceCpuNs: the C device thread's CPU time; -1 when the device is not ours).
// It runs on a libuv pool thread (AsyncWorker), never on the JS thread.
#include <napi.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

namespace {

uint64_t ClockNs(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

// Waits for `fd` to be readable and consumes its counter; false on an error.
bool Take(int fd) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) return false;
    uint64_t v = 0;
    if (read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) return true;
    if (errno != EAGAIN && errno != EINTR) return false;
  }
}

bool Give(int fd) {
  const uint64_t one = 1;
  return write(fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one);
}

class WakeRun : public Napi::AsyncWorker {
 public:
  WakeRun(Napi::Env env, int ping, int pong, double seconds, bool cDevice)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        ping_(ping), pong_(pong), seconds_(seconds), cDevice_(cDevice) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::thread device;
    if (cDevice_) {
      device = std::thread([this] {
        const uint64_t cpu0 = ClockNs(CLOCK_THREAD_CPUTIME_ID);
        while (Take(ping_) && !stop_.load(std::memory_order_acquire) && Give(pong_)) {
        }
        deviceCpuNs_ = static_cast<double>(ClockNs(CLOCK_THREAD_CPUTIME_ID) - cpu0);
      });
    }
    const uint64_t start = ClockNs(CLOCK_MONOTONIC);
    const uint64_t end = start + static_cast<uint64_t>(seconds_ * 1e9);
    bool ok = true;
    uint64_t now = start;
    while (ok && now < end) {
      ok = Give(ping_) && Take(pong_);
      if (ok) roundTrips_++;
      now = ClockNs(CLOCK_MONOTONIC);
    }
    elapsedNs_ = now - start;
    if (device.joinable()) {
      stop_.store(true, std::memory_order_release);
      Give(ping_);
      device.join();
    }
    if (!ok) SetError(std::string("eventfd ping-pong failed: ") + strerror(errno));
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("roundTrips", static_cast<double>(roundTrips_));
    out.Set("seconds", static_cast<double>(elapsedNs_) / 1e9);
    out.Set("deviceCpuNs", cDevice_ ? deviceCpuNs_ : -1.0);
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const int ping_;
  const int pong_;
  const double seconds_;
  const bool cDevice_;
  std::atomic<bool> stop_{false};
  uint64_t roundTrips_ = 0;
  uint64_t elapsedNs_ = 0;
  double deviceCpuNs_ = 0;
};

Napi::Value WakeRunFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsBoolean()) {
    throw Napi::TypeError::New(env, "wakeRun(pingFd, pongFd, seconds, cDevice)");
  }
  const double seconds = info[2].As<Napi::Number>().DoubleValue();
  if (!(seconds > 0 && seconds <= 3600)) throw Napi::RangeError::New(env, "seconds must be in (0, 3600]");
  auto* worker = new WakeRun(env, info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(),
                             seconds, info[3].As<Napi::Boolean>().Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

namespace vbench {
void RegisterWake(Napi::Env env, Napi::Object exports) {
  exports.Set("wakeRun", Napi::Function::New(env, WakeRunFn, "wakeRun"));
}
}  // namespace vbench
