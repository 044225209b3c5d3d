// Node-API glue of the benchmark engine (build/Release/vduse_bench.node).
//
// runJob(queues, job) → Promise<result>. Arguments are checked and every
// queue's region is mapped on the JS thread; then a coordinator thread starts
// one std::thread per queue and joins them, and a thread-safe function
// settles the promise back on the JS thread. The JS main thread never blocks
// and no libuv pool thread is held for the job's duration (the product's
// workers may need the pool).
#include <napi.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"

namespace vbench {
// bench/native/wake.cc
void RegisterWake(Napi::Env env, Napi::Object exports);
}  // namespace vbench

namespace {

using vbench::JobSpec;
using vbench::QueueResult;
using vbench::QueueSetup;

struct Mapping {
  void* addr = MAP_FAILED;
  size_t len = 0;
};

struct Job {
  JobSpec spec;
  std::vector<QueueSetup> queues;
  std::vector<Mapping> maps;
  std::vector<QueueResult> results;
  std::thread coordinator;
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction done;

  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  ~Job() {
    for (auto& m : maps) {
      if (m.addr != MAP_FAILED) ::munmap(m.addr, m.len);
    }
  }
};

double Number(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A non-negative integer that fits in a double exactly (IOVAs, sizes, counts).
uint64_t Unsigned(const Napi::Object& o, const char* key, uint64_t max = (1ull << 53)) {
  const double d = Number(o, key);
  if (!(d >= 0) || d > static_cast<double>(max) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer in [0, " + std::to_string(max) + "]");
  }
  return static_cast<uint64_t>(d);
}

bool Bool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Object ObjectArg(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

JobSpec ParseJob(const Napi::Object& j, uint32_t queueCount) {
  JobSpec s;
  Napi::Value op = j.Get("op");
  const std::string opName = op.IsString() ? op.As<Napi::String>().Utf8Value() : "";
  if (opName != "read" && opName != "write") throw Napi::TypeError::New(j.Env(), "op must be 'read' or 'write'");
  s.write = opName == "write";
  s.bs = static_cast<uint32_t>(Unsigned(j, "bs", 1u << 30));
  s.qd = static_cast<uint32_t>(Unsigned(j, "qd", 32768));
  s.random = Bool(j, "random", true);
  const double seconds = Number(j, "seconds");
  if (!(seconds > 0) || seconds > 3600) throw Napi::RangeError::New(j.Env(), "seconds must be in (0, 3600]");
  s.durationNs = static_cast<uint64_t>(seconds * 1e9);
  if (!j.Get("drainSeconds").IsUndefined()) s.drainNs = static_cast<uint64_t>(Unsigned(j, "drainSeconds", 600) * 1e9);
  s.capacitySectors = Unsigned(j, "capacitySectors");
  s.seed = j.Get("seed").IsUndefined() ? 1 : Unsigned(j, "seed");
  s.verify = Bool(j, "verify", false);
  if (!j.Get("spinUs").IsUndefined()) s.spinNs = Unsigned(j, "spinUs", 1'000'000) * 1000;
  s.queueCount = queueCount;
  return s;
}

QueueSetup ParseQueue(const Napi::Object& o) {
  QueueSetup q;
  q.index = static_cast<uint32_t>(Unsigned(o, "queue", 0xffff));
  q.size = static_cast<uint16_t>(Unsigned(o, "size", 32768));
  q.descAddr = Unsigned(o, "descAddr");
  q.driverAddr = Unsigned(o, "driverAddr");
  q.deviceAddr = Unsigned(o, "deviceAddr");
  q.eventIdx = Bool(o, "eventIdx", false);
  q.indirect = Bool(o, "indirect", false);
  q.kickFd = static_cast<int>(Unsigned(o, "kickFd", 0x7fffffff));
  q.irqFd = static_cast<int>(Unsigned(o, "irqFd", 0x7fffffff));
  q.bufferIova = Unsigned(o, "bufferIova");
  q.bufferBytes = Unsigned(o, "bufferBytes");
  q.availIdx = static_cast<uint16_t>(Unsigned(o, "availIdx", 0xffff));
  q.lastUsed = static_cast<uint16_t>(Unsigned(o, "lastUsedIdx", 0xffff));
  Napi::Object region = ObjectArg(o.Env(), o.Get("region"), "region");
  q.regionStart = Unsigned(region, "start");
  q.regionSize = Unsigned(region, "size");
  return q;
}

// Our own mapping of the region's memfd (file offset = IOVA), so the engine
// does not depend on the lifetime of the driver's ArrayBuffer.
Mapping MapRegion(Napi::Env env, int fd, const QueueSetup& q) {
  Mapping m;
  m.len = q.regionSize;
  m.addr = ::mmap(nullptr, m.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(q.regionStart));
  if (m.addr == MAP_FAILED) {
    throw Napi::Error::New(env, std::string("mmap of the guest region failed: ") + std::strerror(errno));
  }
  return m;
}

Napi::Object LatencyObject(Napi::Env env, const vbench::Histogram& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("mean", h.Mean());
  o.Set("p50", h.Quantile(0.50));
  o.Set("p99", h.Quantile(0.99));
  o.Set("p999", h.Quantile(0.999));
  o.Set("max", h.Quantile(1.0));
  return o;
}

// Builds the result on the JS thread; rejects when a queue failed.
void Settle(Napi::Env env, Job* job) {
  Napi::HandleScope scope(env);
  vbench::Histogram all;
  uint64_t ios = 0, drained = 0, errors = 0, verifyErrors = 0, elapsed = 0, cpu = 0;
  uint32_t unfinished = 0;
  std::string failure;
  Napi::Array perQueue = Napi::Array::New(env, job->results.size());
  for (size_t i = 0; i < job->results.size(); i++) {
    const QueueResult& r = job->results[i];
    all.Merge(r.latency);
    ios += r.ios;
    drained += r.drained;
    errors += r.errors;
    verifyErrors += r.verifyErrors;
    elapsed = std::max(elapsed, r.elapsedNs);
    cpu += r.cpuNs;
    unfinished += r.unfinished;
    if (failure.empty() && !r.failure.empty()) failure = "queue " + std::to_string(job->queues[i].index) + ": " + r.failure;
    Napi::Object q = Napi::Object::New(env);
    q.Set("queue", static_cast<double>(job->queues[i].index));
    q.Set("ios", static_cast<double>(r.ios));
    q.Set("kicks", static_cast<double>(r.kicks));
    q.Set("sleeps", static_cast<double>(r.sleeps));
    q.Set("irqs", static_cast<double>(r.irqs));
    q.Set("cpuSeconds", static_cast<double>(r.cpuNs) / 1e9);
    q.Set("unfinished", static_cast<double>(r.unfinished));
    q.Set("availIdx", static_cast<double>(r.availIdx));
    q.Set("lastUsedIdx", static_cast<double>(r.lastUsed));
    perQueue.Set(static_cast<uint32_t>(i), q);
  }
  if (!failure.empty()) {
    job->deferred.Reject(Napi::Error::New(env, failure).Value());
    return;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ios", static_cast<double>(ios));
  out.Set("seconds", static_cast<double>(elapsed) / 1e9);
  out.Set("latencyNs", LatencyObject(env, all));
  out.Set("errors", static_cast<double>(errors));
  out.Set("verifyErrors", static_cast<double>(verifyErrors));
  out.Set("drained", static_cast<double>(drained));
  out.Set("unfinished", static_cast<double>(unfinished));
  out.Set("cpuSeconds", static_cast<double>(cpu) / 1e9);
  out.Set("queues", perQueue);
  job->deferred.Resolve(out);
}

Napi::Value RunJob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "queues must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  if (list.Length() == 0) throw Napi::RangeError::New(env, "no queues");
  Napi::Object jobArg = ObjectArg(env, info[1], "job");

  auto job = std::make_unique<Job>(env);
  job->spec = ParseJob(jobArg, list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Object o = ObjectArg(env, list.Get(i), "queue");
    QueueSetup q = ParseQueue(o);
    const int fd = static_cast<int>(Unsigned(ObjectArg(env, o.Get("region"), "region"), "fd", 0x7fffffff));
    job->maps.push_back(MapRegion(env, fd, q));
    q.map = static_cast<uint8_t*>(job->maps.back().addr);
    const std::string why = vbench::CheckSetup(q, job->spec);
    if (!why.empty()) throw Napi::RangeError::New(env, "queue " + std::to_string(q.index) + ": " + why);
    job->queues.push_back(q);
  }
  job->results.resize(job->queues.size());

  Napi::Promise promise = job->deferred.Promise();
  Job* raw = job.release();
  // The finalizer runs on the JS thread once the coordinator released the
  // function: only then are the threads done with the job.
  raw->done = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "vduse-bench-job", 0, 1,
      [](Napi::Env, Job* j) {
        if (j->coordinator.joinable()) j->coordinator.join();
        delete j;
      },
      raw);
  raw->coordinator = std::thread([raw] {
    const uint64_t start = vbench::MonotonicNs();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < raw->queues.size(); i++) {
      threads.emplace_back([raw, i, start] { raw->results[i] = vbench::RunQueue(raw->queues[i], raw->spec, start); });
    }
    for (auto& t : threads) t.join();
    raw->done.BlockingCall(raw, [](Napi::Env env, Napi::Function, Job* j) {
      if (env != nullptr) Settle(env, j);
    });
    raw->done.Release();
  });
  return promise;
}

Napi::Value BufferBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("qd", info[0]);
  o.Set("bs", info[1]);
  const uint64_t qd = Unsigned(o, "qd", 32768);
  const uint64_t bs = Unsigned(o, "bs", 1u << 30);
  return Napi::Number::New(env, static_cast<double>(vbench::BufferBytesNeeded(static_cast<uint32_t>(qd),
                                                                              static_cast<uint32_t>(bs))));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("runJob", Napi::Function::New(env, RunJob, "runJob"));
  exports.Set("bufferBytes", Napi::Function::New(env, BufferBytes, "bufferBytes"));
  vbench::RegisterWake(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vduse_bench, Init)
