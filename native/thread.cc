// The calling thread's CPU affinity, kernel tid and name. Each applies to one
// thread only (the tid, not the process), so a worker pinning itself leaves
// the main thread and the other workers alone.
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vduse {

namespace {

pid_t CurrentTid() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}

void SetAffinity(const Napi::CallbackInfo& info) {
  std::vector<int32_t> cpus = Int32ArrayArg(info, 0, "cpus");
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int32_t cpu : cpus) {
    // CPU_SET past the set is undefined behaviour; the kernel's answer to a
    // CPU it does not have is EINVAL, so give the same.
    if (cpu < 0 || cpu >= CPU_SETSIZE) ThrowErrno(info.Env(), "sched_setaffinity", EINVAL);
    CPU_SET(cpu, &set);
  }
  if (::sched_setaffinity(CurrentTid(), sizeof set, &set) < 0) {
    ThrowErrno(info.Env(), "sched_setaffinity");
  }
}

Napi::Value GetAffinity(const Napi::CallbackInfo& info) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(CurrentTid(), sizeof set, &set) < 0) {
    ThrowErrno(info.Env(), "sched_getaffinity");
  }
  Napi::Array cpus = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &set)) cpus.Set(n++, cpu);
  }
  return cpus;
}

Napi::Value Gettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), CurrentTid());
}

void SetThreadName(const Napi::CallbackInfo& info) {
  // The kernel keeps the first 15 bytes (TASK_COMM_LEN - 1) and ends them with NUL.
  std::string name = StringArg(info, 0, "name");
  if (::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0) < 0) ThrowErrno(info.Env(), "prctl");
}

}  // namespace

void RegisterThread(Napi::Env env, Napi::Object exports) {
  exports.Set("setAffinity", Napi::Function::New(env, SetAffinity, "setAffinity"));
  exports.Set("getAffinity", Napi::Function::New(env, GetAffinity, "getAffinity"));
  exports.Set("gettid", Napi::Function::New(env, Gettid, "gettid"));
  exports.Set("setThreadName", Napi::Function::New(env, SetThreadName, "setThreadName"));
}

}  // namespace vduse
