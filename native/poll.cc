// Blocking poll(2) for worker threads that wait on several fds at once (kick
// eventfd and control eventfd). Never call it with a long timeout on the main
// thread: it blocks the event loop.
#include <poll.h>
#include <time.h>

#include <algorithm>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vduse {

namespace {

int64_t NowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int32_t> fds = Int32ArrayArg(info, 0, "fds");
  std::vector<int32_t> events = Int32ArrayArg(info, 1, "events");
  int timeout = Int32Arg(info, 2, "timeoutMs");
  if (fds.size() != events.size()) {
    throw Napi::RangeError::New(env, "fds and events must have the same length");
  }

  std::vector<pollfd> pfds(fds.size());
  for (size_t i = 0; i < fds.size(); i++) {
    pfds[i] = {fds[i], static_cast<short>(events[i]), 0};
  }

  // On EINTR, wait again for what is left of the timeout, not all of it.
  const int64_t deadline = timeout < 0 ? -1 : NowMs() + timeout;
  int ready;
  while ((ready = ::poll(pfds.data(), pfds.size(), timeout)) < 0 && errno == EINTR) {
    if (deadline >= 0) timeout = static_cast<int>(std::max<int64_t>(0, deadline - NowMs()));
  }
  if (ready < 0) ThrowErrno(env, "poll");

  Napi::Array revents = Napi::Array::New(env, pfds.size());
  for (uint32_t i = 0; i < pfds.size(); i++) revents.Set(i, pfds[i].revents);
  return revents;
}

}  // namespace

void RegisterPoll(Napi::Env env, Napi::Object exports) {
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
}

}  // namespace vduse
