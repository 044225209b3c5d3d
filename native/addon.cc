// Module entry. Node-API modules are context-aware: Init runs once per
// environment (main thread and every worker), and nothing here is static, so
// each environment gets independent functions and state.
#include "addon.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vduse::RegisterFdIo(env, exports);
  vduse::RegisterMemoryFds(env, exports);
  vduse::RegisterMmap(env, exports);
  vduse::RegisterThread(env, exports);
  vduse::RegisterWatch(env, exports);
  vduse::RegisterPoll(env, exports);
  vduse::RegisterNetlink(env, exports);
  vduse::RegisterIoUring(env, exports);
  exports.Set("constants", vduse::MakeConstants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(vduse_native, Init)
