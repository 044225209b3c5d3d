// mmap into an external ArrayBuffer: JS reads and writes the mapping with no
// copy. The mapping is released exactly once, by whichever comes first:
// munmap() from JS, or the ArrayBuffer's finalizer.
#include <sys/mman.h>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace vduse {

namespace {

// Finalize hint of every buffer from Mmap, and (through napi_wrap) what
// Munmap finds. Freed by the finalizer only.
struct Mapping {
  void* addr;
  size_t length;
  bool mapped;
};

// Marks ArrayBuffers made here, so Munmap trusts the pointer it unwraps.
constexpr napi_type_tag kMappingTag = {0x7664757365626c6bULL, 0x6d6d61702d746167ULL};

void Unmap(Mapping* mapping) {
  if (mapping->mapped) {
    ::munmap(mapping->addr, mapping->length);
    mapping->mapped = false;
  }
}

void Finalize(Napi::Env, void*, Mapping* mapping) {
  Unmap(mapping);
  delete mapping;
}

// Node before 22 builds external ArrayBuffers as Buffers, limited to 4 GiB,
// and past that limit it frees its own bookkeeping twice and aborts the
// process. So refuse such lengths before mapping anything.
void CheckExternalLimit(Napi::Env env, size_t size) {
  const napi_node_version* version = nullptr;
  if (napi_get_node_version(env, &version) != napi_ok || version->major >= 22) return;
  constexpr size_t kLimit = size_t{1} << 32;
  if (size > kLimit) {
    throw Napi::RangeError::New(env, "mmap: length over 4 GiB, the largest external ArrayBuffer before Node 22");
  }
}

Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  off_t offset = Int64Arg(info, 1, "offset");
  int64_t length = Int64Arg(info, 2, "length");
  int prot = Int32Arg(info, 3, "prot");
  int flags = Int32Arg(info, 4, "flags");
  // The kernel rejects 0 too, but a negative length would wrap to a huge size_t.
  if (length <= 0) ThrowErrno(env, "mmap", EINVAL);

  auto size = static_cast<size_t>(length);
  CheckExternalLimit(env, size);
  void* addr = ::mmap(nullptr, size, prot, flags, fd, offset);
  if (addr == MAP_FAILED) ThrowErrno(env, "mmap");

  auto* mapping = new Mapping{addr, size, true};
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(env, addr, size, Finalize, mapping);
  } catch (const Napi::Error&) {
    // Left: refusals that come before Node takes the finalizer (such as
    // "external buffers not allowed"), so the mapping is still ours.
    Unmap(mapping);
    delete mapping;
    throw;
  }
  napi_type_tag_object(env, buffer, &kMappingTag);
  napi_wrap(env, buffer, mapping, nullptr, nullptr, nullptr);
  return buffer;
}

// Argument `index` as an ArrayBuffer made by Mmap (tagged), or a TypeError.
Napi::ArrayBuffer MappingArg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  bool tagged = false;
  if (info[index].IsArrayBuffer()) napi_check_object_type_tag(env, info[index], &kMappingTag, &tagged);
  if (!tagged) ThrowTypeError(env, "buf", "an ArrayBuffer returned by mmap");
  return info[index].As<Napi::ArrayBuffer>();
}

void Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buffer = MappingArg(info, 0);
  // Detached: already unmapped here, or transferred away, in which case the
  // Mapping may belong to (or have been freed by) someone else. Not ours.
  if (buffer.IsDetached()) return;

  // Not detached, so the backing store and its Mapping are alive. Remove the
  // wrap before detaching: once detached, the finalizer may free the Mapping.
  void* data = nullptr;
  if (napi_remove_wrap(env, buffer, &data) != napi_ok || data == nullptr) return;
  Unmap(static_cast<Mapping*>(data));
  buffer.Detach();
}

// madvise(2) over the whole of a buffer from Mmap that is still mapped.
void Madvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buffer = MappingArg(info, 0);
  int advice = Int32Arg(info, 1, "advice");
  // Not detached, so the backing store and its Mapping (the wrap) are alive.
  void* data = nullptr;
  if (buffer.IsDetached() || napi_unwrap(env, buffer, &data) != napi_ok || data == nullptr) {
    ThrowTypeError(env, "buf", "a mapped ArrayBuffer returned by mmap");
  }
  auto* mapping = static_cast<Mapping*>(data);
  if (::madvise(mapping->addr, mapping->length, advice) != 0) ThrowErrno(env, "madvise");
}

}  // namespace

void RegisterMmap(Napi::Env env, Napi::Object exports) {
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("madvise", Napi::Function::New(env, Madvise, "madvise"));
}

}  // namespace vduse
