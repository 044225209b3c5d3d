// watch(fd, events, cb): a uv_poll_t on the calling thread's event loop,
// wrapped in a small JS object with close/ref/unref.
//
// Lifetimes: the uv_poll_t lives in a PollHandle apart from the JS wrapper,
// freed by its uv_close callback, because libuv touches it after the wrapper
// may be gone. While open, the wrapper holds a strong reference to itself
// (like Node's own handles), so dropping the returned object does not stop
// the watcher.
//
// Environment teardown (worker exit or terminate, process exit): an async
// cleanup hook closes a watcher still open, and every PollHandle keeps that
// hook registered until its close callback has run. Node waits for async
// hooks before it unloads the addon from a worker; without that, libuv
// would call a close callback whose code is no longer mapped, and a handle
// never closed would make the worker's uv_loop_close abort.
#include <uv.h>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vduse {

namespace {

struct PollHandle {
  uv_poll_t poll;  // first member: the uv_handle_t* of callbacks is this struct
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
};

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap::DefineClass(env, "FdWatcher",
                                   {InstanceMethod<&Watcher::Close>("close"),
                                    InstanceMethod<&Watcher::RefHandle>("ref"),
                                    InstanceMethod<&Watcher::UnrefHandle>("unref")});
  }

  explicit Watcher(const Napi::CallbackInfo& info) : ObjectWrap(info) {
    Napi::Env env = info.Env();
    int fd = Int32Arg(info, 0, "fd");
    int events = Int32Arg(info, 1, "events");
    if (!info[2].IsFunction()) ThrowTypeError(env, "cb", "a function");

    uv_loop_t* loop = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));

    auto* handle = new PollHandle;
    if (int err = uv_poll_init(loop, &handle->poll, fd); err < 0) {
      delete handle;  // never registered with the loop
      ThrowErrno(env, "uv_poll_init", -err);
    }
    handle->poll.data = this;
    if (int err = uv_poll_start(&handle->poll, events, OnPoll); err < 0) {
      uv_close(AsUvHandle(handle), OnClosed);
      ThrowErrno(env, "uv_poll_start", -err);
    }
    napi_add_async_cleanup_hook(env, OnEnvCleanup, handle, &handle->cleanupHook);

    handle_ = handle;
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
  }

  // Reached only after Stop (the self reference keeps an open watcher alive),
  // except if the environment tore down without running the cleanup hook.
  ~Watcher() override { Stop(); }

 private:
  void Close(const Napi::CallbackInfo&) { Stop(); }

  void RefHandle(const Napi::CallbackInfo&) {
    if (handle_ != nullptr) uv_ref(AsUvHandle(handle_));
  }

  void UnrefHandle(const Napi::CallbackInfo&) {
    if (handle_ != nullptr) uv_unref(AsUvHandle(handle_));
  }

  // Idempotent. After it, no callback reaches JS and nothing keeps the loop
  // or the wrapper alive; the PollHandle goes once libuv is done with it.
  void Stop() {
    if (handle_ == nullptr) return;
    uv_poll_stop(&handle_->poll);
    handle_->poll.data = nullptr;
    uv_close(AsUvHandle(handle_), OnClosed);
    handle_ = nullptr;
    callback_.Reset();
    self_.Reset();
  }

  static uv_handle_t* AsUvHandle(PollHandle* handle) { return reinterpret_cast<uv_handle_t*>(&handle->poll); }

  static void OnClosed(uv_handle_t* uvHandle) {
    auto* handle = reinterpret_cast<PollHandle*>(uvHandle);
    // Last use of the addon's code for this handle: now teardown may go on.
    if (handle->cleanupHook != nullptr) napi_remove_async_cleanup_hook(handle->cleanupHook);
    delete handle;
  }

  // Environment teardown. A watcher still open is closed; one already closing
  // finishes in OnClosed, which is what Node waits for.
  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    auto* handle = static_cast<PollHandle*>(arg);
    if (auto* self = static_cast<Watcher*>(handle->poll.data)) self->Stop();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Watcher*>(handle->data);
    if (self == nullptr) return;
    napi_env env = self->Env();
    Napi::HandleScope scope(env);

    napi_value argv[2];
    try {
      // libuv statuses are negative errnos on Linux.
      argv[0] = status < 0 ? ErrnoError(env, "uv_poll", -status).Value() : Napi::Env(env).Null();
      argv[1] = Napi::Number::New(env, events);
    } catch (const Napi::Error&) {
      return;  // the environment is shutting down and refuses new properties
    }

    // Raw napi_make_callback rather than node-addon-api's, which turns a
    // refusal to run JS (worker being terminated) into a fatal error. Like
    // Node's own callbacks it runs microtasks and nextTicks afterwards.
    napi_value global = nullptr;
    napi_get_global(env, &global);
    napi_value result = nullptr;
    napi_status called = napi_make_callback(env, nullptr, global, self->callback_.Value(), 2, argv, &result);
    if (called != napi_pending_exception) return;

    // A throwing callback is an uncaught exception of this thread (the
    // process's, or the Worker's 'error'), as for Node's own callbacks. With
    // nothing pending, the env refused to run JS: it is shutting down, and
    // napi_fatal_exception is then a no-op too.
    napi_value exception = nullptr;
    if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
  }

  PollHandle* handle_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
};

// Per environment: the FdWatcher class, kept in the env's instance data
// rather than a static (a static would be shared across worker threads).
struct AddonData {
  Napi::FunctionReference watcherClass;
};

Napi::Value Watch(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  return data->watcherClass.New({info[0], info[1], info[2]});
}

}  // namespace

void RegisterWatch(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData{Napi::Persistent(Watcher::DefineClass(env))});
  exports.Set("watch", Napi::Function::New(env, Watch, "watch"));
}

}  // namespace vduse
